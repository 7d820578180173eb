"""The STM32F4 independent watchdog driver (firmware/hal/stm32f4_watchdog), which QEMU's
netduinoplus2 does not emulate: its register sequence runs on the host against a model of the
IWDG and RCC_CSR (tests/c/iwdg/test_iwdg.c: unlock, prescaler and reload, start, feeds, a
restart while an update is still crossing to the LSI clock, the reset flag and its clearing,
and a hung hop that STATS reports after the reset), and it builds warning-free for each
STM32F4 board. What only hardware can show: the LSI's real rate, the reset itself, and RAM
keeping the record across it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hushkit import firmware_build, targets

FW = targets.FIRMWARE_DIR
DRIVER = FW / "hal" / "stm32f4_watchdog" / "hal_watchdog_iwdg.c"
TESTS_C = targets.FIRMWARE_DIR.parent / "tests" / "c" / "iwdg"
WARNINGS = ["-std=c11", "-Wall", "-Wextra", "-Werror"]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
def test_iwdg_register_sequence_on_a_model_of_the_hardware(tmp_path):
    exe = tmp_path / "test_iwdg"
    sources = [
        TESTS_C / "test_iwdg.c",
        DRIVER,
        FW / "hal" / "cortex_m" / "hal_watchdog_record.c",
        FW / "app" / "app_watchdog.c",
        FW / "core" / "src" / "hush_frame.c",
    ]
    # The fake cortex_m.h (register accesses through the model) comes before the real one.
    includes = [TESTS_C, FW / "hal" / "include", FW / "app", FW / "core" / "include"]
    cmd = ["gcc", *WARNINGS, "-O1", *(f"-I{d}" for d in includes), *map(str, sources),
           "-o", str(exe)]  # fmt: skip
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "all checks passed" in run.stdout


@pytest.mark.parametrize("target", ["qemu-stm32f4", "blackpill-f411"])
def test_iwdg_driver_builds_for_each_stm32f4_board(tmp_path, target):
    if shutil.which(firmware_build.TOOLCHAIN_CC) is None:
        pytest.skip("needs arm-none-eabi-gcc")
    ini = (FW / "platformio.ini").read_text()
    section = ini.split(f"[env:{target}]", 1)[1].split("\n[", 1)[0]
    hal = next(line for line in section.splitlines() if line.startswith("custom_hal"))
    assert "stm32f4_watchdog" in hal.split("=", 1)[1].split()
    board = hal.split("=", 1)[1].split()[0]
    cmd = [firmware_build.TOOLCHAIN_CC, "-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16",
           "-mfloat-abi=hard", *WARNINGS, "-O2", f"-I{FW / 'hal' / 'include'}",
           f"-I{FW / 'hal' / 'cortex_m'}", f"-I{FW / 'hal' / board}", "-c", str(DRIVER),
           "-o", str(tmp_path / "iwdg.o")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
