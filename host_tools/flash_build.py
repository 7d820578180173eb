"""Build what flashing needs: the bootloader, the slot builds and their signed images.

`hushkit build --target qemu-m4 --json` builds the application (as before), the bootloader
(`boot-m4`) and the application once per slot (`qemu-m4-slot<N>`, each linked to run in place
from its slot), signs each slot build into an MCUboot image with imgtool, and prints:

    {"target": "qemu-m4", "bootloader": {"elf": ..., "bin": ...},
     "application": {"elf": ...}, "images": {"app0": ".../firmware.img", "app1": ...}, ...}

With `--sign-key KEY.pem` (Ed25519, `imgtool keygen -t ed25519`) the bootloader is built with
its public key and boots only images signed with it, and never an older one than it has
(version, or `--security-counter`); the slot images are signed with it. `--version X.Y.Z`
sets the image version (default: the project's). Without a key the bootloader checks only
each image's SHA-256 and accepts any version, as it always did.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hushkit import firmware_build, flash_image, flash_layout, targets

# PlatformIO environments of the bootloader and of the slot builds, per target.
BOOT_ENVS = {"qemu-m4": ("boot-m4", ("qemu-m4-slot0", "qemu-m4-slot1"))}


def envs(target: str) -> tuple[str, tuple[str, ...]]:
    try:
        return BOOT_ENVS[target]
    except KeyError:
        raise firmware_build.BuildError(
            f"target {target!r} has no hushkit bootloader yet (available: {', '.join(BOOT_ENVS)})"
        ) from None


def project_version() -> str:
    from hushkit import __version__

    return __version__.split("+")[0]


def build_bootloader(
    target: str, build_root: Path = targets.BUILD_ROOT, sign_key: Path | None = None
) -> Path:
    """Build the bootloader (with the public key of `sign_key`: it then boots only images
    signed with that key); returns its ELF (the raw binary is firmware.bin beside it)."""
    from hushkit import flash_sign

    boot_env, _ = envs(target)
    extra = {}
    if sign_key is not None:
        # Beside the build root, not in it: PlatformIO empties its build folder at times.
        root = Path(build_root).resolve()
        key_dir = root.parent / f"{root.name}-boot-key" / target
        flash_sign.write_header(sign_key, key_dir)
        extra["HUSHKIT_BOOT_KEY_DIR"] = str(key_dir)
    # selftest=True: like the self-test image, the bootloader compiles no model.
    return firmware_build.build(
        target, selftest=True, build_root=build_root, env=boot_env, extra_env=extra
    ).elf


def build_images(
    target: str,
    model_dir: Path | None = None,
    build_root: Path = targets.BUILD_ROOT,
    sign_key: Path | None = None,
    version: str | None = None,
    security_counter: int | None = None,
) -> dict[str, Path]:
    """Build the application for every slot and sign it; slot name -> image path."""
    layout = flash_layout.get(target)
    _, slot_envs = envs(target)
    images = {}
    for slot, env in zip(layout.app_slots, slot_envs, strict=True):
        elf = firmware_build.build(target, model_dir, build_root=build_root, env=env).elf
        out = elf.with_suffix(flash_image.IMAGE_SUFFIX)
        flash_image.sign(
            elf.with_suffix(".bin"), out, target, slot, layout, version or project_version(),
            key=sign_key, security_counter=security_counter,
        )  # fmt: skip
        images[slot.name] = out
    return images


def build_all(
    target: str,
    model_dir: Path | None = None,
    build_root: Path = targets.BUILD_ROOT,
    sign_key: Path | None = None,
    version: str | None = None,
    security_counter: int | None = None,
) -> dict:
    if sign_key is not None:
        from hushkit import flash_sign

        flash_sign.load_key(sign_key)  # before any build: a bad key is a one-line error
    app = firmware_build.build(target, model_dir, build_root=build_root)
    boot = build_bootloader(target, build_root, sign_key)
    images = build_images(target, model_dir, build_root, sign_key, version, security_counter)
    return {
        "target": target,
        "bootloader": {"elf": str(boot), "bin": str(boot.with_suffix(".bin"))},
        "application": {"elf": str(app.elf), "bin": str(app.elf.with_suffix(".bin"))},
        "images": {name: str(path) for name, path in images.items()},
        "signed": sign_key is not None,
        # The images' protected IMAGE_TLV_SEC_CNT, read back from them (None: no counter).
        "security_counter": {
            name: flash_image.load(path).security_counter for name, path in images.items()
        },
        "memory": {
            "bootloader": firmware_build.memory_usage(boot),
            "application": firmware_build.memory_usage(app.elf),
        },
    }


def new_flash_file(path: Path, target: str, boot_bin: Path) -> None:
    """An erased flash file holding only the bootloader."""
    layout = flash_layout.get(target)
    boot = Path(boot_bin).read_bytes()
    if len(boot) > layout.region("boot").size:
        raise firmware_build.BuildError(f"bootloader of {len(boot)} bytes exceeds its region")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(boot + b"\xff" * (layout.size - len(boot)))


def run_build_json(args: argparse.Namespace) -> int:
    if args.security_counter is not None and not 0 <= args.security_counter < 2**32:
        print("error: --security-counter must be in 0..4294967295", file=sys.stderr)
        return 2
    try:
        result = build_all(
            args.target, args.model_dir, sign_key=args.sign_key, version=args.image_version,
            security_counter=args.security_counter,
        )  # fmt: skip
    except (firmware_build.BuildError, flash_image.ImageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"bootloader: {result['bootloader']['bin']}"
          + (" (boots only images signed with the key)" if result["signed"] else ""))
    for name, path in result["images"].items():
        counter = result["security_counter"][name]
        print(f"{name}: {path}" + (" (signed)" if result["signed"] else "")
              + (f", security counter {counter}" if counter is not None else ""))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`hushkit build` options for signed images."""
    parser.add_argument(
        "--sign-key",
        type=Path,
        default=None,
        help="Ed25519 key (imgtool keygen -k KEY.pem -t ed25519): build the bootloader with its "
        "public key, so it boots only images signed with it and refuses downgrades, and sign the "
        "slot images (implies the bootloader and slot images of --json). Without it the "
        "bootloader checks only each image's SHA-256, as before",
    )
    parser.add_argument(
        "--version",
        dest="image_version",
        default=None,
        metavar="X.Y.Z",
        help="version written into the slot images (default: the project's version)",
    )
    parser.add_argument(
        "--security-counter",
        type=int,
        default=None,
        metavar="N",
        help="security counter of the slot images (protected TLV). A keyed bootloader stores "
        "the counter of every image it confirms (it only grows, and on a real board it cannot "
        "be lowered again) and never boots an image whose counter is lower",
    )
