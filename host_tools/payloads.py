"""Payload layouts of the serial protocol: fixed little-endian records, one per message.

Each `Layout` is a field list from which come the Python codec (`pack`/`unpack`) and the C
offsets `python -m hushkit.codegen` writes into hush_protocol.h. The frame around a payload is
in `hushkit.framing`, the opcodes and status codes in `hushkit.protocol`.
"""

from __future__ import annotations

import dataclasses
import struct

from hushkit.framing import MAX_PAYLOAD, FrameError


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    fmt: str  # one struct code, with a count for strings ("16s") and padding ("3x")
    doc: str = ""


class Layout:
    """A fixed little-endian record: the same field list gives the Python codec and C offsets."""

    def __init__(self, name: str, doc: str, fields: tuple[Field, ...]):
        self.name = name
        self.doc = doc
        self.fields = fields
        self.struct = struct.Struct("<" + "".join(f.fmt for f in fields))

    @property
    def size(self) -> int:
        return self.struct.size

    def named_fields(self) -> list[Field]:
        return [f for f in self.fields if not f.fmt.endswith("x")]

    def offsets(self) -> dict[str, tuple[int, int]]:
        """name -> (offset, size) in bytes, for every named field."""
        out: dict[str, tuple[int, int]] = {}
        fmt = "<"
        for f in self.fields:
            start = struct.calcsize(fmt)
            fmt += f.fmt
            if not f.fmt.endswith("x"):
                out[f.name] = (start, struct.calcsize(fmt) - start)
        return out

    def pack(self, **values: object) -> bytes:
        names = [f.name for f in self.named_fields()]
        missing = set(names) - set(values)
        extra = set(values) - set(names)
        if missing or extra:
            raise TypeError(f"{self.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        return self.struct.pack(*(values[n] for n in names))

    def unpack(self, data: bytes | memoryview, offset: int = 0) -> dict:
        if len(data) - offset < self.size:
            raise FrameError(f"{self.name}: {len(data) - offset} bytes, expected {self.size}")
        names = [f.name for f in self.named_fields()]
        return dict(zip(names, self.struct.unpack_from(data, offset), strict=True))


INFO_REPLY = Layout(
    "INFO_REPLY",
    "INFO reply payload (the request has no payload).",
    (
        Field("protocol_version", "H", "PROTOCOL_VERSION of the firmware"),
        Field("fw_version", "16s", "firmware version, ASCII, NUL padded"),
        Field("target", "16s", "build target name, e.g. qemu-m4"),
        Field("model_sha256", "64s", "sha256 of the .tflite compiled in, hex ASCII"),
        Field("sample_rate", "I", "Hz"),
        Field("n_fft", "H", "samples"),
        Field("hop", "H", "samples per hop = per model invocation"),
        Field("n_bins", "H", "features and mask values per hop"),
        Field("state_size", "H", "int8 recurrent state values"),
        Field("model_status", "i", "0 = model loaded, else the engine's init error code"),
        Field("model_message", "48s", "readable init error, ASCII, empty when loaded"),
        Field("arena_bytes", "I", "tensor arena the model uses, bytes"),
        Field("max_payload", "H", "largest payload the device accepts, bytes"),
        Field("cost_source", "B", "CostSource of the per-hop costs"),
        Field("feature_planes", "B",
              "features per bin: 1 = log power, 2 = with the floor feature; 0 = none loaded"),
    ),
)

PROCESS_REQUEST = Layout(
    "PROCESS_REQUEST",
    "PROCESS request payload header; followed by n_hops * hop int16 LE PCM samples.",
    (
        Field("n_hops", "H", "hops in this block"),
        Field("flags", "B", "ProcessFlag"),
        Field("_pad", "x"),
    ),
)

PROCESS_REPLY = Layout(
    "PROCESS_REPLY",
    "PROCESS reply payload header; followed by n_hops records of "
    "PROCESS_HOP + hop int16 LE output samples + tap_bytes int8 tap values "
    "(features[n_features], state_in[state_size], mask[n_bins], state_out[state_size]; "
    "n_features = feature_planes * n_bins).",
    (
        Field("n_hops", "H", "hops processed"),
        Field("flags", "B", "ProcessFlag echoed"),
        Field("_pad", "x"),
        Field("tap_bytes", "H", "tap bytes per hop record, 0 without ProcessFlag.TAPS"),
    ),
)

PROCESS_HOP = Layout(
    "PROCESS_HOP",
    "Start of each hop record in a PROCESS reply.",
    (Field("cost", "I", "cost of this hop in CostSource units"),),
)

STATS_REPLY = Layout(
    "STATS_REPLY",
    "STATS reply payload (the request has no payload). Costs since the last RESET.",
    (
        Field("hops", "I", "hops processed"),
        Field("cost_min", "I", "cheapest hop, CostSource units"),
        Field("cost_max", "I", "dearest hop, CostSource units"),
        Field("cost_total", "Q", "sum over all hops, CostSource units (mean = total / hops)"),
        Field("cost_source", "B", "CostSource"),
        Field("_pad", "3x"),
        Field("arena_bytes", "I", "tensor arena the model uses, bytes"),
        Field("stack_used", "I", "stack high-water mark since boot, bytes"),
        Field("frame_errors", "I", "frames rejected since boot (CRC, COBS, length)"),
        Field("audio_hops", "I", "hops the real-time audio path processed (last run)"),
        Field("deadline_misses", "I", "real-time hops whose output missed its playback slot"),
        Field("worst_lateness_us", "I", "latest a real-time hop finished past its deadline, us"),
        Field("overruns", "I", "captured hops lost before the main loop read them"),
        Field("buffer_level_max", "B", "most captured hops waiting at once"),
        Field("_pad2", "3x"),
        Field("watchdog_resets", "I", "watchdog resets since power-on"),
        Field("watchdog_reason", "B", "WatchdogPhase the last watchdog reset interrupted"),
        Field("watchdog_rollbacks", "B", "trial images the bootloader rolled back after one"),
        Field("watchdog_last_boot", "B", "1 = this boot followed a watchdog reset (bypass on)"),
        Field("_pad3", "x"),
    ),
)

FAULT_REQUEST = Layout(
    "FAULT_REQUEST",
    "FAULT request payload (test builds only): arm a fault. The reply has no payload.",
    (
        Field("kind", "B", "FaultKind"),
        Field("_pad", "x"),
        Field("timeout_ms", "H", "watchdog time-out while the fault runs, ms; 0 = the board's"),
    ),
)

AUDIO_LOAD_REQUEST = Layout(
    "AUDIO_LOAD_REQUEST",
    "AUDIO_LOAD request payload header; followed by int16 LE samples written to the input "
    "tape from `offset` on. The reply has no payload.",
    (Field("offset", "I", "first tape sample to write"),),
)

AUDIO_START_REQUEST = Layout(
    "AUDIO_START_REQUEST",
    "AUDIO_START request payload. The reply is an AUDIO_STATUS reply: at once, or after the "
    "run when `wait` is 1 (nothing else then arrives during the run, so under -icount its "
    "timing repeats exactly).",
    (
        Field("n_hops", "I", "hops to run; the virtual codec plays its input tape's first hops"),
        Field("wait", "B", "1 = reply when the run has ended"),
        Field("_pad", "x"),
        Field("load_every", "H", "add load_us of busy work to every load_every-th hop; 0 = none"),
        Field("load_us", "I", "forced extra work per loaded hop, us of codec time"),
    ),
)

AUDIO_STATUS_REPLY = Layout(
    "AUDIO_STATUS_REPLY",
    "Reply payload of AUDIO_START, AUDIO_STATUS (no request payload) and AUDIO_STOP.",
    (
        Field("running", "B", "1 while the codec runs or hops are still being processed"),
        Field("source", "B", "AudioSource of this target"),
        Field("buffer_level", "B", "captured hops waiting now"),
        Field("buffer_level_max", "B", "most captured hops waiting at once"),
        Field("hop", "H", "samples per hop"),
        Field("path_delay_hops", "H", "hops the audio path adds (capture + playback buffers)"),
        Field("tape_samples", "I", "samples per tape (input and output); 0 = no tape"),
        Field("hops_captured", "I", "hops the codec captured this run"),
        Field("hops_processed", "I", "hops the main loop ran through the pipeline"),
        Field("deadline_misses", "I", "hops whose output missed its playback slot"),
        Field("underruns", "I", "playback slots the codec filled with silence"),
        Field("overruns", "I", "captured hops lost before the main loop read them"),
        Field("worst_lateness_us", "I", "latest a hop finished past its deadline, us"),
        Field("cost_max", "I", "dearest real-time hop, CostSource units"),
        Field("cost_total", "Q", "sum over the processed hops, CostSource units"),
    ),
)

AUDIO_READ_REQUEST = Layout(
    "AUDIO_READ_REQUEST",
    "AUDIO_READ request payload; the reply holds `count` int16 LE samples of the output tape.",
    (
        Field("offset", "I", "first tape sample to read"),
        Field("count", "H", "samples to read"),
        Field("_pad", "2x"),
    ),
)

SET_REQUEST = Layout(
    "SET_REQUEST",
    "SET request payload: apply the fields selected in `fields`.",
    (
        Field("fields", "B", "SetField bits"),
        Field("bypass", "B", "1 = pass audio through without the model"),
        Field("_pad", "2x"),
        Field("attenuation_db", "f", "largest attenuation the mask may apply, dB; 0 = unlimited"),
    ),
)

SAFETY_REPLY = Layout(
    "SAFETY_REPLY",
    "SAFETY reply payload (the request has no payload): the output safety stage.",
    (
        Field("limited_samples", "I", "output samples the limiter changed since RESET"),
        Field("trips", "I", "times the stage switched the model off since boot"),
        Field("tripped", "B", "1 = the model is bypassed until the next RESET"),
        Field("_pad", "3x"),
    ),
)

SET_REPLY = Layout(
    "SET_REPLY",
    "SET reply payload: the settings now in force.",
    (
        Field("bypass", "B", "1 = model bypassed"),
        Field("_pad", "3x"),
        Field("attenuation_db", "f", "attenuation limit, dB; 0 = unlimited"),
    ),
)

IDENTIFY_REPLY = Layout(
    "IDENTIFY_REPLY",
    "IDENTIFY reply payload (no request payload); followed by n_regions SLOT_INFO records.",
    (
        Field("mode", "B", "BootMode: who answered"),
        Field("reason", "B", "BootReason: why the bootloader runs"),
        Field("n_regions", "B", "SLOT_INFO records that follow"),
        Field("running_slot", "B", "region index of the running application, 0xFF = none"),
        Field("boot_version", "16s", "bootloader version, ASCII, NUL padded"),
        Field("target", "16s", "target the bootloader (or application) was built for"),
        Field("flash_base", "I", "address of flash offset 0"),
        Field("flash_size", "I", "bytes"),
        Field("sector_size", "I", "erase unit, bytes"),
        Field("write_align", "I", "program unit, bytes"),
        Field("flash_ops", "I", "erase/program operations since power-on"),
    ),
)

SLOT_INFO = Layout(
    "SLOT_INFO",
    "One flash region in an IDENTIFY reply.",
    (
        Field("kind", "B", "SlotKind (flash_layout): 0 boot, 1 state, 2 app, 3 model"),
        Field("state", "B", "SlotState"),
        Field("_pad", "2x"),
        Field("start", "I", "offset from flash_base, bytes"),
        Field("size", "I", "bytes"),
        Field("image_size", "I", "header + body + TLVs of the image, 0 when empty"),
        Field("ver_major", "B"),
        Field("ver_minor", "B"),
        Field("ver_revision", "H"),
        Field("ver_build", "I"),
        Field("image_hash", "32s", "the image's SHA-256 TLV (zeros when empty)"),
    ),
)

FLASH_RANGE = Layout(
    "FLASH_RANGE",
    "FLASH_ERASE and FLASH_HASH request payload: a range of flash offsets.",
    (
        Field("offset", "I", "from flash_base; ERASE: sector aligned"),
        Field("length", "I", "bytes; ERASE: whole sectors"),
    ),
)

FLASH_WRITE_REQUEST = Layout(
    "FLASH_WRITE_REQUEST",
    "FLASH_WRITE request payload header; followed by the data (a multiple of write_align).",
    (Field("offset", "I", "from flash_base, write_align aligned"),),
)

FLASH_HASH_REPLY = Layout(
    "FLASH_HASH_REPLY",
    "FLASH_HASH reply payload.",
    (Field("sha256", "32s", "SHA-256 of the range's bytes"),),
)

MARK_PENDING_REQUEST = Layout(
    "MARK_PENDING_REQUEST",
    "MARK_PENDING request payload: the next boot tries this slot's image once.",
    (
        Field("region", "B", "region index of an application slot"),
        Field("_pad", "3x"),
    ),
)

MODEL_ACTIVATE_REQUEST = Layout(
    "MODEL_ACTIVATE_REQUEST",
    "MODEL_ACTIVATE request payload: validate the model image in this slot and switch to it.",
    (
        Field("region", "B", "region index of a model slot"),
        Field("_pad", "3x"),
    ),
)

SECURITY_COUNTER_REPLY = Layout(
    "SECURITY_COUNTER_REPLY",
    "SECURITY_COUNTER reply payload (no request payload): the device's anti-rollback counter.",
    (
        Field("value", "I", "stored security counter: images with a lower SEC_CNT never boot"),
        Field("records", "H", "counter records used in its flash sector"),
        Field("capacity", "H", "records the sector holds (raises left: capacity - records)"),
        Field("keyed", "B", "1 = the bootloader checks signatures and enforces the counter"),
        Field("_pad", "3x"),
    ),
)

# Data bytes one FLASH_WRITE carries: half a 4 KB sector, well inside the payload limit.
FLASH_WRITE_CHUNK = 2048

LAYOUTS = (
    INFO_REPLY,
    PROCESS_REQUEST,
    PROCESS_REPLY,
    PROCESS_HOP,
    STATS_REPLY,
    SET_REQUEST,
    SET_REPLY,
    IDENTIFY_REPLY,
    SLOT_INFO,
    FLASH_RANGE,
    FLASH_WRITE_REQUEST,
    FLASH_HASH_REPLY,
    MARK_PENDING_REQUEST,
    MODEL_ACTIVATE_REQUEST,
    SECURITY_COUNTER_REPLY,
    AUDIO_LOAD_REQUEST,
    AUDIO_START_REQUEST,
    AUDIO_STATUS_REPLY,
    AUDIO_READ_REQUEST,
    SAFETY_REPLY,
    FAULT_REQUEST,
)


def tap_bytes(n_bins: int, state_size: int, n_features: int | None = None) -> int:
    """Tap bytes per hop: features (n_bins values unless told), state_in, mask, state_out
    (int8 each)."""
    return (n_bins if n_features is None else n_features) + n_bins + 2 * state_size


def process_max_hops(hop: int, taps_per_hop: int = 0) -> int:
    """Most hops one PROCESS exchange can carry, limited by the larger of request and reply."""
    request = (MAX_PAYLOAD - PROCESS_REQUEST.size) // (2 * hop)
    record = PROCESS_HOP.size + 2 * hop + taps_per_hop
    reply = (MAX_PAYLOAD - PROCESS_REPLY.size) // record
    return max(0, min(request, reply))


def cstr(raw: bytes) -> str:
    """A NUL-padded ASCII field as text."""
    return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace")
