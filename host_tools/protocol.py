"""The serial protocol between the host tools and the firmware: the one definition.

The wire format is defined in three modules, and `python -m hushkit.codegen` writes
`firmware/core/include/hush_protocol.h` from all three (a test fails if the committed header
drifts from them):

- `hushkit.framing`: the frame (header, COBS, CRC32) and its codec;
- `hushkit.payloads`: the payload layout of every request and reply (explicit little-endian);
- this module: the protocol version, opcodes, status codes with their messages, the other
  enumerations the payloads carry, and `definition()`, everything above as plain data (its
  sha256 is written into the header, so host and firmware can tell they agree).
"""

from __future__ import annotations

import enum
import hashlib
import json

from hushkit import framing
from hushkit.payloads import LAYOUTS

# v2: STATS_REPLY gained the real-time audio path's counters (appended fields).
# v3: STATS_REPLY gained the watchdog's counters (appended fields).
PROTOCOL_VERSION = 3


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
    SECURITY_COUNTER = 0x18  # bootloader and application: the stored anti-rollback counter
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
    Status.FRAME_TOO_LONG: "the frame exceeds the device's "
    f"{framing.MAX_PAYLOAD}-byte payload limit",
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
    "device, or below the security counter the device stores: downgrades are refused",
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


def status_message(status: int) -> str:
    try:
        return STATUS_MESSAGES[Status(status)]
    except ValueError:
        return f"unknown status {status} (firmware newer than these host tools?)"


def definition() -> dict:
    """Everything the wire format depends on, as plain data (hashed into the C header)."""
    return {
        "protocol_version": PROTOCOL_VERSION,
        "header": framing.HEADER.format,
        "crc": ["crc32-ieee", framing.CRC.format],
        "max_payload": framing.MAX_PAYLOAD,
        "reply_flag": framing.REPLY_FLAG,
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
