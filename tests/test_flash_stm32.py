"""`hushkit flash --protocol stm32` against a simulated AN3155 ROM bootloader.

No STM32 is attached here: `SimulatedRomBootloader` serves ST's AN3155 USART protocol on a
local socket (synchronise, GET, GET_ID, extended mass erase, write/read memory in 256-byte
blocks with XOR checksums, GO) over an emulated 1 MB NOR flash at 0x08000000, and answers
NACK to anything malformed, like the ROM does.
"""

from __future__ import annotations

import functools
import operator
import socket
import struct
import threading

import pytest

from hushkit import cli, flash_stm32

ACK, NACK = 0x79, 0x1F
FLASH_BASE, FLASH_SIZE = 0x08000000, 1 << 20
COMMANDS = bytes([0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x44])
CHIP_ID = 0x413  # STM32F405/407


def xor(data: bytes, start: int = 0) -> int:
    return functools.reduce(operator.xor, data, start)


class SimulatedRomBootloader:
    def __init__(self, corrupt_reads: bool = False):
        self.flash = bytearray(b"\x00" * FLASH_SIZE)  # unknown contents until erased
        self.corrupt_reads = corrupt_reads
        self.started_at: int | None = None
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.server.close()
        self.thread.join(5)

    def _serve(self):
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small replies, no Nagle
        self.conn = conn
        self.buf = b""
        with conn:
            try:
                while True:
                    self._command()
            except (ConnectionError, OSError, EOFError):
                return

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            data = self.conn.recv(4096)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, *parts):
        self.conn.sendall(b"".join(bytes([p]) if isinstance(p, int) else bytes(p) for p in parts))

    def _address(self) -> int | None:
        raw = self._read(5)
        if xor(raw[:4]) != raw[4]:
            return None
        return struct.unpack(">I", raw[:4])[0]

    def _command(self):
        first = self._read(1)[0]
        if first == 0x7F:  # synchronise (autobaud)
            self._send(ACK)
            return
        if xor(self._read(1), first) != 0xFF:
            self._send(NACK)
            return
        if first == 0x00:
            self._send(ACK, len(COMMANDS), 0x31, COMMANDS, ACK)
        elif first == 0x02:
            self._send(ACK, 1, struct.pack(">H", CHIP_ID), ACK)
        elif first == 0x44:
            self._send(ACK)
            count = self._read(2)
            if count == b"\xff\xff" and self._read(1) == b"\x00":
                self.flash[:] = b"\xff" * FLASH_SIZE
                self._send(ACK)
            else:
                self._send(NACK)
        elif first in (0x31, 0x11):
            self._send(ACK)
            addr = self._address()
            if addr is None or not FLASH_BASE <= addr < FLASH_BASE + FLASH_SIZE:
                self._send(NACK)
                return
            self._send(ACK)
            off = addr - FLASH_BASE
            if first == 0x31:
                n = self._read(1)[0] + 1
                data = self._read(n)
                ok = xor(data, n - 1) == self._read(1)[0] and off + n <= FLASH_SIZE
                ok = ok and all(b == 0xFF for b in self.flash[off : off + n])  # NOR
                if ok:
                    self.flash[off : off + n] = data
                self._send(ACK if ok else NACK)
            else:
                raw = self._read(2)
                if raw[0] ^ raw[1] != 0xFF:
                    self._send(NACK)
                    return
                out = bytearray(self.flash[off : off + raw[0] + 1])
                if self.corrupt_reads and out:
                    out[0] ^= 0x01
                self._send(ACK, out)
        elif first == 0x21:
            self._send(ACK)
            addr = self._address()
            self.started_at = addr
            self._send(ACK if addr is not None else NACK)
        else:
            self._send(NACK)


@pytest.fixture
def rom():
    pytest.importorskip("stm32loader")
    device = SimulatedRomBootloader()
    yield device
    device.close()


def test_simulated_rom_bootloader_first_flash(rom, tmp_path, capsys):
    binary = tmp_path / "boot.bin"
    binary.write_bytes(bytes(range(256)) * 37 + b"\x01\x02\x03")  # not a multiple of 256 or 4
    assert cli.main(["flash", "--protocol", "stm32", "--port", rom.url, str(binary)]) == 0
    data = binary.read_bytes()
    assert rom.flash[: len(data)] == data
    assert rom.flash[len(data) : len(data) + 16] == b"\xff" * 16
    assert rom.started_at == FLASH_BASE
    assert "chip 0x413" in capsys.readouterr().out


def test_simulated_rom_bootloader_readback_mismatch_is_reported(tmp_path, capsys):
    pytest.importorskip("stm32loader")
    device = SimulatedRomBootloader(corrupt_reads=True)
    try:
        binary = tmp_path / "boot.bin"
        binary.write_bytes(b"\x5a" * 600)
        assert cli.main(["flash", "--protocol", "stm32", "--port", device.url, str(binary)]) == 1
    finally:
        device.close()
    err = capsys.readouterr().err
    assert "does not match" in err and device.started_at is None


def test_simulated_rom_bootloader_silent_port_is_a_clear_error(tmp_path, capsys, monkeypatch):
    pytest.importorskip("stm32loader")
    monkeypatch.setattr(flash_stm32, "ROM_TIMEOUT_S", 0.05)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # accepts the connection, never answers
    binary = tmp_path / "boot.bin"
    binary.write_bytes(b"\x00" * 8)
    url = f"socket://127.0.0.1:{server.getsockname()[1]}"
    try:
        assert cli.main(["flash", "--protocol", "stm32", "--port", url, str(binary)]) == 1
    finally:
        server.close()
    assert "STM32 ROM bootloader" in capsys.readouterr().err
