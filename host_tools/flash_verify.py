"""The host's own check of an image before it goes to a device (`hushkit flash`, `model push`).

Structure (always): MCUboot magic, header size, body inside the file, both TLV areas walked
TLV by TLV to their exact end, the SHA-256 TLV matching header + body + protected TLVs, a
signature TLV of 64 bytes and a key hash of 32 where present. Signature (with `--key`, the
Ed25519 public or private key PEM): the image's key hash must be that key's, and imgtool's
own verifier (`imgtool.image.Image.verify`, the `cryptography` package's Ed25519 underneath)
must accept the signature. Without a key the signature is not checked, and the result says so.

A refused image raises ImageError (one line) before any port is opened, so a device never
sees a corrupted, tampered or wrongly signed image from these tools.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from hushkit import flash_image, flash_sign
from hushkit import flash_layout as fl
from hushkit.flash_image import HEADER, Image, ImageError

ED25519_SIG_BYTES = 64
KEYHASH_BYTES = 32


@dataclasses.dataclass(frozen=True)
class Precheck:
    image: Image
    signature: str  # "verified with KEY", "not checked (no --key)", "unsigned"

    @property
    def summary(self) -> str:
        counter = self.image.security_counter
        return f"host check: structure ok, signature {self.signature}" + (
            f", security counter {counter}" if counter is not None else ""
        )


def check_structure(data: bytes, path: Path | None = None) -> Image:
    """The parsed image after the structural checks; ImageError says what is wrong."""
    if len(data) < HEADER.size:
        raise ImageError("file too short for an MCUboot header")
    hdr_size = HEADER.unpack_from(data)[2]
    if hdr_size < HEADER.size:
        raise ImageError(f"header size {hdr_size} is below the {HEADER.size}-byte header")
    # magic, sizes, both TLV areas walked to their exact end, the SHA-256 TLV against the bytes
    image = flash_image.parse(data, path, strict=True)
    if image.signature is not None and len(image.signature) != ED25519_SIG_BYTES:
        raise ImageError(f"signature TLV of {len(image.signature)} bytes is not Ed25519's 64")
    if image.keyhash is not None and len(image.keyhash) != KEYHASH_BYTES:
        raise ImageError(f"key hash TLV of {len(image.keyhash)} bytes is not a SHA-256")
    return image


def verify_signature(image: Image, key_path: Path) -> str:
    """ImageError unless `image` is signed with the key in key_path."""
    from imgtool import image as imgtool_image

    key = flash_sign.load_key(key_path)
    if image.signature is None:
        raise ImageError(f"the image is not signed, but --key {key_path} was given: sign it")
    if image.keyhash is not None and image.keyhash != flash_sign.key_hash(key):
        raise ImageError(
            f"the image is signed with another key than {key_path} (key hash "
            f"{image.keyhash.hex()[:16]}…)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.bin"
        path.write_bytes(image.data)
        result = imgtool_image.Image.verify(str(path), key)[0]
    if result != imgtool_image.VerifyResult.OK:
        raise ImageError(
            f"the image's Ed25519 signature does not verify with {key_path} "
            f"({result.name.lower()}): corrupted or tampered"
        )
    return f"verified with {key_path}"


def precheck(data: bytes, key: Path | None = None, path: Path | None = None) -> Precheck:
    """Structure, then (with `key`) the signature. ImageError on a bad image."""
    image = check_structure(data, path)
    if key is not None:
        return Precheck(image, verify_signature(image, key))
    if image.signed:
        return Precheck(image, "not checked (no --key given)")
    return Precheck(image, "none (unsigned image)")


def precheck_file(path: Path, key: Path | None = None) -> Precheck:
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path} not found")
    return precheck(path.read_bytes(), key, path)


def precheck_build(path: Path, key: Path | None = None) -> dict[str, Precheck]:
    """Every slot image of the build `path` belongs to (flash_image.slot_images), checked:
    slot name -> result. ImageError for the first bad one."""
    path = Path(path)
    if path.suffix in (".elf", ".bin"):
        path = path.with_suffix(flash_image.IMAGE_SUFFIX)
    first = precheck_file(path, key)
    try:
        layout = fl.get(first.image.target or "")
    except ValueError:
        # Built for a target without hushkit's bootloader: the device names its own target
        # and `hushkit flash` refuses the image then, saying both.
        return {str(path): first}
    images = flash_image.slot_images(path, layout)
    return {name: precheck(image.data, key, image.path) for name, image in images.items()}
