"""Flash layout per target: the one definition of where the bootloader, slots and state live.

    python -m hushkit.flash_layout            # rewrite firmware/boot/layout/<target>/*
    python -m hushkit.flash_layout --check    # exit 1 if a committed file is stale

For each target that boots through hushkit's bootloader this writes the C header the
bootloader and the application share (`flash_layout.h`: addresses, sizes, slot table, the
image format constants and the protocol enums the flash commands use) and the linker scripts:
`boot.ld` (the bootloader at the boot address) and `app_slot<N>.ld` (the application linked
to run in place from slot N, after its MCUboot header). The host tools read the same table.

Slots run in place (MCUboot's "direct-xip"): an update goes into the inactive application
slot, which holds an image linked for that slot; the running one is never written.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import hashlib
import json
import sys
from pathlib import Path

from hushkit import protocol as p

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYOUT_DIR = REPO_ROOT / "firmware" / "boot" / "layout"
GENERATOR = "python -m hushkit.flash_layout (host_tools/flash_layout.py)"

# MCUboot image format (docs.mcuboot.com/design): header, then the body, then TLVs.
IMAGE_MAGIC = 0x96F3B83D
IMAGE_HEADER_SIZE = 0x200  # header padded to 512 bytes: keeps the vector table 512-aligned
TLV_INFO_MAGIC = 0x6907
TLV_PROT_INFO_MAGIC = 0x6908
TLV_SHA256 = 0x10
# Signed images (imgtool --key): the SHA-256 of the signer's public key (DER
# SubjectPublicKeyInfo), the Ed25519 signature of the image's SHA-256, and the protected
# security counter (imgtool --security-counter).
TLV_KEYHASH = 0x01
TLV_ED25519 = 0x24
TLV_SEC_CNT = 0x50
IMAGE_F_ROM_FIXED = 0x100
# The bootloader's service table (firmware/boot/include/boot_sig.h) sits in the last bytes of
# the boot region, so an application finds it at a fixed address.
BOOT_API_SIZE = 64
# hushkit's own protected TLV (vendor range 0xa0..0xfffe): the build target, ASCII.
TLV_TARGET = 0xA0
# Trailer at the end of each slot (imgtool with max_align 8): magic in the last 16 bytes,
# image_ok 8 bytes before it, copy_done 8 before that.
TRAILER_MAX_ALIGN = 8
TRAILER_MAGIC = bytes.fromhex("77c295f360d2ef7f3552500f2cb67980")
TRAILER_FLAG_SET = 0x01
# The security counter (anti-rollback, MCUboot's MCUBOOT_HW_ROLLBACK_PROT in spirit) lives in
# the last sector of the state region, which only the bootloader's code writes and nothing
# ever erases: append-only records of 16 bytes, {SECCNT_MAGIC, value, ~value, ~SECCNT_MAGIC}
# (u32, little-endian), each programmed once into erased flash. The stored counter is the
# largest value of the records that read back whole; a record torn by a power cut (only some
# of its bits cleared) fails the complement checks and is skipped, so the counter can only
# grow. 4096 / 16 = 256 raises per device.
SECCNT_MAGIC = 0x544E4353  # "SCNT"
SECCNT_RECORD_SIZE = 16


class SlotKind(enum.IntEnum):
    BOOT = 0
    STATE = 1
    APP = 2
    MODEL = 3


@dataclasses.dataclass(frozen=True)
class Region:
    name: str
    kind: SlotKind
    start: int  # offset from the flash base, bytes
    size: int  # bytes


@dataclasses.dataclass(frozen=True)
class FlashLayout:
    target: str
    base: int  # address of flash offset 0 in the CPU's map
    size: int  # bytes of flash the layout covers (the emulator's flash file size)
    sector: int  # erase unit, bytes (uniform)
    write_align: int  # program unit, bytes
    ram_base: int
    ram_size: int
    mailbox_size: int  # top of RAM kept across resets (not zeroed by either image)
    regions: tuple[Region, ...]

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

    def kind(self, kind: SlotKind) -> list[Region]:
        return [r for r in self.regions if r.kind == kind]

    @property
    def app_slots(self) -> list[Region]:
        return self.kind(SlotKind.APP)

    @property
    def model_slots(self) -> list[Region]:
        return self.kind(SlotKind.MODEL)

    @property
    def seccnt_start(self) -> int:
        """Offset of the security counter's sector: the state region's last one."""
        state = self.region("state")
        return state.start + state.size - self.sector

    def max_image_size(self, slot: Region) -> int:
        """Image bytes a slot holds: all of it but its last sector (the trailer's)."""
        return slot.size - self.sector

    def check(self) -> None:
        end = 0
        for r in sorted(self.regions, key=lambda r: r.start):
            if r.start < end or r.start % self.sector or r.size % self.sector:
                raise ValueError(f"{self.target}: region {r.name} overlaps or is unaligned")
            end = r.start + r.size
        if end > self.size:
            raise ValueError(f"{self.target}: regions exceed the {self.size}-byte flash")
        if self.regions[0].kind != SlotKind.BOOT or self.regions[0].start != 0:
            raise ValueError(f"{self.target}: the bootloader must sit at the boot address")
        if self.region("state").size < 2 * self.sector:
            raise ValueError(
                f"{self.target}: the state region needs two sectors (flags, security counter)"
            )


KB = 1024
LAYOUTS: dict[str, FlashLayout] = {
    # mps2-an386: the 4 MB code SSRAM at 0x0 holds 1 MB of emulated NOR flash (4 KB sectors),
    # loaded from and written through to a host file; the first 64 KB is the bootloader.
    "qemu-m4": FlashLayout(
        target="qemu-m4",
        base=0x00000000,
        size=1024 * KB,
        sector=4 * KB,
        write_align=8,
        ram_base=0x20000000,
        ram_size=4096 * KB,
        mailbox_size=256,
        regions=(
            Region("boot", SlotKind.BOOT, 0x00000, 64 * KB),
            # Sector 0: the forced-bootloader flag; sector 1: the security counter.
            Region("state", SlotKind.STATE, 0x10000, 8 * KB),
            Region("app0", SlotKind.APP, 0x20000, 320 * KB),
            Region("app1", SlotKind.APP, 0x70000, 320 * KB),
            Region("model0", SlotKind.MODEL, 0xC0000, 128 * KB),
            Region("model1", SlotKind.MODEL, 0xE0000, 128 * KB),
        ),
    ),
}


def get(target: str) -> FlashLayout:
    try:
        return LAYOUTS[target]
    except KeyError:
        raise ValueError(
            f"target {target!r} has no flash layout (hushkit's bootloader runs on: "
            f"{', '.join(LAYOUTS)})"
        ) from None


# ---- generated files --------------------------------------------------------------------


def _hash(layout: FlashLayout) -> str:
    blob = json.dumps(
        {
            "layout": dataclasses.asdict(layout),
            "enums": [
                {m.name: m.value for m in e} for e in (p.SlotState, p.BootMode, p.BootReason)
            ],
        },
        sort_keys=True,
        default=int,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _banner(layout: FlashLayout, what: str) -> list[str]:
    return [
        f"/* {what} for {layout.target}.",
        f" * GENERATED by {GENERATOR}",
        f" * from layout definition sha256 {_hash(layout)}.",
        " * Do not edit: change host_tools/flash_layout.py and regenerate. */",
    ]


def _define(name: str, value: object, comment: str = "") -> str:
    text = f"#define {name} {value}"
    return f"{text:<52} /* {comment} */" if comment else text


def render_header(layout: FlashLayout) -> str:
    lines = _banner(layout, "flash_layout.h: flash map and image format")
    lines += ["#ifndef HUSH_FLASH_LAYOUT_H", "#define HUSH_FLASH_LAYOUT_H", ""]
    lines += [
        _define("HUSH_FLASH_TARGET", f'"{layout.target}"'),
        _define("HUSH_FLASH_BASE", f"0x{layout.base:08X}u", "address of flash offset 0"),
        _define("HUSH_FLASH_SIZE", f"0x{layout.size:08X}u", "bytes"),
        _define("HUSH_FLASH_SECTOR", f"0x{layout.sector:X}u", "erase unit, bytes"),
        _define("HUSH_FLASH_WRITE_ALIGN", f"{layout.write_align}u", "program unit, bytes"),
        _define("HUSH_RAM_BASE", f"0x{layout.ram_base:08X}u"),
        _define("HUSH_RAM_SIZE", f"0x{layout.ram_size:08X}u"),
        _define("HUSH_MAILBOX_SIZE", f"{layout.mailbox_size}u", "top of RAM, kept across resets"),
        _define(
            "HUSH_MAILBOX_ADDR",
            f"0x{layout.ram_base + layout.ram_size - layout.mailbox_size:08X}u",
        ),
        _define("HUSH_FLASH_N_REGIONS", f"{len(layout.regions)}u"),
        _define("HUSH_BOOT_API_ADDR", f"0x{boot_api_addr(layout):08X}u", "bootloader services"),
        _define("HUSH_BOOT_API_SIZE", f"{BOOT_API_SIZE}u"),
        "",
    ]
    for i, r in enumerate(layout.regions):
        name = r.name.upper()
        lines += [
            _define(f"HUSH_REGION_{name}_INDEX", f"{i}u"),
            _define(f"HUSH_REGION_{name}_START", f"0x{r.start:08X}u", "offset from base"),
            _define(f"HUSH_REGION_{name}_SIZE", f"0x{r.size:08X}u", "bytes"),
        ]
    lines += ["", "/* {kind, start offset, size} of every region, in flash order. */"]
    lines.append("#define HUSH_FLASH_REGIONS \\")
    rows = [f"    {{{r.kind.value}u, 0x{r.start:08X}u, 0x{r.size:08X}u}}" for r in layout.regions]
    lines.append(", \\\n".join(rows))
    lines += [
        "",
        "/* MCUboot image format (header, body, protected TLVs, TLVs; trailer at slot end). */",
        _define("HUSH_IMAGE_MAGIC", f"0x{IMAGE_MAGIC:08X}u"),
        _define("HUSH_IMAGE_HEADER_SIZE", f"0x{IMAGE_HEADER_SIZE:X}u", "ih_hdr_size we build"),
        _define("HUSH_IMAGE_TLV_INFO_MAGIC", f"0x{TLV_INFO_MAGIC:04X}u"),
        _define("HUSH_IMAGE_TLV_PROT_INFO_MAGIC", f"0x{TLV_PROT_INFO_MAGIC:04X}u"),
        _define("HUSH_IMAGE_TLV_SHA256", f"0x{TLV_SHA256:02X}u"),
        _define("HUSH_IMAGE_TLV_TARGET", f"0x{TLV_TARGET:02X}u", "hushkit: build target"),
        _define("HUSH_IMAGE_TLV_KEYHASH", f"0x{TLV_KEYHASH:02X}u", "SHA-256 of the public key"),
        _define("HUSH_IMAGE_TLV_ED25519", f"0x{TLV_ED25519:02X}u", "signature of the hash"),
        _define("HUSH_IMAGE_TLV_SEC_CNT", f"0x{TLV_SEC_CNT:02X}u", "protected, uint32"),
        _define("HUSH_IMAGE_F_ROM_FIXED", f"0x{IMAGE_F_ROM_FIXED:X}u"),
        _define("HUSH_TRAILER_MAX_ALIGN", f"{TRAILER_MAX_ALIGN}u"),
        _define("HUSH_TRAILER_FLAG_SET", f"0x{TRAILER_FLAG_SET:02X}u"),
        _define("HUSH_SECCNT_START", f"0x{layout.seccnt_start:08X}u", "security counter"),
        _define("HUSH_SECCNT_SIZE", f"0x{layout.sector:X}u", "bytes, never erased"),
        _define("HUSH_SECCNT_MAGIC", f"0x{SECCNT_MAGIC:08X}u"),
        _define("HUSH_SECCNT_RECORD_SIZE", f"{SECCNT_RECORD_SIZE}u", "bytes"),
        "#define HUSH_TRAILER_MAGIC {" + ", ".join(f"0x{b:02X}" for b in TRAILER_MAGIC) + "}",
        "",
    ]
    for tag, prefix, members in (
        ("hush_slot_kind", "HUSH_SLOT_KIND_", SlotKind),
        ("hush_slot_state", "HUSH_SLOT_", p.SlotState),
        ("hush_boot_mode", "HUSH_MODE_", p.BootMode),
        ("hush_boot_reason", "HUSH_REASON_", p.BootReason),
    ):
        lines.append(f"enum {tag} {{")
        lines += [f"    {prefix}{m.name} = {m.value}," for m in members]
        lines += ["};", ""]
    lines += ["#endif /* HUSH_FLASH_LAYOUT_H */", ""]
    return "\n".join(lines)


def boot_api_addr(layout: FlashLayout) -> int:
    boot = layout.region("boot")
    return layout.base + boot.start + boot.size - BOOT_API_SIZE


def _ld(layout: FlashLayout, what: str, origin: int, length: int, boot_api: bool = False) -> str:
    lines = _banner(layout, what)
    ram_len = layout.ram_size - layout.mailbox_size
    lines += [
        "MEMORY",
        "{",
        f"    FLASH (rx) : ORIGIN = 0x{layout.base + origin:08X}, LENGTH = 0x{length:X}",
    ]
    if boot_api:
        lines.append(
            f"    BOOT_API (r) : ORIGIN = 0x{boot_api_addr(layout):08X}, "
            f"LENGTH = 0x{BOOT_API_SIZE:X}"
        )
    lines += [
        f"    RAM (rwx)  : ORIGIN = 0x{layout.ram_base:08X}, LENGTH = 0x{ram_len:X}",
        "}",
        "",
    ]
    if boot_api:
        lines += [
            "/* The service table applications call (boot_sig.h), at a fixed address. */",
            "SECTIONS",
            "{",
            "    .boot_api : { KEEP(*(.boot_api)) } > BOOT_API",
            "}",
            "",
        ]
    lines += ["INCLUDE sections.ld", ""]
    return "\n".join(lines)


def render_files(layout: FlashLayout) -> dict[str, str]:
    layout.check()
    boot = layout.region("boot")
    files = {
        "flash_layout.h": render_header(layout),
        "boot.ld": _ld(
            layout,
            "boot.ld: the bootloader at the boot address",
            0,
            boot.size - BOOT_API_SIZE,
            boot_api=True,
        ),
    }
    for i, slot in enumerate(layout.app_slots):
        files[f"app_slot{i}.ld"] = _ld(
            layout,
            f"app_slot{i}.ld: the application running in place from {slot.name}",
            slot.start + IMAGE_HEADER_SIZE,
            layout.max_image_size(slot) - IMAGE_HEADER_SIZE - TLV_ROOM,
        )
    return files


# Bytes at the end of the image kept for its TLVs (SHA-256 + target), so the linker already
# refuses an application that would not fit its slot once signed.
TLV_ROOM = 256


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hushkit.flash_layout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=LAYOUT_DIR, help="folder of target folders")
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for layout in LAYOUTS.values():
        folder = args.out / layout.target
        for name, text in render_files(layout).items():
            path = folder / name
            if path.exists() and path.read_text() == text:
                continue
            stale.append(path)
            if not args.check:
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                print(f"wrote {path}")
    if args.check and stale:
        print(f"stale: {', '.join(map(str, stale))}: run `{GENERATOR.split(' (')[0]}`",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
