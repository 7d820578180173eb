"""Helpers for the flashing tests and the power-cut benchmark: builds, images, emulators.

`FlashRig` holds the bootloader and two signed application images ("old" and "new": the
same slot builds signed with different versions, so their hashes differ) built with the
test model, and starts the emulator on a flash file, optionally with a power cut at
operation N (firmware/hal/flash_emu).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from pathlib import Path

import pytest
import serial

from hushkit import flash_build, flash_image, flash_layout
from hushkit import protocol as p
from hushkit.client import DeviceError
from hushkit.emulator import Emulator
from hushkit.flash import FlashError, flash
from hushkit.flash_client import FlashClient
from hushkit.transport import open_link

TARGET = "qemu-m4"
OLD_VERSION = "0.1.0"
NEW_VERSION = "0.1.1"
LINK_TIMEOUT_S = 3.0


@dataclasses.dataclass
class FlashRig:
    boot_bin: Path
    old: Path  # slot-0 image of the old version (siblings per slot beside it)
    new: Path
    work: Path
    slot_elfs: list[Path]

    def fresh_flash(self, name: str = "flash.bin") -> Path:
        path = self.work / name
        path.unlink(missing_ok=True)
        flash_build.new_flash_file(path, TARGET, self.boot_bin)
        return path

    @contextlib.contextmanager
    def device(self, flash: Path, power_cut_at: int | None = None):
        with Emulator(TARGET, flash=flash, power_cut_at=power_cut_at) as emu:
            with open_link(emu.url, timeout=LINK_TIMEOUT_S) as link:
                yield FlashClient(link, timeout=LINK_TIMEOUT_S), emu


def sign_versions(
    slot_elfs: list[Path], out_dir: Path, version: str, target: str = TARGET, **sign_args
):
    """Sign each slot build into out_dir/<env>/firmware.img; returns the slot-0 image.
    sign_args go to flash_image.sign (key, security_counter)."""
    layout = flash_layout.get(TARGET)
    first = None
    for slot, elf in zip(layout.app_slots, slot_elfs, strict=True):
        folder = out_dir / elf.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        img = folder / "firmware.img"
        flash_image.sign(elf.with_suffix(".bin"), img, target, slot, layout, version, **sign_args)
        first = first or img
    return first


def make_rig(export_dir: Path, build_root: Path, work: Path, test_hooks: bool = False) -> FlashRig:
    """test_hooks: slot builds with the FAULT command (give them their own build_root)."""
    from hushkit import firmware_build

    boot = flash_build.build_bootloader(TARGET, build_root)
    _, envs = flash_build.envs(TARGET)
    elfs = [
        firmware_build.build(
            TARGET, export_dir, build_root=build_root, env=e, test_hooks=test_hooks
        ).elf
        for e in envs
    ]
    work.mkdir(parents=True, exist_ok=True)
    old = sign_versions(elfs, work / "old", OLD_VERSION)
    new = sign_versions(elfs, work / "new", NEW_VERSION)
    return FlashRig(
        boot_bin=boot.with_suffix(".bin"), old=old, new=new, work=work, slot_elfs=elfs
    )


def copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


# Exit status of the emulated flash when it "loses power" (firmware/hal/flash_emu).
POWER_CUT_EXIT = 86


def update_op_count(rig: FlashRig, base: Path, work: Path) -> int:
    """Flash operations (erase, program) of a whole update of `base` to the new image,
    through to the application's confirm."""
    path = copy(base, work / "count.bin")
    with rig.device(path) as (client, _):
        assert flash(client, rig.new, progress=False).state == "confirmed"
        return client.identify().flash_ops


def sample_points(total: int) -> list[int]:
    """The first erase, a write in the middle, and the last three state changes (mark
    pending, boot once, confirm), where an update is most delicate."""
    return sorted({1, total // 2, total - 2, total - 1, total})


def power_cut_trial(rig: FlashRig, base: Path, work: Path, cut: int, hashes: set[str]) -> dict:
    """Update `base` with power lost at operation `cut`, restart, check the device boots the
    old or the new image, then check a new flash succeeds."""
    path = copy(base, work / "trial.bin")
    trial = {"cut_at": cut, "interrupted": False}
    with rig.device(path, power_cut_at=cut) as (client, emu):
        try:
            flash(client, rig.new, progress=False)
        except (DeviceError, FlashError, serial.SerialException, OSError):
            trial["interrupted"] = True
        if trial["interrupted"]:
            trial["exit"] = emu.wait(10)
    with rig.device(path) as (client, _):
        try:
            ident = client.wait_identity(lambda i: True)
        except DeviceError:
            return trial | {"ok": False, "why": "no answer after restart"}
        running = None
        if ident.running_slot is not None:
            running = ident.slot(ident.running_slot).image_hash
        trial["booted"] = ident.mode.name.lower()
        if ident.mode != p.BootMode.APPLICATION or running not in hashes:
            return trial | {"ok": False, "why": f"booted {ident.mode.name} {running}"}
        trial["image"] = "new" if running == hashes_new(rig) else "old"
        try:
            final = flash(client, rig.new, progress=False)
        except (DeviceError, FlashError) as exc:
            return trial | {"ok": False, "why": f"next flash failed: {exc}"}
        return trial | {"ok": final.state == "confirmed"}


def hashes_new(rig: FlashRig) -> str:
    layout = flash_layout.get(TARGET)
    return flash_image.slot_images(rig.new, layout)["app1"].sha256.hex()


def power_cut_sweep(
    rig: FlashRig, base: Path, work: Path, sample: bool, stride: int = 1
) -> dict:
    start = time.monotonic()
    total = update_op_count(rig, base, work)
    points = sample_points(total) if sample else list(range(1, total + 1, stride))
    hashes = {flash_image.load(rig.old).sha256.hex(), hashes_new(rig)}
    trials = [power_cut_trial(rig, base, work, cut, hashes) for cut in points]
    return {
        "operations_per_update": total,
        "points": len(points),
        "bricked": sum(not t["ok"] for t in trials),
        "booted_old": sum(t.get("image") == "old" for t in trials),
        "booted_new": sum(t.get("image") == "new" for t in trials),
        "seconds": round(time.monotonic() - start, 1),
        "trials": trials,
    }


# ---- shared by the test modules' fixtures -----------------------------------------------


def rig_or_skip(
    export_dir: Path, build_root: Path, work: Path, test_hooks: bool = False
) -> FlashRig:
    from hushkit import firmware_build
    from hushkit.emulator import QEMU

    if shutil.which(firmware_build.TOOLCHAIN_CC) is None or shutil.which(QEMU) is None:
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    pytest.importorskip("imgtool")
    return make_rig(export_dir, build_root, work, test_hooks)


def flashed(rig: FlashRig, name: str = "old.bin") -> Path:
    """A flash file with the old image flashed and confirmed in app0."""
    path = rig.fresh_flash(name)
    with rig.device(path) as (client, _):
        assert flash(client, rig.old, progress=False).state == "confirmed"
    return path
