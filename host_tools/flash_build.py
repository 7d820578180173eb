"""Build what flashing needs: the bootloader, the slot builds and their signed images.

`hushkit build --target qemu-m4 --json` builds the application (as before), the bootloader
(`boot-m4`) and the application once per slot (`qemu-m4-slot<N>`, each linked to run in place
from its slot), signs each slot build into an MCUboot image with imgtool, and prints:

    {"target": "qemu-m4", "bootloader": {"elf": ..., "bin": ...},
     "application": {"elf": ...}, "images": {"app0": ".../firmware.img", "app1": ...}, ...}
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


def build_bootloader(target: str, build_root: Path = targets.BUILD_ROOT) -> Path:
    """Build the bootloader; returns its ELF (the raw binary is firmware.bin beside it)."""
    boot_env, _ = envs(target)
    # selftest=True: like the self-test image, the bootloader compiles no model.
    return firmware_build.build(target, selftest=True, build_root=build_root, env=boot_env).elf


def build_images(
    target: str, model_dir: Path | None = None, build_root: Path = targets.BUILD_ROOT
) -> dict[str, Path]:
    """Build the application for every slot and sign it; slot name -> image path."""
    layout = flash_layout.get(target)
    _, slot_envs = envs(target)
    images = {}
    for slot, env in zip(layout.app_slots, slot_envs, strict=True):
        elf = firmware_build.build(target, model_dir, build_root=build_root, env=env).elf
        out = elf.with_suffix(flash_image.IMAGE_SUFFIX)
        flash_image.sign(elf.with_suffix(".bin"), out, target, slot, layout, project_version())
        images[slot.name] = out
    return images


def build_all(
    target: str, model_dir: Path | None = None, build_root: Path = targets.BUILD_ROOT
) -> dict:
    app = firmware_build.build(target, model_dir, build_root=build_root)
    boot = build_bootloader(target, build_root)
    images = build_images(target, model_dir, build_root)
    return {
        "target": target,
        "bootloader": {"elf": str(boot), "bin": str(boot.with_suffix(".bin"))},
        "application": {"elf": str(app.elf), "bin": str(app.elf.with_suffix(".bin"))},
        "images": {name: str(path) for name, path in images.items()},
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
    try:
        result = build_all(args.target, args.model_dir)
    except (firmware_build.BuildError, flash_image.ImageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0
