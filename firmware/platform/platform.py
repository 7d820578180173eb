"""PlatformIO entry point of the project-local `hushkit` platform (see builder/main.py)."""

from platformio.public import PlatformBase


class HushkitPlatform(PlatformBase):
    """No packages to install: the toolchain is the system's arm-none-eabi GCC."""
