"""Operations on a device (info, stats, stream a WAV file) and their subcommands.

    hushkit info   --port /dev/ttyUSB0
    hushkit stats  --port socket://127.0.0.1:4321
    hushkit stream --port /dev/ttyUSB0 noisy.wav clean.wav
    hushkit stream --emulate qemu-m4 noisy.wav clean.wav

`--port` takes a device path or any pyserial URL; `--emulate TARGET` boots the firmware on
QEMU first and streams through it. `--trace` hex-dumps the serial traffic to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hushkit import argtypes, payloads
from hushkit import protocol as p
from hushkit.client import DeviceClient, DeviceError, DeviceInfo, DeviceTimeout, Stats
from hushkit.errors import HushkitError
from hushkit.transport import DEFAULT_TIMEOUT_S, open_link

# Default hops per PROCESS exchange: the most the payload limit allows (15 hops = 120 ms at
# the default 8 ms hop), which amortises the per-frame round trip best.
DEFAULT_BLOCK_HOPS = 0


# Most hops one PROCESS exchange can carry at the smallest hop the firmware supports (64):
# the upper bound of --block-hops before the device says what its own limit is.
MAX_BLOCK_HOPS = payloads.process_max_hops(64)


class OpsError(HushkitError, RuntimeError):
    """A problem with the user's input (file, options) rather than with the device."""


@contextlib.contextmanager
def connect(
    port: str | None,
    emulate: str | None = None,
    elf: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    trace: bool = False,
) -> Iterator[DeviceClient]:
    """A client on `port`, or on a freshly booted emulator of target `emulate`."""
    if (port is None) == (emulate is None):
        raise OpsError("give exactly one of --port URL and --emulate TARGET")
    with contextlib.ExitStack() as stack:
        if emulate is not None:
            from hushkit.emulator import Emulator

            port = stack.enter_context(Emulator(emulate, elf)).url
        link = stack.enter_context(open_link(port, timeout=timeout, trace=trace))
        yield DeviceClient(link, timeout=timeout)


def format_info(info: DeviceInfo) -> str:
    model = "loaded" if info.model_loaded else f"NOT LOADED ({info.model_message})"
    return "\n".join(
        [
            f"target            {info.target}",
            f"firmware          {info.fw_version}  (protocol v{info.protocol_version})",
            f"model             {model}",
            f"model sha256      {info.model_sha256 or '-'}",
            f"dsp               {info.sample_rate} Hz, n_fft {info.n_fft}, hop {info.hop} "
            f"({1000.0 * info.hop / max(info.sample_rate, 1):.1f} ms), {info.n_bins} bins",
            f"state             {info.state_size} int8 values",
            f"arena             {info.arena_bytes} bytes",
            f"cost counter      {info.cost_source.name.lower()} ({p.COST_UNITS[info.cost_source]})",
            f"max payload       {info.max_payload} bytes",
        ]
    )


def format_cost(stats: Stats, hop_s: float) -> str:
    """Per-hop cost, and the clock it needs to keep up at one cycle per counted unit."""
    if not stats.hops:
        return "per-hop cost: no hops processed"
    units = stats.cost_units
    line = (
        f"per-hop cost ({stats.hops} hops): min {stats.cost_min} / "
        f"mean {stats.cost_mean:.0f} / max {stats.cost_max} {units}"
    )
    if hop_s > 0 and stats.cost_source != p.CostSource.NONE:
        # The worst hop must finish within one hop period for real time.
        line += f"; real time needs >= {stats.cost_max / hop_s / 1e6:.1f} M{units}/s (worst hop)"
    return line


def format_stats(stats: Stats, hop_s: float) -> str:
    return "\n".join(
        [
            format_cost(stats, hop_s),
            f"arena             {stats.arena_bytes} bytes",
            f"stack high-water  {stats.stack_used} bytes",
            f"frame errors      {stats.frame_errors}",
            f"real-time path    {stats.audio_hops} hops, {stats.deadline_misses} deadline misses "
            f"(worst {stats.worst_lateness_us} us late), {stats.overruns} overruns, "
            f"buffer level max {stats.buffer_level_max}",
            format_watchdog(stats),
        ]
    )


def format_watchdog(stats: Stats) -> str:
    """The watchdog line of `hushkit stats`."""
    line = f"watchdog resets   {stats.watchdog_resets}"
    if stats.watchdog_resets:
        try:
            reason = p.WATCHDOG_PHASE_TEXT[p.WatchdogPhase(stats.watchdog_reason)]
        except ValueError:
            reason = f"phase {stats.watchdog_reason}"
        line += f" (last: {reason}); {stats.watchdog_rollbacks} trial images rolled back"
    if stats.watchdog_last_boot:
        line += "; this boot followed a watchdog reset: model bypassed until `SET bypass=0`"
    return line


@dataclasses.dataclass
class StreamReport:
    samples: int  # output samples written, at the device rate
    sample_rate: int
    wall_s: float  # host wall time of the whole exchange
    stats: Stats

    @property
    def audio_s(self) -> float:
        return self.samples / self.sample_rate

    @property
    def real_time_factor(self) -> float:
        """Wall time / audio time: below 1 streams faster than real time."""
        return self.wall_s / self.audio_s if self.audio_s else math.inf


def load_mono(path: Path, channel: int | None, rate: int) -> np.ndarray:
    """`path` as float64 mono at `rate` Hz (one channel picked, resampled, sanitised)."""
    from hushkit.audiofile import AudioSource

    with AudioSource.open(path, channel) as src:
        blocks = list(src.blocks(rate=rate))
        src.sanitizer.report(str(path))
    return np.concatenate(blocks).astype(np.float64)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def stream(
    client: DeviceClient,
    pcm: np.ndarray,
    block_hops: int = DEFAULT_BLOCK_HOPS,
    progress: bool = True,
) -> tuple[np.ndarray, StreamReport]:
    """Stream int16 mono audio through the device from a fresh pipeline state.

    Returns the output time-aligned with `pcm` (same length: the device's output delay is
    dropped and the tail flushed with zeros) and a report with the device's STATS.
    """
    from tqdm import tqdm

    info = client.info()
    if not info.model_loaded:
        raise DeviceError(f"no model is loaded on the device: {info.model_message}")
    hop, delay = info.hop, info.output_delay
    # Feed `delay` extra samples so the last input sample comes out, then round up to hops.
    hops = -(-(pcm.size + delay) // hop)
    padded = np.zeros(hops * hop, np.int16)
    padded[: pcm.size] = pcm
    limit = payloads.process_max_hops(hop)
    if not 0 <= block_hops <= limit:
        raise OpsError(f"--block-hops {block_hops} is out of range: this device takes 1..{limit}"
                       " hops per exchange (0 = as many as fit)")
    block = block_hops or limit
    client.reset()
    out = np.zeros_like(padded)
    start = time.perf_counter()
    with tqdm(total=hops, unit="hop", disable=not progress, file=sys.stderr) as bar:
        for h in range(0, hops, block):
            chunk = padded[h * hop : (h + block) * hop]
            try:
                out[h * hop : h * hop + chunk.size] = client.process(chunk).pcm
            except DeviceTimeout as exc:
                if h == 0:
                    raise
                raise DeviceTimeout(f"the device stopped answering after {h} of {hops} hops "
                                    f"({exc}); nothing was written") from None
            bar.update(chunk.size // hop)
    wall = time.perf_counter() - start
    aligned = out[delay : delay + pcm.size]
    report = StreamReport(aligned.size, info.sample_rate, wall, client.stats())
    return aligned, report


def stream_file(
    client: DeviceClient,
    in_path: Path,
    out_path: Path,
    channel: int | None = None,
    block_hops: int = DEFAULT_BLOCK_HOPS,
    progress: bool = True,
) -> StreamReport:
    """Stream a WAV file through the device; OUT is 16-bit mono at the device's rate.

    OUT is written under a temporary name and renamed on success, so a failure never leaves
    a partial file or destroys an existing one."""
    from hushkit.audiofile import AtomicWriter

    info = client.info()
    pcm = to_int16(load_mono(in_path, channel, info.sample_rate))
    out, report = stream(client, pcm, block_hops=block_hops, progress=progress)
    with AtomicWriter(out_path, info.sample_rate) as writer:
        writer.write(out.astype(np.float32) / 32768.0)
    return report


# ---- command line -----------------------------------------------------------------------


def _add_link_args(parser: argparse.ArgumentParser, emulate: bool) -> None:
    parser.add_argument("--port", help="device path or URL: /dev/ttyUSB0, socket://HOST:PORT")
    if emulate:
        parser.add_argument(
            "--emulate", metavar="TARGET", help="boot the firmware on QEMU (qemu-m4, ...)"
        )
        parser.add_argument("--elf", type=Path, help="firmware for --emulate (default: build)")
    parser.add_argument(
        "--timeout",
        type=argtypes.float_range(0.0, 3600.0, lo_open=True),
        default=DEFAULT_TIMEOUT_S,
        help="seconds to wait for a reply (0 < T <= 3600)",
    )
    parser.add_argument("--trace", action="store_true", help="hex-dump serial bytes to stderr")


def _connect(args: argparse.Namespace) -> contextlib.AbstractContextManager[DeviceClient]:
    return connect(
        args.port,
        emulate=getattr(args, "emulate", None),
        elf=getattr(args, "elf", None),
        timeout=args.timeout,
        trace=args.trace,
    )


def _run(args: argparse.Namespace, body) -> int:
    # Errors (DeviceError, LinkError, OpsError, EmulatorError: all HushkitError) are reported
    # once, by hushkit.cli.main.
    with _connect(args) as client:
        return body(client)


def cmd_info(args: argparse.Namespace) -> int:
    from hushkit import flash_info

    def body(client: DeviceClient) -> int:
        # The bootloader and the application both answer; flash_info says which one did.
        return flash_info.show(client, as_json=args.json, format_app=format_info)

    return _run(args, body)


def safety_line(client: DeviceClient) -> str | None:
    """The output safety stage in one line; None when the firmware predates SAFETY."""
    try:
        s = client.safety()
    except DeviceError as exc:
        if exc.status == p.Status.UNKNOWN_OPCODE:
            return None
        raise
    state = "TRIPPED: model bypassed until RESET" if s.tripped else "ok"
    return f"output safety      {state}; {s.limited_samples} samples limited, {s.trips} trip(s)"


def cmd_stats(args: argparse.Namespace) -> int:
    def body(client: DeviceClient) -> int:
        info = client.info()
        print(format_stats(client.stats(), info.hop / max(info.sample_rate, 1)))
        line = safety_line(client)
        if line:
            print(line)
        return 0

    return _run(args, body)


def cmd_stream(args: argparse.Namespace) -> int:
    from hushkit.audiofile import AudioSource, check_output

    # Check the files before a device or an emulator is touched.
    AudioSource.open(args.input, args.channel).close()
    check_output(args.output, [args.input], force=args.force)

    def body(client: DeviceClient) -> int:
        info = client.info()
        report = stream_file(
            client,
            args.input,
            args.output,
            channel=args.channel,
            block_hops=args.block_hops,
            progress=not args.quiet,
        )
        print(f"wrote {args.output}: {report.audio_s:.2f} s at {report.sample_rate} Hz")
        print(format_cost(report.stats, info.hop / info.sample_rate))
        print(
            f"real-time factor {report.real_time_factor:.2f} "
            f"({report.wall_s:.2f} s wall for {report.audio_s:.2f} s of audio, link included)"
        )
        if client.retries:
            print(f"link: {client.retries} request(s) resent after link faults")
        line = safety_line(client)
        if line and "ok; 0 samples" not in line:
            print(f"warning: {line.split(None, 2)[2]}", file=sys.stderr)
        return 0

    return _run(args, body)


def register(subparsers: argparse._SubParsersAction) -> None:
    info = subparsers.add_parser("info", help="show what a device runs (firmware, model, DSP)")
    _add_link_args(info, emulate=True)
    info.add_argument("--json", action="store_true", help="print the identity as JSON")
    info.set_defaults(func=cmd_info)

    stats = subparsers.add_parser("stats", help="per-hop cost, memory and link statistics")
    _add_link_args(stats, emulate=False)
    stats.set_defaults(func=cmd_stats)

    stream_p = subparsers.add_parser(
        "stream",
        help="stream a WAV file through a device or the emulator",
        description="Denoise IN.wav on the device. OUT.wav is 16-bit mono at the device's "
        "sample rate, time-aligned with IN (the device's output delay is removed).",
    )
    _add_link_args(stream_p, emulate=True)
    stream_p.add_argument("input", type=Path, metavar="IN.wav")
    stream_p.add_argument("output", type=Path, metavar="OUT.wav")
    stream_p.add_argument(
        "--channel",
        type=argtypes.non_negative_int,
        help="channel of a multi-channel input (0 = first)",
    )
    stream_p.add_argument(
        "--block-hops",
        type=argtypes.int_range(0, MAX_BLOCK_HOPS),
        default=DEFAULT_BLOCK_HOPS,
        help="hops per PROCESS exchange (default 0: as many as fit in one frame)",
    )
    stream_p.add_argument("--force", action="store_true", help="overwrite OUT.wav if it exists")
    stream_p.add_argument("--quiet", action="store_true", help="no progress bar")
    stream_p.set_defaults(func=cmd_stream)
