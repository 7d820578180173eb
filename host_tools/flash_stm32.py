"""`hushkit flash --protocol stm32`: the first flash of a bare STM32 through its ROM bootloader.

The chip's system-memory bootloader speaks ST's AN3155 over USART (8E1); `stm32loader` (PyPI)
implements it and is used here as is. With BOOT0 on RTS and NRST on DTR (the usual wiring of
USB-serial adapters for STM32 boards) the board is put into its ROM bootloader automatically;
otherwise hold BOOT0 high and press reset before running the command.

    hushkit flash --protocol stm32 --port /dev/ttyUSB0 build/firmware/boot-m4/firmware.bin

Steps: synchronise (0x7F), GET, GET_ID, mass erase, write the binary at the flash base in
256-byte blocks, read it back and compare, then GO to it. Later updates go through hushkit's
own bootloader (`hushkit flash --port ... IMAGE`).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import serial

from hushkit.errors import HushkitError

# AN3155: 8 data bits, even parity, 1 stop bit; the ROM bootloader autobauds on 0x7F.
ROM_BAUDRATE = 115200
ROM_TIMEOUT_S = 2.0
STM32_FLASH_BASE = 0x08000000
RESET_PULSE_S = 0.1


class Stm32FlashError(HushkitError, RuntimeError):
    """The ROM bootloader refused or did not answer; the message says what to check."""


class UrlConnection:
    """What stm32loader needs from a port (read, write, timeout, reset and BOOT0 lines), on any
    pyserial URL: /dev/ttyUSB0, socket://HOST:PORT, rfc2217://."""

    def __init__(self, url: str, baudrate: int = ROM_BAUDRATE, timeout: float | None = None):
        self.port = serial.serial_for_url(
            url,
            baudrate=baudrate,
            parity=serial.PARITY_EVEN,
            timeout=ROM_TIMEOUT_S if timeout is None else timeout,
        )

    @property
    def timeout(self) -> float:
        return self.port.timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        self.port.timeout = value

    def write(self, data: bytes) -> int:
        return self.port.write(data)

    def read(self, size: int = 1) -> bytes:
        return self.port.read(size)

    def enable_reset(self, enable: bool = True) -> None:
        # NRST on DTR: modem lines are active low, so asserting DTR pulls NRST low.
        self.port.dtr = bool(enable)

    def enable_boot0(self, enable: bool = True) -> None:
        self.port.rts = not enable  # BOOT0 high when RTS is released (level inverted)

    def flush_input_buffer(self) -> None:
        self.port.reset_input_buffer()

    def close(self) -> None:
        self.port.close()


@dataclasses.dataclass
class Stm32Result:
    chip_id: int
    bootloader_version: int
    bytes_written: int
    seconds: float


def flash_binary(
    url: str, binary: Path, address: int = STM32_FLASH_BASE, go: bool = True
) -> Stm32Result:
    from stm32loader.bootloader import Stm32Bootloader, Stm32LoaderError

    data = Path(binary).read_bytes()
    start = time.monotonic()
    conn = UrlConnection(url)
    try:
        loader = Stm32Bootloader(conn, device_family="F4", verbosity=0)
        loader.reset_from_system_memory()
        version = loader.get()
        chip = loader.get_id()
        loader.erase_memory(None)
        loader.write_memory_data(address, data)
        loader.verify_data(loader.read_memory_data(address, len(data)), data)
        if go:
            loader.go(address)
    except Stm32LoaderError as exc:
        raise Stm32FlashError(
            f"STM32 ROM bootloader: {exc} (BOOT0 high and reset? 8E1 at {ROM_BAUDRATE} baud?)"
        ) from exc
    finally:
        conn.close()
    return Stm32Result(chip, version, len(data), time.monotonic() - start)


def run(args) -> int:
    binary = Path(args.image)
    if binary.suffix in (".elf", ".img"):
        binary = binary.with_suffix(".bin")
    if not binary.is_file():
        print(f"error: {binary} not found (the ROM bootloader takes a raw .bin)", file=sys.stderr)
        return 1
    try:
        result = flash_binary(args.port, binary)
    except (Stm32FlashError, serial.SerialException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"STM32 chip 0x{result.chip_id:03x} (ROM bootloader v{result.bootloader_version >> 4}."
        f"{result.bootloader_version & 0xF}): {result.bytes_written} bytes written and "
        f"verified in {result.seconds:.1f} s"
    )
    return 0
