"""The firmware core's C (and its C tests) follows .clang-format at the repository root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Hand-written C kept in the style; generated headers (hush_protocol.h, hush_contract.h, the
# window table, the engine test fixture) are written by their generators.
FORMATTED = ["firmware/core", "tests/c", "firmware/hal/cmsdk/hal_uart_cmsdk.c",
             "firmware/hal/cortex_m/hal_uart_ring.c", "firmware/hal/cortex_m/hal_uart_ring.h",
             "firmware/hal/stm32f4/hal_uart_stm32.c"]  # fmt: skip
GENERATED = {"hush_protocol.h", "hush_contract.h", "hush_stft_window.h", "engine_fixture.h"}


def _sources() -> list[Path]:
    files: list[Path] = []
    for entry in FORMATTED:
        path = ROOT / entry
        files += sorted(path.rglob("*.[ch]")) if path.is_dir() else [path]
    return [f for f in files if f.name not in GENERATED]


def test_core_c_is_clang_formatted():
    exe = shutil.which("clang-format")
    if exe is None:
        pytest.skip("clang-format not installed (`make setup` installs it)")
    files = _sources()
    assert len(files) > 20
    result = subprocess.run(
        [exe, "--dry-run", "-Werror", *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
