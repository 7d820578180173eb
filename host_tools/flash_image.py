"""MCUboot images for hushkit's bootloader: made by `imgtool sign`, read and checked here.

An application image is the raw binary of a slot build (linked to run in place from that
slot, after a 512-byte header), signed by imgtool with its SHA-256 TLV, the slot's address as
its fixed ROM address (IMAGE_F_ROM_FIXED) and a protected TLV naming the build target:

    imgtool sign --header-size 0x200 --pad-header --align 8 --version 0.1.0 \\
        --slot-size 0x50000 --rom-fixed 0x20000 --custom-tlv 0xa0 qemu-m4 fw.bin fw.img

`imgtool verify fw.img` and `imgtool dumpinfo fw.img` read the result. With a signing key
(`hushkit build --sign-key KEY.pem`) imgtool also gets `--key KEY.pem` (Ed25519: the
signature of the image's SHA-256 and the SHA-256 of the public key, MCUboot's
IMAGE_TLV_ED25519 and IMAGE_TLV_KEYHASH) and, when given, `--security-counter N` (protected
IMAGE_TLV_SEC_CNT); `imgtool verify -k KEY.pem fw.img` then checks the signature.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from pathlib import Path

from hushkit import flash_layout as fl
from hushkit.errors import HushkitError

HEADER = struct.Struct("<IIHHIIBBHI4x")  # MCUboot struct image_header (32 bytes)
TLV_INFO = struct.Struct("<HH")  # magic, total size (info header included)
TLV_HDR = struct.Struct("<HH")  # type, length
IMAGE_SUFFIX = ".img"
# Bytes an image adds to what it wraps: the padded header plus the TLV areas.
IMAGE_ROOM = 0x200 + 256


class ImageError(HushkitError, ValueError):
    """A file that is not a usable hushkit image; the message says why."""


@dataclasses.dataclass(frozen=True)
class Image:
    data: bytes  # header + body + TLVs
    load_addr: int
    flags: int
    version: str
    target: str | None
    sha256: bytes  # the SHA-256 TLV
    path: Path | None = None
    keyhash: bytes | None = None  # IMAGE_TLV_KEYHASH: SHA-256 of the signer's public key
    signature: bytes | None = None  # IMAGE_TLV_ED25519
    security_counter: int | None = None  # protected IMAGE_TLV_SEC_CNT

    @property
    def signed(self) -> bool:
        return self.signature is not None

    @property
    def rom_fixed(self) -> int | None:
        return self.load_addr if self.flags & fl.IMAGE_F_ROM_FIXED else None


def _tlvs(
    data: bytes, off: int, magic: int, what: str = "", strict: bool = False
) -> tuple[dict[int, bytes], int]:
    """One TLV area: type -> first value, and the area's size. `strict` (the host pre-check)
    also refuses an area smaller than its info header, a TLV running past the area's end and
    an area ending inside a TLV header."""
    area = f"{what} TLV area" if what else "TLV area"
    if off + TLV_INFO.size > len(data):
        raise ImageError(f"image truncated: its {area} is missing")
    got, total = TLV_INFO.unpack_from(data, off)
    if got != magic:
        raise ImageError(f"bad {area} magic 0x{got:04x} (expected 0x{magic:04x})")
    if off + total > len(data) or (strict and total < TLV_INFO.size):
        raise ImageError(f"{area} of {total} bytes does not fit the image")
    out: dict[int, bytes] = {}
    pos, end = off + TLV_INFO.size, off + total
    while pos + TLV_HDR.size <= end:
        kind, length = TLV_HDR.unpack_from(data, pos)
        pos += TLV_HDR.size
        if strict and pos + length > end:
            raise ImageError(f"a TLV runs past the end of the {area}")
        out.setdefault(kind, data[pos : pos + length])
        pos += length
    if strict and pos < end:
        raise ImageError(f"{area} ends inside a TLV header")
    return out, total


def parse(data: bytes, path: Path | None = None, strict: bool = False) -> Image:
    """Read an image and check its hash; raise ImageError on anything malformed. `strict`
    walks each TLV area to its exact end (`_tlvs`)."""
    if len(data) < HEADER.size:
        raise ImageError("file too short for an MCUboot header")
    magic, load, hdr_size, prot_size, img_size, flags, vmaj, vmin, vrev, vbuild = (
        HEADER.unpack_from(data)
    )
    if magic != fl.IMAGE_MAGIC:
        raise ImageError(f"not an MCUboot image (magic 0x{magic:08x})")
    off = hdr_size + img_size
    if off > len(data):
        raise ImageError(f"image truncated: header says {off} bytes of body, file has {len(data)}")
    prot: dict[int, bytes] = {}
    if prot_size:
        prot, total = _tlvs(data, off, fl.TLV_PROT_INFO_MAGIC, "protected", strict)
        if total != prot_size:
            raise ImageError("protected TLV size disagrees with the header")
    tlvs, total = _tlvs(data, off + prot_size, fl.TLV_INFO_MAGIC, strict=strict)
    digest = tlvs.get(fl.TLV_SHA256)
    if digest is None or len(digest) != 32:
        raise ImageError("image has no SHA-256 TLV")
    if hashlib.sha256(data[: off + prot_size]).digest() != digest:
        raise ImageError("image hash does not match its contents (corrupted image)")
    target = prot.get(fl.TLV_TARGET)
    counter = prot.get(fl.TLV_SEC_CNT)
    version = f"{vmaj}.{vmin}.{vrev}" + (f"+{vbuild}" if vbuild else "")
    return Image(
        data=bytes(data[: off + prot_size + total]),
        load_addr=load,
        flags=flags,
        version=version,
        target=target.decode("ascii", errors="replace") if target is not None else None,
        sha256=digest,
        path=path,
        keyhash=tlvs.get(fl.TLV_KEYHASH),
        signature=tlvs.get(fl.TLV_ED25519),
        security_counter=struct.unpack("<I", counter)[0] if counter and len(counter) == 4 else None,
    )


def load(path: Path) -> Image:
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path} not found")
    return parse(path.read_bytes(), path)


def sign(
    binary: Path,
    out: Path,
    target: str,
    slot: fl.Region,
    layout: fl.FlashLayout,
    version: str,
    rom_fixed: bool = True,
    key: Path | None = None,
    security_counter: int | None = None,
) -> Path:
    """Sign a slot build's raw binary (rom_fixed: runs in place from `slot`), or a model
    (rom_fixed=False), into an MCUboot image with imgtool; with `key` (Ed25519 PEM) the
    image also carries its signature."""
    from imgtool.main import imgtool

    args = [
        "sign",
        "--header-size", hex(fl.IMAGE_HEADER_SIZE),
        "--pad-header",
        "--align", str(layout.write_align),
        "--version", version,
        "--slot-size", hex(slot.size),
        "--custom-tlv", hex(fl.TLV_TARGET), target,
    ]  # fmt: skip
    if rom_fixed:
        args += ["--rom-fixed", hex(layout.base + slot.start)]
    if key is not None:
        from hushkit import flash_sign

        flash_sign.load_key(key)  # one clear line for a missing or non-Ed25519 key
        args += ["--key", str(key), "--public-key-format", "hash"]
    if security_counter is not None:
        args += ["--security-counter", str(security_counter)]
    args += [str(binary), str(out)]
    try:
        imgtool.main(args, standalone_mode=False)
    except Exception as exc:  # click reports usage errors as exceptions here
        raise ImageError(f"imgtool sign failed: {exc}") from exc
    return out


def sign_model(
    tflite: Path,
    out: Path,
    target: str,
    slot: fl.Region,
    layout: fl.FlashLayout,
    version: str,
    key: Path | None = None,
) -> Path:
    """Wrap a .tflite file into an MCUboot image for the model slots (signed with `key`)."""
    return sign(tflite, out, target, slot, layout, version, rom_fixed=False, key=key)


def slot_images(path: Path, layout: fl.FlashLayout) -> dict[str, Image]:
    """The images of one build for each application slot, found from any one of them.

    `hushkit build` writes <env>-slot<N>/firmware.img for every slot N; given one of those
    (or the .elf/.bin beside it), the others are its siblings."""
    path = Path(path)
    if path.suffix in (".elf", ".bin"):
        path = path.with_suffix(IMAGE_SUFFIX)
    first = load(path)
    images: dict[str, Image] = {}
    stem = path.parent.name
    base = stem.rsplit("-slot", 1)[0] if "-slot" in stem else None
    candidates = [first]
    if base is not None:
        for i in range(len(layout.app_slots)):
            sibling = path.parent.parent / f"{base}-slot{i}" / path.name
            if sibling != path and sibling.is_file():
                candidates.append(load(sibling))
    for image in candidates:
        for slot in layout.app_slots:
            if image.rom_fixed == layout.base + slot.start:
                images[slot.name] = image
    if not images:
        raise ImageError(
            f"{path} is not built for any application slot of {layout.target} "
            f"(its fixed address is {first.rom_fixed})"
        )
    return images
