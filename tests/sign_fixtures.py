"""Helpers for the signed-image tests and benchmark: keys, a keyed bootloader, tampered images.

Keys are generated here (imgtool keygen) into the caller's folder; nothing private is ever
committed. `KeyedRig` holds a bootloader built with key "a" and slot images signed in
several ways from the same slot builds as flash_fixtures.FlashRig.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from pathlib import Path

import flash_fixtures as ff

from hushkit import flash_build, flash_image, flash_layout, flash_sign
from hushkit.flash import FlashResult, _write_image
from hushkit.flash_client import FlashClient

LAYOUT = flash_layout.get(ff.TARGET)
SIG_BYTES = 64


def keygen(path: Path) -> Path:
    from imgtool.main import imgtool

    imgtool.main(["keygen", "-k", str(path), "-t", "ed25519"], standalone_mode=False)
    return path


@dataclasses.dataclass
class KeyedRig:
    boot_bin: Path
    keys: dict[str, Path]  # "a": built into the bootloader, "b": another key
    images: dict[str, Path]  # name -> slot-0 image (siblings per slot beside it)
    work: Path

    def fresh_flash(self, name: str) -> Path:
        path = self.work / name
        path.unlink(missing_ok=True)
        flash_build.new_flash_file(path, ff.TARGET, self.boot_bin)
        return path

    def slot_image(self, name: str, slot: str) -> bytes:
        return flash_image.slot_images(self.images[name], LAYOUT)[slot].data


def make_keyed_rig(rig: ff.FlashRig, build_root: Path, work: Path) -> KeyedRig:
    """Keys a and b, the bootloader built with a, and the slot builds of `rig` signed as:
    old 0.1.0 and new 0.1.1 (key a, security counter 2), newer_counter_down 0.1.2 (key a,
    counter 1), other_key 0.1.1 (key b), unsigned 0.1.1."""
    work.mkdir(parents=True, exist_ok=True)
    keys = {name: keygen(work / f"test-only-{name}.pem") for name in ("a", "b")}
    boot = flash_build.build_bootloader(ff.TARGET, build_root, keys["a"])
    plan = {
        "old": ("0.1.0", keys["a"], 2),
        "new": ("0.1.1", keys["a"], 2),
        "newer_counter_down": ("0.1.2", keys["a"], 1),
        "other_key": ("0.1.1", keys["b"], 2),
        "unsigned": ("0.1.1", None, None),
    }
    images = {
        name: ff.sign_versions(
            rig.slot_elfs, work / name, version, key=key, security_counter=counter
        )
        for name, (version, key, counter) in plan.items()
    }
    return KeyedRig(boot.with_suffix(".bin"), keys, images, work)


# ---- tampering ---------------------------------------------------------------------------


def _tlv_offsets(data: bytes) -> dict[int, int]:
    """Offset of each TLV's value in the (unprotected) TLV area: type -> offset."""
    _, _, hdr_size, prot_size, img_size, *_ = flash_image.HEADER.unpack_from(data)
    area = hdr_size + img_size + prot_size
    _, total = flash_image.TLV_INFO.unpack_from(data, area)
    pos, out = area + flash_image.TLV_INFO.size, {}
    while pos < area + total:
        kind, length = flash_image.TLV_HDR.unpack_from(data, pos)
        out.setdefault(kind, pos + flash_image.TLV_HDR.size)
        pos += flash_image.TLV_HDR.size + length
    return out


def rehash(data: bytearray) -> bytearray:
    """Put the right SHA-256 TLV back after the signed part was changed (as an attacker
    would), so only the signature can tell."""
    _, _, hdr_size, prot_size, img_size, *_ = flash_image.HEADER.unpack_from(data)
    at = _tlv_offsets(bytes(data))[flash_layout.TLV_SHA256]
    data[at : at + 32] = hashlib.sha256(data[: hdr_size + img_size + prot_size]).digest()
    return data


def flip_body_bit(image: bytes) -> bytes:
    data = bytearray(image)
    data[flash_layout.IMAGE_HEADER_SIZE + 1000] ^= 0x01
    return bytes(rehash(data))


def flip_signature_bit(image: bytes) -> bytes:
    data = bytearray(image)
    data[_tlv_offsets(image)[flash_layout.TLV_ED25519] + 10] ^= 0x01
    return bytes(data)


def forge_keyhash(image: bytes, key: Path) -> bytes:
    """An image signed with one key claiming (KEYHASH TLV) to be signed with `key`."""
    data = bytearray(image)
    at = _tlv_offsets(image)[flash_layout.TLV_KEYHASH]
    data[at : at + 32] = flash_sign.key_hash(flash_sign.load_key(key))
    return bytes(data)


# ---- on the device ----------------------------------------------------------------------


def write_raw(client: FlashClient, data: bytes, slot: str) -> None:
    """Write image bytes into an application slot as they are (no host-side checks)."""
    region = LAYOUT.region(slot)
    _write_image(client, data, region, LAYOUT, FlashResult(slot=slot, image_sha256=""), False)
    assert client.hash(region.start, len(data)) == hashlib.sha256(data).digest()


def write_pending_trailer(client: FlashClient, slot: str) -> None:
    """Mark a slot pending by writing its trailer magic directly, bypassing MARK_PENDING."""
    region = LAYOUT.region(slot)
    sector = region.start + region.size - LAYOUT.sector
    client.erase(sector, LAYOUT.sector)
    magic = flash_layout.TRAILER_MAGIC
    client.write(region.start + region.size - len(magic), magic)


def index(slot: str) -> int:
    return LAYOUT.regions.index(LAYOUT.region(slot))


def verify_instructions(detail: str) -> int:
    """N of the keyed bootloader's "signature checked in N instructions"."""
    words = detail.split()
    return int(words[words.index("in") + 1])


# ---- the security counter ---------------------------------------------------------------


def stored_counter(flash_file: Path) -> tuple[int, int]:
    """(counter, records not erased) read from an emulator flash file, as boot_seccnt.c."""
    data = flash_file.read_bytes()
    start, size = LAYOUT.seccnt_start, flash_layout.SECCNT_RECORD_SIZE
    value = used = 0
    for off in range(start, start + LAYOUT.sector, size):
        rec = data[off : off + size]
        if rec == b"\xff" * size:
            continue
        used += 1
        magic, v, inv, inv_magic = struct.unpack("<4I", rec)
        if magic == flash_layout.SECCNT_MAGIC and inv == v ^ 0xFFFFFFFF and (
            inv_magic == flash_layout.SECCNT_MAGIC ^ 0xFFFFFFFF
        ):
            value = max(value, v)
    return value, used


def set_copy_done(client, slot: str) -> None:
    """The trailer of a slot booted once and never confirmed (what a crash leaves)."""
    region = LAYOUT.region(slot)
    align = flash_layout.TRAILER_MAX_ALIGN
    at = region.start + region.size - len(flash_layout.TRAILER_MAGIC) - 2 * align
    client.write(at, bytes([flash_layout.TRAILER_FLAG_SET]) + b"\xff" * 7)
