"""The firmware's hand-written C (core, app, boot, HAL; the C tests and fuzz targets) follows
.clang-format at the repository root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Hand-written C kept in the style (firmware/third_party keeps its own); generated headers
# (hush_protocol.h, hush_contract.h, the window table, the engine test fixture, the flash
# layouts, the boot key) are written by their generators.
FORMATTED = [
    "firmware/core", "firmware/app", "firmware/boot", "firmware/hal", "tests/c", "tests/fuzz",
]
GENERATED = {
    "hush_protocol.h", "hush_contract.h", "hush_stft_window.h", "engine_fixture.h",
    "flash_layout.h", "hush_boot_key.h",
}


def _sources() -> list[Path]:
    files: list[Path] = []
    for entry in FORMATTED:
        path = ROOT / entry
        files += sorted(path.rglob("*.[ch]")) if path.is_dir() else [path]
    return [f for f in files if f.name not in GENERATED]


def test_firmware_c_is_clang_formatted():
    exe = shutil.which("clang-format")
    if exe is None:
        pytest.skip("clang-format not installed (`make setup` installs it)")
    files = _sources()
    assert len(files) > 80
    result = subprocess.run(
        [exe, "--dry-run", "-Werror", *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
