"""The firmware platform: offline PlatformIO build, HAL self-test and boot on QEMU.

The QEMU cases build every target (about a second each) and boot it (tens of ms); the HAL
self-test checks the FPU, the timer calibration (instructions under -icount) and the stack
high-water mark on the device itself and reports through QEMU's exit status.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hushkit import __version__, emulator, firmware_build, targets

ALL_TARGETS = sorted(t.name for t in targets.TARGETS.values() if t.machine)  # emulated
LINK_TIMEOUT_S = 10.0

needs_arm = pytest.mark.skipif(
    shutil.which(firmware_build.TOOLCHAIN_CC) is None or shutil.which(emulator.QEMU) is None,
    reason="needs arm-none-eabi-gcc and qemu-system-arm",
)


def test_every_target_has_its_platformio_environments():
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(targets.FIRMWARE_DIR / "platformio.ini")
    envs = {s.removeprefix("env:") for s in ini.sections() if s.startswith("env:")}
    for t in targets.TARGETS.values():
        assert {t.name, t.selftest_env} <= envs


def test_qemu_command_line():
    cmd = emulator.qemu_command("qemu-m55", Path("fw.elf"), "stdio")
    assert cmd[cmd.index("-machine") + 1] == "mps3-an547"
    assert cmd[cmd.index("-icount") + 1] == "shift=0,align=off,sleep=off"
    assert "enable=on,target=native" in cmd
    assert "-icount" not in emulator.qemu_command("qemu-m4", Path("fw.elf"), "stdio", icount=False)


def test_missing_model_files_are_named(tmp_path):
    (tmp_path / "model_data.c").write_text("")
    with pytest.raises(firmware_build.BuildError, match="model_data.h, hush_model_config.h"):
        firmware_build.check_model_dir(tmp_path)
    with pytest.raises(firmware_build.BuildError, match="hushkit export"):
        firmware_build.check_model_dir(tmp_path / "absent")


def test_missing_toolchain_is_reported(monkeypatch, capsys):
    from hushkit.cli import main

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["build", "--target", "qemu-m4", "--selftest"]) == 1
    assert "apt-get install gcc-arm-none-eabi" in capsys.readouterr().err


def test_pio_core_holds_an_offline_scons_package(tmp_path):
    import json

    package = firmware_build.prepare_pio_core(tmp_path) / "packages" / "tool-scons"
    meta = json.loads((package / ".piopm").read_text())
    assert meta["spec"]["owner"] == "platformio"  # else PlatformIO downloads its own
    assert meta["version"] == json.loads((package / "package.json").read_text())["version"]
    assert (package / "scons.py").is_file()


def _size_a(elf: Path) -> dict[str, int]:
    """Section sizes as arm-none-eabi-size -A prints them."""
    out = subprocess.run(
        ["arm-none-eabi-size", "-A", "-d", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+$", out, re.MULTILINE)}


@pytest.fixture(scope="module")
def selftest_elves(firmware_build_root) -> dict[str, Path]:
    if shutil.which(firmware_build.TOOLCHAIN_CC) is None:
        pytest.skip("needs arm-none-eabi-gcc")
    return {
        t: firmware_build.build(t, selftest=True, build_root=firmware_build_root).elf
        for t in ALL_TARGETS
    }


@needs_arm
@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("target", ALL_TARGETS)
def test_hal_selftest_passes_on_qemu(selftest_elves, target):
    run = emulator.run_to_exit(target, selftest_elves[target], timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"self-test on {targets.get(target).machine}" in run.stdout
    assert "FAIL" not in run.stdout


@needs_arm
@pytest.mark.slow
def test_memory_report_matches_binutils(selftest_elves):
    elf = selftest_elves["qemu-m4"]
    sections = _size_a(elf)
    mem = firmware_build.elf_memory(elf)
    flash = sum(sections.get(s, 0) for s in (".isr_vector", ".text", ".rodata", ".ARM.exidx"))
    assert mem.flash == flash + sections[".data"]
    assert mem.ram == sections[".stack"] + sections[".data"] + sections[".bss"]
    assert mem.stack == sections[".stack"]


def _hush_config(export_dir: Path) -> dict[str, str]:
    text = (export_dir / "hush_model_config.h").read_text()
    return dict(re.findall(r"^#define (HUSH_\w+) (\S+)", text, re.MULTILINE))


@needs_arm
@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("target", ALL_TARGETS)
def test_firmware_boots_and_answers_info(emulator, firmware_model, target):
    from hushkit.client import DeviceClient
    from hushkit.protocol import CostSource
    from hushkit.transport import open_link

    config = _hush_config(firmware_model[1])
    emu = emulator(target)
    with open_link(emu.url, timeout=LINK_TIMEOUT_S) as link:
        info = DeviceClient(link, timeout=LINK_TIMEOUT_S).info()
    assert info.target == target
    assert info.fw_version == __version__
    assert info.model_sha256 == config["HUSH_MODEL_SHA256"].strip('"')
    assert (info.sample_rate, info.n_fft) == (
        int(config["HUSH_SAMPLE_RATE"]),
        int(config["HUSH_N_FFT"]),
    )
    assert info.cost_source == CostSource.SYSTICK_ICOUNT  # DWT reads 0 under QEMU


@needs_arm
@pytest.mark.slow
@pytest.mark.qemu
def test_firmware_loads_the_exported_model(emulator):
    from hushkit.client import DeviceClient
    from hushkit.transport import open_link

    emu = emulator("qemu-m4")
    with open_link(emu.url, timeout=LINK_TIMEOUT_S) as link:
        info = DeviceClient(link, timeout=LINK_TIMEOUT_S).info()
    assert info.model_loaded, f"pipeline init failed on the device: {info.model_message}"


def test_emulator_surfaces_qemu_errors(tmp_path, monkeypatch):
    if shutil.which(emulator.QEMU) is None:
        pytest.skip("needs qemu-system-arm")
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"")
    real_command = emulator.qemu_command
    monkeypatch.setattr(emulator, "check_elf_for_target", lambda elf, target: None)
    monkeypatch.setattr(
        emulator, "qemu_command", lambda *a, **k: real_command(*a, **k) + ["-no-such-option"]
    )
    with pytest.raises(emulator.EmulatorError, match="(?s)QEMU exited.*no-such-option"):
        with emulator.Emulator("qemu-m4", elf):
            pass
