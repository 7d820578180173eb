"""Flashing: layout generation, MCUboot images, and the bootloader on QEMU.

The QEMU cases boot hushkit's bootloader from a flash file (firmware/hal/flash_emu), flash the
test model's application through it with the real `hushkit flash` code, and check what comes
back over the protocol: slot states, image hashes, the running model's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal

import flash_fixtures as ff
import pytest
import serial

from hushkit import flash_image, flash_layout, payloads
from hushkit import protocol as p
from hushkit.client import DeviceError
from hushkit.emulator import Emulator
from hushkit.flash import FlashError, choose_slot, flash
from hushkit.flash_client import parse_identity

LAYOUT = flash_layout.get(ff.TARGET)


def test_generated_layout_files_are_current():
    assert flash_layout.main(["--check"]) == 0


def test_layout_regions_do_not_overlap_and_boot_comes_first():
    for layout in flash_layout.LAYOUTS.values():
        layout.check()
    bad = flash_layout.FlashLayout(
        **{**LAYOUT.__dict__, "regions": LAYOUT.regions + (LAYOUT.regions[2],)}
    )
    with pytest.raises(ValueError, match="overlaps"):
        bad.check()


def test_slot_linker_scripts_start_after_the_image_header():
    text = (flash_layout.LAYOUT_DIR / ff.TARGET / "app_slot1.ld").read_text()
    start = LAYOUT.base + LAYOUT.region("app1").start + flash_layout.IMAGE_HEADER_SIZE
    assert f"ORIGIN = 0x{start:08X}" in text


@pytest.fixture
def signed(tmp_path):
    """A small binary signed by imgtool for slot app0."""
    pytest.importorskip("imgtool")
    body = bytes(range(256)) * 16
    (tmp_path / "fw.bin").write_bytes(body)
    out = flash_image.sign(
        tmp_path / "fw.bin", tmp_path / "fw.img", ff.TARGET, LAYOUT.region("app0"), LAYOUT, "1.2.3"
    )
    return out, body


def test_imgtool_image_is_read_back(signed):
    from imgtool.image import Image, VerifyResult

    path, body = signed
    image = flash_image.load(path)
    assert image.target == ff.TARGET
    assert image.version == "1.2.3"
    assert image.rom_fixed == LAYOUT.base + LAYOUT.region("app0").start
    assert image.data[flash_layout.IMAGE_HEADER_SIZE :].startswith(body)
    assert Image.verify(str(path), None)[0] == VerifyResult.OK  # imgtool agrees


def test_corrupted_and_truncated_images_are_refused(signed, tmp_path):
    path, body = signed
    data = bytearray(path.read_bytes())
    data[flash_layout.IMAGE_HEADER_SIZE + 100] ^= 0x01
    with pytest.raises(flash_image.ImageError, match="hash does not match"):
        flash_image.parse(bytes(data))
    with pytest.raises(flash_image.ImageError, match="truncated"):
        flash_image.parse(path.read_bytes()[: flash_layout.IMAGE_HEADER_SIZE + 1000])
    with pytest.raises(flash_image.ImageError, match="not an MCUboot image"):
        flash_image.parse(b"\x00" * 64)


def _identity(states: dict[int, p.SlotState]) -> bytes:
    head = payloads.IDENTIFY_REPLY.pack(
        mode=1, reason=1, n_regions=len(LAYOUT.regions), running_slot=0xFF,
        boot_version=b"x", target=ff.TARGET.encode(), flash_base=0, flash_size=LAYOUT.size,
        sector_size=LAYOUT.sector, write_align=8, flash_ops=0,
    )  # fmt: skip
    for i, r in enumerate(LAYOUT.regions):
        head += payloads.SLOT_INFO.pack(
            kind=r.kind, state=states.get(i, 0), start=r.start, size=r.size, image_size=0,
            ver_major=0, ver_minor=0, ver_revision=0, ver_build=0, image_hash=bytes(32),
        )  # fmt: skip
    return head


def test_update_goes_to_the_slot_that_is_not_live():
    app0, app1 = (LAYOUT.regions.index(r) for r in LAYOUT.app_slots)
    assert choose_slot(parse_identity(_identity({}))) == app0
    assert choose_slot(parse_identity(_identity({app0: p.SlotState.CONFIRMED}))) == app1
    assert choose_slot(parse_identity(_identity({app1: p.SlotState.CONFIRMED}))) == app0
    invalid = {app0: p.SlotState.INVALID, app1: p.SlotState.VALID}
    assert choose_slot(parse_identity(_identity(invalid))) == app0


# ---- on QEMU ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rig(firmware_model, firmware_build_root, tmp_path_factory) -> ff.FlashRig:
    return ff.rig_or_skip(
        firmware_model[1], firmware_build_root, tmp_path_factory.mktemp("flash")
    )


@pytest.fixture(scope="module")
def old_flash(rig):
    return ff.flashed(rig)


@pytest.mark.slow
@pytest.mark.qemu
def test_flash_end_to_end_and_restart_boots_again(rig, firmware_model, tmp_path):
    from hushkit import flash_info

    path = rig.fresh_flash()
    with rig.device(path) as (client, _):
        ident = client.identify()
        assert (ident.mode, ident.reason) == (p.BootMode.BOOTLOADER, p.BootReason.NO_IMAGE)
        result = flash(client, rig.old, progress=False)
        assert result.state == "confirmed" and result.bytes_written > 0
        desc = flash_info.describe(client)
    tflite_sha = hashlib.sha256(firmware_model[0].read_bytes()).hexdigest()
    assert desc["mode"] == "application"
    assert desc["model_sha256"] == tflite_sha
    assert desc["running_slot"] == "app0"
    with rig.device(path) as (client, _):  # a new emulator on the same flash file
        desc = flash_info.describe(client)
        assert (desc["mode"], desc["model_sha256"]) == ("application", tflite_sha)
        again = flash(client, rig.old, progress=False)
    assert again.bytes_written == 0 and again.chunks_skipped > 0


@pytest.mark.slow
@pytest.mark.qemu
def test_update_goes_to_the_idle_slot_and_forced_bootloader(rig, old_flash, tmp_path):
    path = ff.copy(old_flash, tmp_path / "f.bin")
    new_app1 = flash_image.slot_images(rig.new, LAYOUT)["app1"]
    app1 = LAYOUT.regions.index(LAYOUT.region("app1"))
    with rig.device(path) as (client, _):
        assert client.identify().mode == p.BootMode.APPLICATION  # flash reboots it first
        flash_update = flash(client, rig.new, progress=False)
        assert flash_update.slot == "app1" and flash_update.state == "confirmed"
        ident = client.identify()
        assert ident.slot(app1).image_hash == new_app1.sha256.hex()
        assert ident.slot(app1 - 1).state == p.SlotState.VALID  # old kept, no longer preferred
    # Forced bootloader: the flag in the state region keeps the bootloader answering.
    data = bytearray(path.read_bytes())
    data[LAYOUT.region("state").start : LAYOUT.region("state").start + 8] = b"HUSHBOOT"
    path.write_bytes(bytes(data))
    with rig.device(path) as (client, _):
        ident = client.identify()
        assert (ident.mode, ident.reason) == (p.BootMode.BOOTLOADER, p.BootReason.FORCED)


@pytest.mark.slow
@pytest.mark.qemu
def test_unconfirmed_image_is_rolled_back(rig, old_flash, tmp_path):
    """A pending image whose application never confirms (power lost before its self-check)
    is tried once and then reverted: the old image boots again."""
    path = ff.copy(old_flash, tmp_path / "f.bin")
    old_hash = flash_image.load(rig.old).sha256.hex()
    with rig.device(path) as (client, _):
        result = flash(client, rig.new, progress=False, wait_confirm=False)
        total = client.wait_identity(lambda i: i.mode == p.BootMode.APPLICATION).flash_ops
    # Replay on the pre-update flash, losing power at the application's confirm (the last
    # operation): the new image was booted once (copy_done) but never confirmed.
    path2 = ff.copy(old_flash, tmp_path / "g.bin")
    with rig.device(path2, power_cut_at=total) as (client, emu):
        with pytest.raises((DeviceError, FlashError, serial.SerialException)):
            flash(client, rig.new, progress=False)
        emu.wait(10)
    with rig.device(path2) as (client, _):
        ident = client.wait_identity(lambda i: i.mode == p.BootMode.APPLICATION)
        assert ident.slot(ident.running_slot).image_hash == old_hash
        app1 = LAYOUT.regions.index(LAYOUT.region("app1"))
        assert ident.slot(app1).state in (p.SlotState.EMPTY, p.SlotState.INVALID)
    assert result.slot == "app1"


@pytest.mark.slow
@pytest.mark.qemu
def test_bootloader_refuses_writes_outside_slots_and_bad_images(rig, tmp_path):
    path = rig.fresh_flash()
    boot_bytes = path.read_bytes()[: LAYOUT.region("boot").size]
    with rig.device(path) as (client, _):
        for call in (
            lambda: client.erase(0, LAYOUT.sector),
            lambda: client.write(0x100, b"\x00" * 8),
            lambda: client.erase(LAYOUT.region("state").start, LAYOUT.sector),
            lambda: client.erase(LAYOUT.region("app0").start + LAYOUT.region("app0").size
                                 - LAYOUT.sector, 2 * LAYOUT.sector),
        ):
            with pytest.raises(DeviceError) as err:
                call()
            assert err.value.status == p.Status.OUTSIDE_SLOTS
        app0 = LAYOUT.region("app0")
        client.erase(app0.start, LAYOUT.sector)
        client.write(app0.start, b"\x00" * 8)
        with pytest.raises(DeviceError) as err:  # NOR: no programming over programmed bytes
            client.write(app0.start, b"\x00" * 8)
        assert err.value.status == p.Status.FLASH_FAILED
        # A corrupted image written straight to the slot is never marked pending nor booted.
        image = bytearray(flash_image.load(rig.old).data)
        image[5000] ^= 0xFF
        for off in range(0, LAYOUT.sector * 2, LAYOUT.sector):
            client.erase(app0.start + off, LAYOUT.sector)
        for off in range(0, len(image), payloads.FLASH_WRITE_CHUNK):
            part = bytes(image[off : off + payloads.FLASH_WRITE_CHUNK])
            part += b"\xff" * (-len(part) % 8)
            if off >= 2 * LAYOUT.sector and off % LAYOUT.sector == 0:
                client.erase(app0.start + off, LAYOUT.sector)
            client.write(app0.start + off, part)
        index = LAYOUT.regions.index(app0)
        assert client.identify().slot(index).state == p.SlotState.INVALID
        with pytest.raises(DeviceError) as err:
            client.mark_pending(index)
        assert err.value.status == p.Status.BAD_IMAGE
        client.boot()
        ident = client.wait_identity(lambda i: True)
        assert (ident.mode, ident.reason) == (p.BootMode.BOOTLOADER, p.BootReason.NO_IMAGE)
    assert path.read_bytes()[: len(boot_bytes)] == boot_bytes


@pytest.mark.slow
@pytest.mark.qemu
def test_image_for_another_target_is_refused(rig, tmp_path, capsys):
    from hushkit.cli import main

    other = ff.sign_versions(
        rig.slot_elfs, tmp_path / "other", "0.1.0", target="qemu-m7",
    )  # fmt: skip
    path = rig.fresh_flash()
    with Emulator(ff.TARGET, flash=path) as emu:  # the CLI makes the one connection
        code = main(["flash", "--port", emu.url, str(other), "--json"])
    assert code == 1
    assert "built for target 'qemu-m7', the device is 'qemu-m4'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.qemu
def test_device_that_stops_answering_is_reported_and_recoverable(rig, tmp_path, monkeypatch):
    from hushkit import flash as flash_mod

    path = rig.fresh_flash()
    with rig.device(path) as (client, emu):
        client.timeout = 0.5
        writes = {"n": 0}
        real_write = client.write

        def stalling_write(addr, data):
            writes["n"] += 1
            if writes["n"] == 5:
                os.kill(emu.process.pid, signal.SIGSTOP)  # the device goes silent
            real_write(addr, data)

        monkeypatch.setattr(client, "write", stalling_write)
        with pytest.raises(FlashError, match="stopped answering") as err:
            flash_mod.flash(client, rig.old, progress=False)
        assert f"after {flash_mod.FLASH_RETRIES} retries" in str(err.value)
        os.kill(emu.process.pid, signal.SIGCONT)
        monkeypatch.setattr(client, "write", real_write)
        client.timeout = ff.LINK_TIMEOUT_S
        # The device works through the requests queued while it was silent, then answers.
        client.wait_identity(lambda i: i.mode == p.BootMode.BOOTLOADER, timeout=60)
        result = flash_mod.flash(client, rig.old, progress=False)
        assert result.state == "confirmed"


@pytest.mark.slow
@pytest.mark.qemu
def test_power_cuts_during_an_update_never_brick(rig, old_flash, tmp_path):
    results = ff.power_cut_sweep(rig, old_flash, tmp_path, sample=True)
    assert results["bricked"] == 0, results["trials"]
    assert results["points"] >= 4


def test_identify_json_shape_from_the_cli_helpers():
    ident = parse_identity(_identity({2: p.SlotState.CONFIRMED}))
    assert json.dumps(ident.slot(2).as_dict())
    assert ident.slot(2).state == p.SlotState.CONFIRMED


def test_stm32f4_flash_driver_compiles_for_cortex_m4(tmp_path):
    """The STM32F4 controller driver (not run on hardware here) builds warning-free."""
    import subprocess

    from hushkit import firmware_build, targets

    if shutil.which(firmware_build.TOOLCHAIN_CC) is None:
        pytest.skip("needs arm-none-eabi-gcc")
    src = targets.FIRMWARE_DIR / "hal" / "flash_stm32f4" / "hal_flash_stm32f4.c"
    cmd = [firmware_build.TOOLCHAIN_CC, "-mthumb", "-mcpu=cortex-m4", "-std=c11", "-O2",
           "-Wall", "-Wextra", "-Werror", f"-I{targets.FIRMWARE_DIR / 'hal' / 'include'}",
           "-c", str(src), "-o", str(tmp_path / "f4.o")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
