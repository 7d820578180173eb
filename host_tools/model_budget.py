"""Does a model fit a target? Checked before a build, an export or a push starts.

The flash and RAM of a target are its linker script's FLASH and RAM regions (the script
firmware/platformio.ini names for the target's environment). The firmware needs, besides the
model:
  - flash: its code and constants, FIRMWARE_FLASH_BYTES;
  - RAM: the stack, the pipeline and command buffers (FIRMWARE_RAM_BYTES), and the tensor
    arena twice (the running model's and the spare one a pushed model is validated in).
Measured on qemu-m4 with the shipped model (`hushkit build`: flash 107,628 B with a
65,376 B model; RAM 50,172 B with two 9,664 B arenas), rounded up. The link stays the final
word: a model that passes here can still overflow a region by a little, and `hushkit build`
then says so in one line too.
"""

from __future__ import annotations

import configparser
import dataclasses
import re
from pathlib import Path

from hushkit import targets

FIRMWARE_FLASH_BYTES = 48 * 1024  # measured 42,252 B
FIRMWARE_RAM_BYTES = 36 * 1024  # measured 30,844 B (8 KB of it stack)
ARENAS = 2  # running model + spare arena for `hushkit model push`

PLATFORMIO_INI = targets.FIRMWARE_DIR / "platformio.ini"
_REGION = re.compile(r"^\s*(FLASH|RAM)\s*\([a-z]+\)\s*:\s*ORIGIN\s*=\s*\S+,\s*LENGTH\s*=\s*"
                     r"(0x[0-9A-Fa-f]+|\d+)\s*([KM]?)", re.M)  # fmt: skip
_DEFINE = re.compile(r"^#define (HUSH_MODEL_BYTES|HUSH_ARENA_BYTES) (\d+)", re.M)


class ModelTooLarge(ValueError):
    """The model does not fit the target (one line saying by how much)."""


@dataclasses.dataclass(frozen=True)
class Budget:
    target: str
    flash_bytes: int  # the linker script's FLASH region
    ram_bytes: int  # its RAM region

    @property
    def model_bytes(self) -> int:
        return self.flash_bytes - FIRMWARE_FLASH_BYTES

    @property
    def arena_bytes(self) -> int:
        return (self.ram_bytes - FIRMWARE_RAM_BYTES) // ARENAS

    def check(self, model_bytes: int, arena_bytes: int, what: str = "the model") -> None:
        problems = []
        if model_bytes > self.model_bytes:
            problems.append(
                f"{model_bytes:,} B of flash ({self.model_bytes:,} B free of "
                f"{self.flash_bytes // 1024} KB)"
            )
        if arena_bytes > self.arena_bytes:
            problems.append(
                f"a {arena_bytes:,} B tensor arena ({self.arena_bytes:,} B fit, twice, in "
                f"{self.ram_bytes // 1024} KB of RAM)"
            )
        if problems:
            raise ModelTooLarge(
                f"{what} is too large for {self.target}: it needs {' and '.join(problems)}; "
                "use a smaller model (fewer hidden units) or a larger target"
            )


def _ldscript(target: str) -> Path:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(PLATFORMIO_INI)
    section = f"env:{targets.get(target).name}"
    for _ in range(8):  # `extends` chains are short
        if ini.has_option(section, "custom_ldscript"):
            return targets.FIRMWARE_DIR / ini.get(section, "custom_ldscript")
        parent = ini.get(section, "extends", fallback="")
        if not parent:
            break
        section = parent if ini.has_section(parent) else f"env:{parent}"
    raise ValueError(f"{PLATFORMIO_INI} names no linker script for {target}")


def budget(target: str) -> Budget:
    """The flash and RAM a model may use on `target`."""
    script = _ldscript(target)
    sizes = {}
    for name, value, unit in _REGION.findall(script.read_text()):
        sizes[name] = int(value, 0) * {"": 1, "K": 1024, "M": 1024 * 1024}[unit]
    if set(sizes) != {"FLASH", "RAM"}:
        raise ValueError(f"{script} lacks a FLASH or RAM region")
    return Budget(target, sizes["FLASH"], sizes["RAM"])


def check_export_dir(model_dir: Path, target: str) -> None:
    """Refuse an `hushkit export` output whose model does not fit `target`."""
    config = Path(model_dir) / "hush_model_config.h"
    found = dict(_DEFINE.findall(config.read_text()))
    if set(found) != {"HUSH_MODEL_BYTES", "HUSH_ARENA_BYTES"}:
        raise ValueError(f"{config} lacks HUSH_MODEL_BYTES or HUSH_ARENA_BYTES: export again")
    budget(target).check(
        int(found["HUSH_MODEL_BYTES"]), int(found["HUSH_ARENA_BYTES"]), f"the model in {model_dir}"
    )
