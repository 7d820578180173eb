"""The byte link to a board or the emulator: one code path for every kind of port.

`open_link("/dev/ttyUSB0")` and `open_link("socket://127.0.0.1:4321")` (QEMU's TCP serial)
both go through `serial.serial_for_url`, so everything above this module is the same for a
real board and for the emulator. `trace=True` hex-dumps every byte to stderr.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO

import serial

from hushkit.errors import HushkitError

# Seconds a reply may take in total. The slowest exchange is a full PROCESS block (~4 KB
# each way) over QEMU's emulated UART, where host -> guest moves only ~20 kB/s: ~0.2 s of
# transfer plus the processing of ~15 hops, so 5 s leaves ample margin.
DEFAULT_TIMEOUT_S = 5.0
# Real UARTs: the USB-serial bridges on the boards we drive run 921600 baud 8N1 (~90 kB/s);
# ignored by socket:// and loop:// links.
DEFAULT_BAUDRATE = 921600
# QEMU starts listening on its TCP serial port a little after it is launched: retry the
# connection this many times, this far apart, before giving up (3 s in all).
CONNECT_RETRIES = 30
CONNECT_RETRY_DELAY_S = 0.1
TRACE_BYTES_PER_LINE = 16


class LinkError(HushkitError, OSError):
    """The port could not be opened."""


class Link:
    """A serial port (or socket) with an optional hex trace of the traffic."""

    def __init__(self, port: serial.SerialBase, trace: TextIO | None = None):
        self.port = port
        self.trace = trace

    @property
    def timeout(self) -> float | None:
        return self.port.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.port.timeout = value

    def write(self, data: bytes) -> None:
        self._dump("->", data)
        self.port.write(data)
        self.port.flush()

    def read_until(self, terminator: bytes, size: int) -> bytes:
        """Bytes up to and including `terminator`; fewer (without it) when the timeout hits."""
        data = self.port.read_until(terminator, size)
        self._dump("<-", data)
        return bytes(data)

    def discard_input(self) -> None:
        """Drop bytes already received but not read (stale replies, boot messages)."""
        self.port.reset_input_buffer()

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dump(self, direction: str, data: bytes) -> None:
        if not self.trace or not data:
            return
        stamp = f"{time.monotonic():.3f}"
        for i in range(0, len(data), TRACE_BYTES_PER_LINE):
            chunk = data[i : i + TRACE_BYTES_PER_LINE]
            prefix = f"{stamp} {direction} {len(data):5d}" if i == 0 else " " * (len(stamp) + 9)
            print(f"{prefix} {i:04x}: {chunk.hex(' ')}", file=self.trace)
        self.trace.flush()


def port_holders(port: str) -> list[str]:
    """Other processes that have the device file `port` open, as "PID (name)" (Linux /proc).

    A second program on a serial port steals the replies: the first one then sees a silent
    device. Naming the holder turns that into a clear message.
    """
    try:
        target = os.path.realpath(port)
        if not os.path.exists(target) or not Path("/proc/self/fd").is_dir():
            return []
    except OSError:
        return []
    holders = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.path.realpath(fd) == target:
                    name = (proc / "comm").read_text().strip()
                    holders.append(f"{proc.name} ({name})")
                    break
        except OSError:
            continue  # a process we may not inspect, or one that just ended
    return holders


def open_link(url: str, timeout: float = DEFAULT_TIMEOUT_S, trace: bool = False) -> Link:
    """Open a serial device path or pyserial URL (socket://HOST:PORT, loop://, rfc2217://)."""
    if not timeout > 0:
        raise LinkError(f"timeout must be a positive number of seconds, not {timeout}")
    if "://" not in url:
        if not os.path.exists(url):
            raise LinkError(f"cannot open {url}: no such port (is the board plugged in? "
                            "`ls /dev/ttyUSB* /dev/ttyACM*` lists serial ports)")
        holders = port_holders(url)
        if holders:
            raise LinkError(f"{url} is in use by another program: {', '.join(holders)}; "
                            "close it and retry")
    last_error: Exception | None = None
    attempts = CONNECT_RETRIES if url.startswith("socket://") else 1
    for attempt in range(attempts):
        try:
            port = serial.serial_for_url(url, baudrate=DEFAULT_BAUDRATE, timeout=timeout)
            return Link(port, trace=sys.stderr if trace else None)
        except (serial.SerialException, OSError, ValueError) as exc:
            last_error = exc
            if attempt + 1 < attempts:
                time.sleep(CONNECT_RETRY_DELAY_S)
    if isinstance(last_error, serial.SerialException) and "busy" in str(last_error).lower():
        raise LinkError(f"{url} is in use by another program; close it and retry")
    raise LinkError(f"cannot open {url}: {last_error}")
