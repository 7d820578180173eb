"""The flash commands of the protocol: IDENTIFY, FLASH_ERASE/WRITE/HASH, MARK_PENDING, BOOT,
SECURITY_COUNTER.

`FlashClient(link)` is a DeviceClient with one method per flash command; `identify()` works
against the bootloader and the application alike and says which one answered.
"""

from __future__ import annotations

import dataclasses
import time

from hushkit import payloads
from hushkit import protocol as p
from hushkit.client import DeviceClient, DeviceError
from hushkit.flash_layout import SlotKind

# How long a device takes to come back after a reset: QEMU's bootloader verifies a slot
# (SHA-256 of ~100 KB) and the application sets up its pipeline in well under a second.
RESET_WAIT_S = 10.0
POLL_TIMEOUT_S = 0.5  # per IDENTIFY while waiting for a device to come back


@dataclasses.dataclass(frozen=True)
class SlotInfo:
    index: int
    kind: SlotKind
    state: p.SlotState
    start: int
    size: int
    image_size: int
    version: str
    image_hash: str  # hex, "" when empty

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["state"] = self.state.name.lower()
        return d


@dataclasses.dataclass(frozen=True)
class Identity:
    mode: p.BootMode
    reason: p.BootReason
    running_slot: int | None
    boot_version: str
    target: str
    flash_base: int
    flash_size: int
    sector_size: int
    write_align: int
    flash_ops: int
    slots: tuple[SlotInfo, ...]

    def slot(self, index: int) -> SlotInfo:
        return self.slots[index]


def _enum(cls, value):
    try:
        return cls(value)
    except ValueError:
        raise DeviceError(
            f"IDENTIFY reply names an unknown {cls.__name__} {value}: the firmware is newer "
            "than these host tools (update them) or the reply was corrupted"
        ) from None


def parse_identity(payload: bytes) -> Identity:
    """The IDENTIFY reply; DeviceError for one these host tools cannot read."""
    head = payloads.IDENTIFY_REPLY.unpack(payload)
    if head["running_slot"] != 0xFF and head["running_slot"] >= head["n_regions"]:
        raise DeviceError(
            f"IDENTIFY reply says slot {head['running_slot']} runs, of {head['n_regions']}"
        )
    slots = []
    for i in range(head["n_regions"]):
        offset = payloads.IDENTIFY_REPLY.size + i * payloads.SLOT_INFO.size
        s = payloads.SLOT_INFO.unpack(payload, offset)
        version = f"{s['ver_major']}.{s['ver_minor']}.{s['ver_revision']}"
        if s["ver_build"]:
            version += f"+{s['ver_build']}"
        empty = s["state"] == p.SlotState.EMPTY
        slots.append(
            SlotInfo(
                index=i,
                kind=_enum(SlotKind, s["kind"]),
                state=_enum(p.SlotState, s["state"]),
                start=s["start"],
                size=s["size"],
                image_size=s["image_size"],
                version="" if empty else version,
                image_hash="" if empty else s["image_hash"].hex(),
            )
        )
    return Identity(
        mode=_enum(p.BootMode, head["mode"]),
        reason=_enum(p.BootReason, head["reason"]),
        running_slot=None if head["running_slot"] == 0xFF else head["running_slot"],
        boot_version=payloads.cstr(head["boot_version"]),
        target=payloads.cstr(head["target"]),
        flash_base=head["flash_base"],
        flash_size=head["flash_size"],
        sector_size=head["sector_size"],
        write_align=head["write_align"],
        flash_ops=head["flash_ops"],
        slots=tuple(slots),
    )


def security_counter(client: DeviceClient) -> dict | None:
    """The stored anti-rollback counter {value, records, capacity, keyed}, or None from
    firmware that predates SECURITY_COUNTER."""
    try:
        reply = client.transact(p.Opcode.SECURITY_COUNTER)
    except DeviceError as exc:
        if exc.status in (p.Status.UNKNOWN_OPCODE, p.Status.NO_BOOTLOADER):
            return None
        raise
    return payloads.SECURITY_COUNTER_REPLY.unpack(reply)


class FlashClient(DeviceClient):
    def identify(self) -> Identity:
        return parse_identity(self.transact(p.Opcode.IDENTIFY))

    def erase(self, offset: int, length: int) -> None:
        self.transact(p.Opcode.FLASH_ERASE, payloads.FLASH_RANGE.pack(offset=offset, length=length))

    def write(self, offset: int, data: bytes) -> None:
        self.transact(p.Opcode.FLASH_WRITE, payloads.FLASH_WRITE_REQUEST.pack(offset=offset) + data)

    def hash(self, offset: int, length: int) -> bytes:
        reply = self.transact(
            p.Opcode.FLASH_HASH, payloads.FLASH_RANGE.pack(offset=offset, length=length)
        )
        return payloads.FLASH_HASH_REPLY.unpack(reply)["sha256"]

    def mark_pending(self, region: int) -> str:
        """Mark an application slot to boot once; returns the reply's detail text (a keyed
        bootloader says what checking the image's signature cost)."""
        request = payloads.MARK_PENDING_REQUEST.pack(region=region)
        reply = self.transact(p.Opcode.MARK_PENDING, request)
        return reply.decode("ascii", errors="replace").strip("\x00")

    def security_counter(self) -> dict | None:
        """The device's stored anti-rollback counter (SECURITY_COUNTER: value, records,
        capacity, keyed), or None from firmware that does not know the command."""
        return security_counter(self)

    def boot(self) -> None:
        """Reset the device from the bootloader (it then picks and starts a slot)."""
        self.transact(p.Opcode.BOOT)

    def enter_bootloader(self) -> None:
        """Ask the running application to reset into the bootloader."""
        self.transact(p.Opcode.ENTER_BOOTLOADER)

    def wait_identity(self, accept, timeout: float = RESET_WAIT_S) -> Identity:
        """Poll IDENTIFY until `accept(identity)` holds (after a reset)."""
        deadline = time.monotonic() + timeout
        saved, self.timeout = self.timeout, POLL_TIMEOUT_S
        last: Identity | None = None
        try:
            while time.monotonic() < deadline:
                try:
                    last = self.identify()
                except DeviceError:
                    continue
                if accept(last):
                    return last
                time.sleep(POLL_TIMEOUT_S / 5)
        finally:
            self.timeout = saved
        state = f"{last.mode.name.lower()}" if last else "no answer"
        raise DeviceError(f"device did not come back as expected within {timeout:.0f} s ({state})")
