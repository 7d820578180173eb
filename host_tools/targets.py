"""The firmware targets: the one table that maps a target name to its build and its emulator.

The PlatformIO environments in firmware/platformio.ini carry the same names (and a
`selftest-*` environment per target for the HAL self-test image).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
BUILD_ROOT = REPO_ROOT / "build" / "firmware"


@dataclasses.dataclass(frozen=True)
class Target:
    name: str  # `hushkit build --target NAME`, also the PlatformIO environment
    machine: str  # qemu-system-arm -machine; "" for a board QEMU does not emulate
    cpu: str  # the core, for messages
    selftest_env: str  # PlatformIO environment of the HAL self-test image
    clock_mhz: float = 0.0  # core clock of the board (HAL_BOARD_CPU_HZ), for load figures
    flash_bytes: int = 0  # the part's flash and RAM, where the target is a real part
    ram_bytes: int = 0

    def elf(self, env: str | None = None, build_root: Path = BUILD_ROOT) -> Path:
        """Where the build of `env` (default: the application) leaves its ELF."""
        return Path(build_root) / (env or self.name) / "firmware.elf"


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("qemu-m4", "mps2-an386", "cortex-m4", "selftest-m4", clock_mhz=25),
        Target("qemu-m7", "mps2-an500", "cortex-m7", "selftest-m7", clock_mhz=25),
        Target("qemu-m55", "mps3-an547", "cortex-m55", "selftest-m55", clock_mhz=32),
        Target("qemu-m33", "mps2-an505", "cortex-m33", "selftest-m33", clock_mhz=20),
        Target("qemu-stm32f4", "netduinoplus2", "cortex-m4", "selftest-stm32f4", clock_mhz=168),
        # Real board only (hal/stm32f411_hw is not yet verified on hardware).
        Target("blackpill-f411", "", "cortex-m4", "selftest-blackpill", clock_mhz=96,
               flash_bytes=512 * 1024, ram_bytes=128 * 1024),
    )
}
DEFAULT_TARGET = "qemu-m4"


def get(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; known: {', '.join(TARGETS)}") from None
