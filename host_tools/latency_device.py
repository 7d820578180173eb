"""The device's real-time audio path (AUDIO_* commands, firmware/hal/include/hal_audio.h).

    status = audio_status(client)                  # what the codec is, counters of the last run
    out, status = run_tape(client, pcm)            # virtual codec: play pcm, record the output

On the virtual codec (QEMU) the input tape is loaded over the link, a hop-rate timer
interrupt plays it through the same per-hop pipeline that PROCESS uses, and the output tape
is read back; the output lags the input by `status.delay_samples(info)`: the pipeline's own
delay (n_fft - hop) plus the path's capture and playback buffers (2 hops).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from hushkit import framing, payloads
from hushkit import protocol as p
from hushkit.client import DeviceClient, DeviceError, DeviceInfo

LOAD_CHUNK_SAMPLES = (framing.MAX_PAYLOAD - payloads.AUDIO_LOAD_REQUEST.size) // 2
READ_CHUNK_SAMPLES = framing.MAX_PAYLOAD // 2
# Wall-clock allowance for a waited run: the emulator runs the audio faster than real time
# under -icount (idle time is skipped), a real board in real time; this covers both on a
# loaded machine.
RUN_TIMEOUT_BASE_S = 30.0
RUN_TIMEOUT_PER_AUDIO_S = 20.0
STATUS_POLL_S = 0.05


@dataclasses.dataclass(frozen=True)
class AudioStatus:
    running: bool
    source: p.AudioSource
    buffer_level: int
    buffer_level_max: int
    hop: int
    path_delay_hops: int
    tape_samples: int
    hops_captured: int
    hops_processed: int
    deadline_misses: int
    underruns: int
    overruns: int
    worst_lateness_us: int
    cost_max: int
    cost_total: int

    def path_delay_samples(self) -> int:
        return self.path_delay_hops * self.hop

    def delay_samples(self, info: DeviceInfo) -> int:
        """Configured input-to-output delay of the real-time path, in samples."""
        return info.output_delay + self.path_delay_samples()


def _status(payload: bytes) -> AudioStatus:
    fields = payloads.AUDIO_STATUS_REPLY.unpack(payload)
    fields["running"] = bool(fields["running"])
    try:
        fields["source"] = p.AudioSource(fields["source"])
    except ValueError:
        fields["source"] = p.AudioSource.NONE
    return AudioStatus(**fields)


def audio_status(client: DeviceClient) -> AudioStatus:
    return _status(client.transact(p.Opcode.AUDIO_STATUS))


def load_tape(client: DeviceClient, pcm: np.ndarray, offset: int = 0) -> None:
    pcm = np.asarray(pcm, dtype="<i2")
    for start in range(0, pcm.size, LOAD_CHUNK_SAMPLES):
        chunk = pcm[start : start + LOAD_CHUNK_SAMPLES]
        head = payloads.AUDIO_LOAD_REQUEST.pack(offset=offset + start)
        client.transact(p.Opcode.AUDIO_LOAD, head + chunk.tobytes())


def read_tape(client: DeviceClient, count: int, offset: int = 0) -> np.ndarray:
    parts = []
    for start in range(0, count, READ_CHUNK_SAMPLES):
        n = min(READ_CHUNK_SAMPLES, count - start)
        request = payloads.AUDIO_READ_REQUEST.pack(offset=offset + start, count=n)
        reply = client.transact(p.Opcode.AUDIO_READ, request)
        if len(reply) != 2 * n:
            raise DeviceError(f"AUDIO_READ reply of {len(reply)} bytes, expected {n} samples")
        parts.append(np.frombuffer(reply, "<i2"))
    return np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16)


def start(
    client: DeviceClient, n_hops: int, wait: bool = False, load_every: int = 0, load_us: int = 0
) -> AudioStatus:
    """Start a run of n_hops; with wait, the reply (and this call) comes when it has ended."""
    request = payloads.AUDIO_START_REQUEST.pack(
        n_hops=n_hops, wait=int(wait), load_every=load_every, load_us=load_us
    )
    return _status(client.transact(p.Opcode.AUDIO_START, request))


def stop(client: DeviceClient) -> AudioStatus:
    return _status(client.transact(p.Opcode.AUDIO_STOP))


def wait_done(client: DeviceClient, timeout_s: float) -> AudioStatus:
    """Poll AUDIO_STATUS until the run has ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = audio_status(client)
        if not status.running:
            return status
        if time.monotonic() > deadline:
            raise DeviceError(f"the audio run did not end within {timeout_s:.0f} s")
        time.sleep(STATUS_POLL_S)


def run_timeout(n_samples: int, sample_rate: int) -> float:
    return RUN_TIMEOUT_BASE_S + RUN_TIMEOUT_PER_AUDIO_S * n_samples / max(sample_rate, 1)


def run_tape(
    client: DeviceClient, pcm: np.ndarray, load_every: int = 0, load_us: int = 0
) -> tuple[np.ndarray, AudioStatus]:
    """Play int16 `pcm` (whole hops) through the virtual codec; (output tape, run counters).

    Nothing else crosses the link during the run, so under -icount it repeats exactly."""
    info = client.info()
    status = audio_status(client)
    if status.source != p.AudioSource.VIRTUAL_TAPE:
        raise DeviceError(
            f"{info.target} has no virtual codec tape (audio source: {status.source.name}); "
            "measure a real codec by loopback with `hushkit latency --loopback`"
        )
    pcm = np.asarray(pcm, dtype=np.int16)
    if pcm.ndim != 1 or pcm.size % info.hop:
        raise ValueError(f"pcm must be 1-D int16 with a multiple of {info.hop} samples")
    if pcm.size > status.tape_samples:
        raise DeviceError(f"{pcm.size} samples exceed the {status.tape_samples}-sample tape")
    load_tape(client, pcm)
    saved = client.timeout
    client.timeout = max(saved, run_timeout(pcm.size, info.sample_rate))
    try:
        done = start(client, pcm.size // info.hop, wait=True, load_every=load_every,
                     load_us=load_us)  # fmt: skip
    finally:
        client.timeout = saved
    return read_tape(client, pcm.size), done
