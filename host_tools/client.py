"""Protocol client: one method per device command, device errors as readable exceptions.

`DeviceClient(open_link(url))` gives `info()`, `process(pcm, taps=False)`, `stats()`,
`set(bypass=..., attenuation_db=...)` and `reset()`. `process` takes int16 audio of whole
hops and splits it into as few PROCESS exchanges as the payload limit allows; its output lags
the input by `info().output_delay` samples, like the device's audio output does.
"""

from __future__ import annotations

import dataclasses
import random
import time

import numpy as np

from hushkit import contract, framing, payloads
from hushkit import protocol as p
from hushkit.errors import HushkitError
from hushkit.transport import Link

# Link faults (a request the device could not read, a reply lost or corrupted on the way
# back) are retried with the same seq: the device answers a repeated request from its copy of
# the reply without executing it again, so a retried PROCESS never advances its state twice.
# At 1e-3 faults per byte about 40% of one-hop exchanges need a retry; 16 retries make a
# spurious failure rarer than 1e-6 per request, and a dead link still fails fast.
LINK_RETRIES = 16
# How long a retried request waits for its reply (the first attempt waits the full timeout).
RETRY_TIMEOUT_S = 1.0
# Resends to a device that sent nothing at all before it is declared silent: the request's
# own delimiter may have been lost on the link.
SILENT_RETRIES = 1
# Statuses meaning "the device could not read a frame": resend the request.
LINK_ERROR_STATUSES = frozenset({p.Status.BAD_CRC, p.Status.BAD_FRAME, p.Status.FRAME_TOO_LONG})
# A device still booting drops what it receives before its UART is enabled (QEMU's STM32
# USART model does; so does a board reset by opening its port). The first INFO of a session
# is resent every FIRST_REPLY_S until the usual timeout; INFO has no side effects.
FIRST_REPLY_S = 0.5
# Junk the reader skips before a reply's first byte (e.g. a boot message that reached the
# host glued to the first reply) when looking for a valid frame.
MAX_RESYNC_BYTES = 512


class DeviceError(HushkitError, RuntimeError):
    """The device answered with an error status (or an unreadable reply)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class DeviceTimeout(DeviceError, TimeoutError):
    """Nothing (or only part of a frame) came back in time."""

    partial = 0  # bytes of an incomplete frame that did arrive


class UnreadableReply(DeviceError):
    """Bytes that end like a frame but do not decode (corrupted on the link)."""


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    protocol_version: int
    fw_version: str
    target: str
    model_sha256: str
    sample_rate: int
    n_fft: int
    hop: int
    n_bins: int
    state_size: int
    model_status: int
    model_message: str
    arena_bytes: int
    max_payload: int
    cost_source: p.CostSource
    feature_planes: int = 1

    @property
    def model_loaded(self) -> bool:
        return self.model_status == 0

    @property
    def n_features(self) -> int:
        """Feature values per hop: n_bins, or twice that with the floor feature."""
        return self.n_bins * max(1, self.feature_planes)

    @property
    def output_delay(self) -> int:
        """Samples by which the device's output lags its input (see hushkit.training.dsp)."""
        return self.n_fft - self.hop


@dataclasses.dataclass(frozen=True)
class Stats:
    hops: int
    cost_min: int
    cost_max: int
    cost_total: int
    cost_source: p.CostSource
    arena_bytes: int
    stack_used: int
    frame_errors: int
    # The real-time audio path's last run (hal_audio.h).
    audio_hops: int = 0
    deadline_misses: int = 0
    worst_lateness_us: int = 0
    overruns: int = 0
    buffer_level_max: int = 0
    # The watchdog (since power-on): resets, what the last one interrupted (WatchdogPhase),
    # trial images rolled back after one, and whether this boot followed one.
    watchdog_resets: int = 0
    watchdog_reason: int = 0
    watchdog_rollbacks: int = 0
    watchdog_last_boot: int = 0

    @property
    def cost_mean(self) -> float:
        return self.cost_total / self.hops if self.hops else 0.0

    @property
    def cost_units(self) -> str:
        return p.COST_UNITS[self.cost_source]


@dataclasses.dataclass(frozen=True)
class SafetyStats:
    limited_samples: int  # output samples the limiter changed since RESET
    trips: int  # times the model was switched off since boot
    tripped: bool  # the model is bypassed until the next RESET


@dataclasses.dataclass(frozen=True)
class Settings:
    bypass: bool
    attenuation_db: float  # 0 = unlimited


@dataclasses.dataclass
class ProcessResult:
    """Output of k hops: pcm int16 [k * hop], cost uint32 [k], taps int8 [k, n] or None."""

    pcm: np.ndarray
    cost: np.ndarray
    taps: dict[str, np.ndarray] | None = None


TAP_NAMES = contract.TAP_ORDER


class DeviceClient:
    """Talks to one device over a Link; one request in flight at a time."""

    def __init__(self, link: Link, timeout: float | None = None):
        self.link = link
        self.timeout = timeout if timeout is not None else (link.timeout or 5.0)
        # Start at a random seq so that replies left over from an earlier session never
        # match a request of this one.
        self._seq = random.randrange(1 << 16)
        self._first = True
        self._info: DeviceInfo | None = None
        self.retries = 0  # requests resent because of link faults, since this client started

    # ---- commands ----------------------------------------------------------------------

    def info(self) -> DeviceInfo:
        try:
            reply = self.transact(p.Opcode.INFO)
        except DeviceError as exc:
            if exc.status == p.Status.UNKNOWN_OPCODE:
                raise self._not_an_application() from None
            raise
        if len(reply) != payloads.INFO_REPLY.size:
            raise DeviceError(
                f"INFO reply of {len(reply)} bytes, expected {payloads.INFO_REPLY.size}: the "
                "firmware speaks another protocol version; update the firmware or the host tools"
            )
        fields = _parse(payloads.INFO_REPLY, reply)
        for name in ("fw_version", "target", "model_sha256", "model_message"):
            fields[name] = payloads.cstr(fields[name])
        fields["cost_source"] = _cost_source(fields["cost_source"])
        if fields["protocol_version"] != p.PROTOCOL_VERSION:
            raise DeviceError(
                f"device speaks protocol v{fields['protocol_version']}, these host tools "
                f"v{p.PROTOCOL_VERSION}: update the firmware or the host tools"
            )
        self._info = DeviceInfo(**fields)
        return self._info

    def _not_an_application(self) -> DeviceError:
        """INFO was refused: say who answered (a bootloader reports itself in IDENTIFY)."""
        try:
            fields = payloads.IDENTIFY_REPLY.unpack(self.transact(p.Opcode.IDENTIFY))
        except (DeviceError, framing.FrameError):
            fields = None
        if fields is not None and fields.get("mode") == p.BootMode.BOOTLOADER:
            return DeviceError(
                "the bootloader answered, not the hushkit application: no application is "
                "running; flash one (`hushkit flash`) or boot it, then retry"
            )
        return DeviceError(
            "the device does not know INFO: it runs a bootloader or other firmware, not the "
            "hushkit application; flash the application and retry"
        )

    def stats(self) -> Stats:
        fields = _parse(payloads.STATS_REPLY, self.transact(p.Opcode.STATS))
        fields["cost_source"] = _cost_source(fields["cost_source"])
        return Stats(**fields)

    def safety(self) -> SafetyStats:
        """The output safety stage's counters (SAFETY)."""
        fields = _parse(payloads.SAFETY_REPLY, self.transact(p.Opcode.SAFETY))
        return SafetyStats(fields["limited_samples"], fields["trips"], bool(fields["tripped"]))

    def set(self, bypass: bool | None = None, attenuation_db: float | None = None) -> Settings:
        """Change the given settings (None = leave as is); returns those now in force."""
        fields = p.SetField(0)
        if bypass is not None:
            fields |= p.SetField.BYPASS
        if attenuation_db is not None:
            fields |= p.SetField.ATTENUATION
        payload = payloads.SET_REQUEST.pack(
            fields=int(fields), bypass=int(bool(bypass)), attenuation_db=attenuation_db or 0.0
        )
        reply = _parse(payloads.SET_REPLY, self.transact(p.Opcode.SET, payload))
        return Settings(bypass=bool(reply["bypass"]), attenuation_db=reply["attenuation_db"])

    def reset(self) -> None:
        """Restart the audio pipeline from silence and clear the cost statistics."""
        self.transact(p.Opcode.RESET)

    def process(self, pcm: np.ndarray, taps: bool = False) -> ProcessResult:
        """Run whole hops of int16 audio through the device, in as few PROCESS exchanges as
        the payload limit allows. The output lags the input by `info().output_delay`."""
        info = self._info or self.info()
        pcm = np.asarray(pcm)
        if pcm.dtype != np.int16 or pcm.ndim != 1 or pcm.size % info.hop:
            raise ValueError(f"pcm must be 1-D int16 with a multiple of {info.hop} samples")
        tap_len = payloads.tap_bytes(info.n_bins, info.state_size, info.n_features) if taps else 0
        block = payloads.process_max_hops(info.hop, tap_len)
        if block == 0:
            raise DeviceError(
                f"one hop with taps exceeds the {framing.MAX_PAYLOAD}-byte payload limit"
            )
        hops = pcm.size // info.hop
        parts = [
            self._process_block(pcm[h * info.hop : (h + block) * info.hop], info, taps)
            for h in range(0, hops, block)
        ]
        if not parts:
            return ProcessResult(np.zeros(0, np.int16), np.zeros(0, np.uint32))
        tap_arrays = None
        if taps:
            tap_arrays = {k: np.concatenate([r.taps[k] for r in parts]) for k in TAP_NAMES}
        return ProcessResult(
            pcm=np.concatenate([r.pcm for r in parts]),
            cost=np.concatenate([r.cost for r in parts]),
            taps=tap_arrays,
        )

    def _process_block(self, pcm: np.ndarray, info: DeviceInfo, taps: bool) -> ProcessResult:
        n_hops = pcm.size // info.hop
        flags = p.ProcessFlag.TAPS if taps else p.ProcessFlag(0)
        request = payloads.PROCESS_REQUEST.pack(n_hops=n_hops, flags=int(flags))
        reply = self.transact(p.Opcode.PROCESS, request + pcm.astype("<i2").tobytes())
        head = _parse(payloads.PROCESS_REPLY, reply)
        tap_len = head["tap_bytes"]
        if head["n_hops"] != n_hops or (tap_len != 0) != taps:
            raise DeviceError(f"PROCESS reply does not match the request: {head}")
        sizes = (info.n_features, info.state_size, info.n_bins, info.state_size)
        if taps and tap_len != sum(sizes):
            raise DeviceError(
                f"device sends {tap_len} tap bytes per hop, INFO implies {sum(sizes)}"
            )
        fields = [("cost", "<u4"), ("pcm", "<i2", (info.hop,))]
        if taps:
            fields += [(name, "i1", (n,)) for name, n in zip(TAP_NAMES, sizes, strict=True)]
        dtype = np.dtype(fields)
        if len(reply) != payloads.PROCESS_REPLY.size + n_hops * dtype.itemsize:
            raise DeviceError(f"PROCESS reply of {len(reply)} bytes does not hold {n_hops} hops")
        records = np.frombuffer(reply, dtype=dtype, offset=payloads.PROCESS_REPLY.size)
        return ProcessResult(
            pcm=records["pcm"].astype(np.int16).reshape(-1),
            cost=records["cost"].astype(np.uint32),
            taps={k: records[k].astype(np.int8) for k in TAP_NAMES} if taps else None,
        )

    # ---- request / reply ---------------------------------------------------------------

    def transact(self, opcode: p.Opcode, payload: bytes = b"") -> bytes:
        if self._first and opcode == p.Opcode.INFO:
            return self._first_info()
        return self._transact(opcode, payload)

    def _first_info(self) -> bytes:
        deadline = time.monotonic() + self.timeout
        saved = self.timeout
        try:
            while True:
                self.timeout = min(FIRST_REPLY_S, max(deadline - time.monotonic(), 0.01))
                try:
                    return self._transact(p.Opcode.INFO)
                except DeviceTimeout:
                    if time.monotonic() >= deadline:
                        raise
                    self._first = True  # send the lone delimiter again too
        finally:
            self.timeout = saved

    def _transact(self, opcode: p.Opcode, payload: bytes = b"") -> bytes:
        """Send one request and return the payload of its OK reply; raise on anything else.

        Link faults are retried with the same seq (see LINK_RETRIES); a device error status
        is raised as a DeviceError at once."""
        seq = self._seq = (self._seq + 1) & 0xFFFF
        frame = framing.encode_frame(framing.Frame(opcode=opcode, seq=seq, payload=payload))
        silent = 0
        last = ""
        for attempt in range(LINK_RETRIES + 1):
            out = frame
            if self._first or attempt:
                # A lone delimiter first ends whatever partial frame the device may still
                # hold (an interrupted session, a frame cut by the link); an idle device
                # ignores it.
                if self._first:
                    self.link.discard_input()
                    self._first = False
                out = framing.DELIMITER + frame
            self.link.write(out)
            timeout = self.timeout if attempt == 0 else min(self.timeout, RETRY_TIMEOUT_S)
            try:
                reply = self._await_reply(opcode, seq, timeout)
            except DeviceTimeout as exc:
                if not exc.partial:
                    silent += 1
                    if silent > SILENT_RETRIES:
                        raise
                last = str(exc)
            except UnreadableReply as exc:
                last = str(exc)
            else:
                if reply.status not in LINK_ERROR_STATUSES:
                    if reply.status != p.Status.OK:
                        raise _error(opcode, reply)
                    return reply.payload
                last = p.status_message(reply.status)
            self.retries += 1
        raise DeviceError(
            f"{opcode.name} failed {LINK_RETRIES + 1} times: the link corrupts too many frames "
            f"(last: {last}); check the cable, or send fewer hops per exchange (--block-hops 1)"
        )

    def _await_reply(self, opcode: p.Opcode, seq: int, timeout: float) -> framing.Frame:
        """The reply to (opcode, seq), or a frame saying the device could not read one.

        Other frames are stale: second answers to an earlier request that was retried."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._read_frame(deadline, timeout)
            if frame.seq == seq and frame.opcode == opcode | framing.REPLY_FLAG:
                return frame
            if frame.status in LINK_ERROR_STATUSES:
                return frame

    def _read_frame(self, deadline: float, timeout: float) -> framing.Frame:
        while True:
            remaining = deadline - time.monotonic()
            data = b""
            if remaining > 0:
                self.link.timeout = remaining
                data = self.link.read_until(
                    framing.DELIMITER, framing.MAX_ENCODED_FRAME + MAX_RESYNC_BYTES
                )
            if not data.endswith(framing.DELIMITER):
                raise _timeout(timeout, len(data))
            if len(data) == 1:
                continue  # an idle delimiter
            return _decode_resync(data)


def _decode_resync(data: bytes) -> framing.Frame:
    """Decode a frame, skipping junk that arrived glued to its front."""
    try:
        return framing.decode_frame(data)
    except framing.FrameError as first:
        for skip in range(1, min(MAX_RESYNC_BYTES, len(data) - 1)):
            try:
                return framing.decode_frame(data[skip:])
            except framing.FrameError:
                continue
        raise UnreadableReply(f"unreadable reply from the device ({first})") from None


def _parse(layout: payloads.Layout, payload: bytes) -> dict:
    """A reply payload as fields; a short one is the device's error, not a host bug."""
    try:
        return layout.unpack(payload)
    except framing.FrameError as exc:
        raise DeviceError(f"malformed reply from the device: {exc}") from None


def _cost_source(value: int) -> p.CostSource:
    try:
        return p.CostSource(value)
    except ValueError:
        return p.CostSource.NONE


def _error(opcode: p.Opcode, reply: framing.Frame) -> DeviceError:
    detail = reply.payload.decode("ascii", errors="replace").strip("\x00")
    message = f"{opcode.name} failed: {p.status_message(reply.status)}"
    return DeviceError(message + (f" ({detail})" if detail else ""), status=reply.status)


def _timeout(seconds: float, partial: int) -> DeviceTimeout:
    message = (
        f"device did not answer within {seconds:.1f} s: is it flashed and powered, is the "
        "port right, and is no other program (a terminal, a second hushkit) using it?"
    )
    if partial:
        message += f" ({partial} bytes of an incomplete frame arrived)"
    exc = DeviceTimeout(message)
    exc.partial = partial
    return exc
