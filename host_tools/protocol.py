"""The serial protocol between the host tools and the firmware: the one definition.

Everything about the wire lives here: version, opcodes, status codes with their messages,
payload layouts (explicit little-endian `struct` formats), limits, and the frame codec.
`python -m hushkit.codegen` writes `firmware/core/include/hush_protocol.h` from this module,
and a test fails if the committed header drifts from it.

Frame on the wire (both directions):

    COBS( header | payload | CRC32-LE(header | payload) ) 0x00

    header  <BBHH  opcode, status, seq, payload length (bytes)

COBS removes every 0x00 from the frame, so 0x00 only ever marks a frame's end and a receiver
resynchronises on the next one after line noise. The CRC is IEEE 802.3 (zlib.crc32). Requests
carry status 0; a reply echoes the request's seq and sets REPLY_FLAG in the opcode. A frame
the device could not read (bad CRC, bad COBS, too long) is answered with an error status and
as much of the request header as it could read.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import struct
import zlib

# v2: STATS_REPLY gained the real-time audio path's counters (appended fields).
# v3: STATS_REPLY gained the watchdog's counters (appended fields).
PROTOCOL_VERSION = 3

HEADER = struct.Struct("<BBHH")  # opcode, status, seq, payload length
CRC = struct.Struct("<I")  # CRC32 (IEEE, zlib.crc32) of header | payload
MAX_PAYLOAD = 4096  # bytes; sizes the device's receive and reply buffers (~4 KB each)
MAX_RAW_FRAME = HEADER.size + MAX_PAYLOAD + CRC.size
COBS_BLOCK = 254  # data bytes per COBS code byte at most
REPLY_FLAG = 0x80  # set in the opcode of every reply
DELIMITER = b"\x00"


def cobs_overhead(raw_len: int) -> int:
    """Worst-case bytes COBS adds to `raw_len` bytes (not counting the delimiter)."""
    return 1 + raw_len // COBS_BLOCK


MAX_ENCODED_FRAME = MAX_RAW_FRAME + cobs_overhead(MAX_RAW_FRAME) + len(DELIMITER)


class Opcode(enum.IntEnum):
    """Requests the device understands (a reply carries `opcode | REPLY_FLAG`)."""

    NONE = 0x00  # in error replies to frames whose header could not be read
    INFO = 0x01
    PROCESS = 0x02
    STATS = 0x03
    SET = 0x04
    RESET = 0x05
    # Flashing (0x10-0x1F). IDENTIFY is answered by the bootloader and the application; the
    # flash commands only by the bootloader; ENTER_BOOTLOADER only by the application.
    IDENTIFY = 0x10
    FLASH_ERASE = 0x11
    FLASH_WRITE = 0x12
    FLASH_HASH = 0x13
    MARK_PENDING = 0x14
    BOOT = 0x15
    ENTER_BOOTLOADER = 0x16
    MODEL_ACTIVATE = 0x17  # application: validate the model in a model slot, switch to it
    # The real-time audio path (hal_audio.h), 0x20-0x2F.
    AUDIO_LOAD = 0x20  # write input samples to the virtual codec's tape
    AUDIO_START = 0x21  # start capture -> per-hop pipeline -> playback
    AUDIO_STATUS = 0x22  # counters of the running (or last) run
    AUDIO_READ = 0x23  # read played samples back from the virtual codec's tape
    AUDIO_STOP = 0x24  # stop the run
    # 0x30-0x3F: reliability
    SAFETY = 0x30  # output safety stage counters (limiter, fall back to bypass)
    # Test builds only (firmware built with HUSH_TEST_HOOKS); release firmware answers
    # UNKNOWN_OPCODE: arm a fault (FaultKind) to exercise the watchdog.
    FAULT = 0x31


class Status(enum.IntEnum):
    OK = 0
    BAD_CRC = 1
    BAD_FRAME = 2
    FRAME_TOO_LONG = 3
    UNKNOWN_OPCODE = 4
    BAD_LENGTH = 5
    BAD_ARGUMENT = 6
    MODEL_NOT_LOADED = 7
    REPLY_TOO_LARGE = 8
    PIPELINE_ERROR = 9
    # Flashing (20-39).
    OUTSIDE_SLOTS = 20
    FLASH_FAILED = 21
    NOT_ALIGNED = 22
    NO_BOOTABLE_IMAGE = 23
    BAD_IMAGE = 24
    NOT_IN_BOOTLOADER = 25
    NO_BOOTLOADER = 26
    MODEL_INVALID = 27
    SLOT_IN_USE = 28
    # Signed images (a bootloader built with a public key).
    IMAGE_UNSIGNED = 29
    BAD_SIGNATURE = 30
    WRONG_KEY = 31
    DOWNGRADE = 32
    # The real-time audio path, 40-49.
    AUDIO_BUSY = 40
    AUDIO_NO_TAPE = 41
    AUDIO_RANGE = 42
    AUDIO_CONFIG = 43


STATUS_MESSAGES: dict[Status, str] = {
    Status.OK: "ok",
    Status.BAD_CRC: "the device saw a CRC mismatch (bytes corrupted on the link)",
    Status.BAD_FRAME: "the device received a malformed frame (bad COBS or shorter than a header)",
    Status.FRAME_TOO_LONG: f"the frame exceeds the device's {MAX_PAYLOAD}-byte payload limit",
    Status.UNKNOWN_OPCODE: "the firmware does not know this command (protocol mismatch?)",
    Status.BAD_LENGTH: "the payload length does not fit the command",
    Status.BAD_ARGUMENT: "a command argument is out of range",
    Status.MODEL_NOT_LOADED: "no model is loaded on the device (see `hushkit info`)",
    Status.REPLY_TOO_LARGE: "the reply would exceed the payload limit: send fewer hops",
    Status.PIPELINE_ERROR: "the audio pipeline reported an error",
    Status.OUTSIDE_SLOTS: "the range is not inside one application or model slot",
    Status.FLASH_FAILED: "the flash refused the operation (programming unerased memory?)",
    Status.NOT_ALIGNED: "address or length is not aligned to the flash's erase/program unit",
    Status.NO_BOOTABLE_IMAGE: "no slot holds an image that verifies for this target",
    Status.BAD_IMAGE: "the slot's image does not verify (magic, hash, target or address)",
    Status.NOT_IN_BOOTLOADER: "flash commands are answered by the bootloader only",
    Status.NO_BOOTLOADER: "this firmware was not started by hushkit's bootloader",
    Status.MODEL_INVALID: "the device rejected the model; the previous model keeps running",
    Status.SLOT_IN_USE: "that slot holds what is running now: write the other one",
    Status.IMAGE_UNSIGNED: "the image is not signed and this bootloader only runs signed "
    "images: sign it (`hushkit build --sign-key KEY.pem`, `model push --sign-key KEY.pem`)",
    Status.BAD_SIGNATURE: "the image's Ed25519 signature does not verify (corrupted or "
    "tampered image); the device keeps the image it has",
    Status.WRONG_KEY: "the image is signed with another key than the one built into the "
    "bootloader",
    Status.DOWNGRADE: "the image is older (version or security counter) than the one on the "
    "device: downgrades are refused",
    Status.AUDIO_BUSY: "the real-time audio path is running: wait for it or send AUDIO_STOP",
    Status.AUDIO_NO_TAPE: "this target's audio codec has no tape (a real codec): nothing to "
    "load or read",
    Status.AUDIO_RANGE: "samples or hops outside the audio tape",
    Status.AUDIO_CONFIG: "the audio codec cannot run this hop / sample rate",
}


class ProcessFlag(enum.IntFlag):
    TAPS = 0x01  # also return the int8 tensors of every hop (features, state, mask)


class SetField(enum.IntFlag):
    """Which SET fields to apply; a SET with no field only reads the settings back."""

    BYPASS = 0x01
    ATTENUATION = 0x02


class CostSource(enum.IntEnum):
    """What the per-hop cost counts."""

    NONE = 0  # no counter on this target: costs read 0
    SYSTICK_ICOUNT = 1  # SysTick under QEMU -icount shift=0: instructions (1 per ns)
    DWT_CYCLES = 2  # DWT CYCCNT on hardware: core clock cycles


class AudioSource(enum.IntEnum):
    """Where the real-time path's samples come from and go to."""

    NONE = 0  # no real-time audio path on this target
    VIRTUAL_TAPE = 1  # virtual codec: a hop-rate timer interrupt plays a tape in memory
    I2S_DMA = 2  # I2S microphone and DAC, circular DMA


COST_UNITS = {
    CostSource.NONE: "n/a",
    CostSource.SYSTICK_ICOUNT: "instructions",
    CostSource.DWT_CYCLES: "cycles",
}


class WatchdogPhase(enum.IntEnum):
    """What the firmware was doing when the watchdog reset it (the reset's reason)."""

    NONE = 0  # no watchdog reset since power-on
    IDLE = 1  # waiting for work (the idle loop feeds the watchdog: never a reason)
    LOOP = 2  # the main loop, between a request and the next
    HOP = 3  # a hop of a PROCESS request (the model or the DSP never returned)
    AUDIO = 4  # a hop of the real-time audio path
    COMMAND = 5  # another command (model push, flash write...)


WATCHDOG_PHASE_TEXT = {
    WatchdogPhase.NONE: "none",
    WatchdogPhase.IDLE: "idle",
    WatchdogPhase.LOOP: "main loop",
    WatchdogPhase.HOP: "stuck in a PROCESS hop",
    WatchdogPhase.AUDIO: "stuck in a real-time audio hop",
    WatchdogPhase.COMMAND: "stuck in a command",
}


class FaultKind(enum.IntEnum):
    """FAULT request (test builds): what goes wrong."""

    NONE = 0  # disarm
    HANG_HOP = 1  # the next PROCESS hop never returns (and never feeds the watchdog)


class BootMode(enum.IntEnum):
    """Who answered IDENTIFY."""

    APPLICATION = 0
    BOOTLOADER = 1


class BootReason(enum.IntEnum):
    """Why the bootloader is running instead of an application."""

    NONE = 0  # an application answered
    NO_IMAGE = 1  # no slot holds an image that verifies
    FORCED = 2  # the forced-bootloader flag (state area) or pin was set
    REQUESTED = 3  # ENTER_BOOTLOADER from the application


class SlotState(enum.IntEnum):
    """A slot as IDENTIFY reports it (MCUboot image trailer semantics, direct-xip revert)."""

    EMPTY = 0  # no image header
    INVALID = 1  # a header, but the image does not verify (hash, target, address, size)
    VALID = 2  # verifies, no trailer magic: bootable when nothing better is
    PENDING = 3  # trailer magic set, not tried yet: the next boot tries it
    TESTING = 4  # booted once (copy_done), not confirmed: reverted at the next boot
    CONFIRMED = 5  # the application confirmed it (image_ok)


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
        Field("_pad", "x"),
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
    "(features[n_bins], state_in[state_size], mask[n_bins], state_out[state_size]).",
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
    AUDIO_LOAD_REQUEST,
    AUDIO_START_REQUEST,
    AUDIO_STATUS_REPLY,
    AUDIO_READ_REQUEST,
    SAFETY_REPLY,
    FAULT_REQUEST,
)


def tap_bytes(n_bins: int, state_size: int) -> int:
    """Tap bytes per hop: features, state_in, mask, state_out (int8 each)."""
    return 2 * n_bins + 2 * state_size


def process_max_hops(hop: int, taps_per_hop: int = 0) -> int:
    """Most hops one PROCESS exchange can carry, limited by the larger of request and reply."""
    request = (MAX_PAYLOAD - PROCESS_REQUEST.size) // (2 * hop)
    record = PROCESS_HOP.size + 2 * hop + taps_per_hop
    reply = (MAX_PAYLOAD - PROCESS_REPLY.size) // record
    return max(0, min(request, reply))


def definition() -> dict:
    """Everything the wire format depends on, as plain data (hashed into the C header)."""
    return {
        "protocol_version": PROTOCOL_VERSION,
        "header": HEADER.format,
        "crc": ["crc32-ieee", CRC.format],
        "max_payload": MAX_PAYLOAD,
        "reply_flag": REPLY_FLAG,
        "opcodes": {o.name: o.value for o in Opcode},
        "statuses": {s.name: [s.value, STATUS_MESSAGES[s]] for s in Status},
        "process_flags": {f.name: f.value for f in ProcessFlag},
        "set_fields": {f.name: f.value for f in SetField},
        "cost_sources": {c.name: c.value for c in CostSource},
        "boot_modes": {m.name: m.value for m in BootMode},
        "boot_reasons": {m.name: m.value for m in BootReason},
        "slot_states": {m.name: m.value for m in SlotState},
        "audio_sources": {a.name: a.value for a in AudioSource},
        "watchdog_phases": {w.name: w.value for w in WatchdogPhase},
        "fault_kinds": {f.name: f.value for f in FaultKind},
        "layouts": {lay.name: [[f.name, f.fmt] for f in lay.fields] for lay in LAYOUTS},
    }


def definition_hash() -> str:
    blob = json.dumps(definition(), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


# ---- frame codec ------------------------------------------------------------------------


class FrameError(ValueError):
    """Bytes that are not a valid frame (COBS, length or CRC)."""


@dataclasses.dataclass(frozen=True)
class Frame:
    opcode: int
    seq: int
    payload: bytes = b""
    status: int = Status.OK


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode `data` (no delimiter): the output holds no 0x00 byte."""
    out = bytearray()
    for chunk in bytes(data).split(b"\x00"):
        # Each zero-free chunk becomes blocks of at most 254 bytes; a full block (code 0xFF)
        # carries no implicit zero, so a chunk of exactly 254 bytes still ends in code 0x01.
        while len(chunk) >= COBS_BLOCK:
            out.append(COBS_BLOCK + 1)
            out += chunk[:COBS_BLOCK]
            chunk = chunk[COBS_BLOCK:]
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Invert `cobs_encode`; raise FrameError on a zero byte or a truncated block."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            raise FrameError(f"COBS: zero byte at offset {i}")
        end = i + code
        if end > len(data):
            raise FrameError("COBS: block runs past the end of the frame")
        block = data[i + 1 : end]
        if 0 in block:
            raise FrameError("COBS: zero byte inside a block")
        out += block
        i = end
        if code != COBS_BLOCK + 1 and i < len(data):
            out.append(0)
    return bytes(out)


def encode_frame(frame: Frame) -> bytes:
    """The bytes to send for `frame`, delimiter included."""
    if len(frame.payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(frame.payload)} bytes exceeds {MAX_PAYLOAD}")
    raw = HEADER.pack(frame.opcode, frame.status, frame.seq & 0xFFFF, len(frame.payload))
    raw += frame.payload
    return cobs_encode(raw + CRC.pack(crc32(raw))) + DELIMITER


def decode_frame(encoded: bytes) -> Frame:
    """Parse one frame's bytes (with or without the trailing delimiter)."""
    raw = cobs_decode(encoded[:-1] if encoded.endswith(DELIMITER) else encoded)
    if len(raw) < HEADER.size + CRC.size:
        raise FrameError(f"frame of {len(raw)} bytes is shorter than header + CRC")
    body, (crc,) = raw[: -CRC.size], CRC.unpack(raw[-CRC.size :])
    if crc32(body) != crc:
        raise FrameError(f"CRC mismatch: frame says {crc:08x}, bytes give {crc32(body):08x}")
    opcode, status, seq, length = HEADER.unpack_from(body)
    payload = body[HEADER.size :]
    if length != len(payload):
        raise FrameError(f"header says {length} payload bytes, frame holds {len(payload)}")
    return Frame(opcode=opcode, seq=seq, payload=payload, status=status)


def status_message(status: int) -> str:
    try:
        return STATUS_MESSAGES[Status(status)]
    except ValueError:
        return f"unknown status {status} (firmware newer than these host tools?)"


def cstr(raw: bytes) -> str:
    """A NUL-padded ASCII field as text."""
    return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace")
