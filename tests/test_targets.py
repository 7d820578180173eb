"""Board targets beyond the MPS2 ones: the STM32F405 and Cortex-M33 emulations stream audio
exactly like qemu-m4 (same int8 engine, same float STFT), and every target's clock is known.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from hushkit import targets
from hushkit.ops import connect

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                                reason="needs qemu-system-arm")  # fmt: skip
HOPS = 200


def test_target_clocks_match_the_board_headers():
    for t in targets.TARGETS.values():
        board = {"mps2-an386": "mps2", "mps2-an500": "mps2", "mps3-an547": "mps3_an547",
                 "mps2-an505": "mps2_an505", "netduinoplus2": "netduinoplus2"}.get(t.machine)
        if board is None:
            continue
        header = (targets.FIRMWARE_DIR / "hal" / board / "hal_board.h").read_text()
        hz = int(re.search(r"#define HAL_BOARD_CPU_HZ\s+(\d+)u", header).group(1))
        assert t.clock_mhz * 1e6 == hz, t.name


def _stream(target: str, elf, pcm: np.ndarray):
    with connect(None, emulate=target, elf=elf, timeout=30.0) as client:
        info = client.info()
        result = client.process(pcm)
        stats = client.stats()
    return info, result, stats


@needs_qemu
@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("target", ["qemu-stm32f4", "qemu-m33"])
def test_target_streams_identical_audio_to_qemu_m4(firmware_elf, target):
    rng = np.random.default_rng(7)
    levels = np.repeat(rng.uniform(300, 8000, HOPS), 128)
    pcm = np.clip(rng.standard_normal(HOPS * 128) * levels, -32768, 32767).astype(np.int16)
    _, reference, _ = _stream("qemu-m4", firmware_elf("qemu-m4"), pcm)
    info, result, stats = _stream(target, firmware_elf(target), pcm)
    assert info.target == target and info.model_loaded
    assert np.array_equal(result.pcm, reference.pcm)
    assert np.any(result.pcm != 0)
    assert stats.hops == HOPS and stats.cost_min > 0


# Planned Black Pill layout (hal/blackpill_f411/hal_board.h): 32 KB bootloader, 32 KB boot
# state, then two application slots of at least 192 KB in the part's 512 KB.
BLACKPILL_BOOT_BYTES = 32 * 1024
BLACKPILL_STATE_BYTES = 32 * 1024
BLACKPILL_SLOT_BYTES = 192 * 1024


@pytest.mark.slow
def test_blackpill_build_fits_its_part_with_a_bootloader_and_two_slots(tmp_path):
    from hushkit import emulator, firmware_build, firmware_export

    if shutil.which(firmware_build.TOOLCHAIN_CC) is None:
        pytest.skip("needs arm-none-eabi-gcc")
    part = targets.get("blackpill-f411")
    firmware_export.export(firmware_build.SHIPPED_MODEL, tmp_path / "export")
    built = firmware_build.build("blackpill-f411", model_dir=tmp_path / "export",
                                 build_root=tmp_path / "build")  # fmt: skip
    mem = built.memory
    assert BLACKPILL_BOOT_BYTES + BLACKPILL_STATE_BYTES + 2 * BLACKPILL_SLOT_BYTES <= (
        part.flash_bytes
    )
    assert mem.flash <= BLACKPILL_SLOT_BYTES - 1024  # room for an image header and trailer
    assert mem.ram <= part.ram_bytes
    with pytest.raises(emulator.EmulatorError, match="real board"):
        emulator.qemu_command("blackpill-f411", built.elf, "stdio")


def test_bench_table_reports_each_board_clock():
    from hushkit import bench

    assert "blackpill-f411" not in bench.EMULATED and "qemu-stm32f4" in bench.EMULATED
    row = {"target": "qemu-stm32f4", "clock_mhz": 168.0, "mean": 118738.0, "min": 118738,
           "max": 118738, "per_second": 14.84e6, "load_at_clock": 14.84e6 * 1.5 / 168e6,
           "flash_bytes": 1, "ram_bytes": 2, "arena_bytes": 3, "stack_bytes": 4}  # fmt: skip
    table = bench.markdown([row])
    assert "clock (MHz)" in table and "| qemu-stm32f4 | 168 | 118,738" in table
    assert "| 13 % |" in table
