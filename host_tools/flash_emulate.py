"""`hushkit emulate --target qemu-m4 --flash FILE`: the bootloader on QEMU, flash in FILE.

The first line printed is the serial URL (socket://127.0.0.1:PORT). A missing FILE is created
erased, holding only the bootloader (built first when needed); the application then comes
only from what `hushkit flash` writes into FILE over the serial link, and FILE keeps it
across emulator restarts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hushkit import firmware_build, flash_build, targets
from hushkit.emulator import Emulator, EmulatorError


def ensure_flash_file(path: Path, target: str, build_root: Path = targets.BUILD_ROOT) -> bool:
    """Create an erased flash file holding the bootloader when `path` is missing; True if
    it was created."""
    if path.exists():
        return False
    boot_env, _ = flash_build.envs(target)
    boot_bin = targets.get(target).elf(boot_env, build_root).with_suffix(".bin")
    if not boot_bin.is_file():
        boot_bin = flash_build.build_bootloader(target, build_root).with_suffix(".bin")
    flash_build.new_flash_file(path, target, boot_bin)
    return True


def run(args: argparse.Namespace) -> int:
    try:
        created = ensure_flash_file(args.flash, args.target)
        with Emulator(args.target, icount=not args.no_icount, flash=args.flash) as emu:
            print(emu.url, flush=True)
            what = "new erased flash with the bootloader" if created else "flash"
            print(f"{emu.target.name} on {emu.target.machine}: {what} {args.flash} "
                  "(Ctrl-C stops)", file=sys.stderr, flush=True)
            status = emu.wait()
            print(emu.output(), end="", file=sys.stderr)
            print(f"emulator exited with status {status}", file=sys.stderr)
            return status
    except (EmulatorError, firmware_build.BuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
