"""Atheris target: the host tools' parsers of what a device sends back.

    .venv/bin/python tests/fuzz/fuzz_host.py -atheris_runs=20000 build/fuzz/corpus-host
    make -C tests/fuzz smoke-host          (make test runs this)
    make -C tests/fuzz run-host FUZZ_SECONDS=3600

Whatever bytes a device (or a noisy cable) sends, the host tools must either return a clean
result or raise the package's one user-facing error (`HushkitError`, shown as one line);
any other exception (IndexError, struct.error, UnicodeDecodeError, a numpy ValueError...) is
a finding. The first input byte picks a parser, the second how the rest is used:

    parsers fed bytes directly: frame decoding (COBS, CRC, header; plus an encode/decode
    round trip), resynchronising on junk, every reply layout, IDENTIFY and AUDIO_STATUS
    parsing, MCUboot image files (the reader and the host's pre-check);
    client commands against a fake serial port that plays the rest as the device's reply
    stream: INFO, STATS, SAFETY, SET, RESET, PROCESS (with and without taps), IDENTIFY,
    FLASH_HASH, MARK_PENDING, AUDIO_STATUS, AUDIO_READ and `hushkit info`'s description.
    Mode 0 plays the bytes raw; mode 1 reads them as records
    [flags, opcode, seq_lo, seq_hi, status, len_lo, len_hi, payload...] that the harness
    frames with a valid CRC, so the replies' layouts are reached without guessing CRCs
    (flags bit 0: use this opcode instead of the expected reply's, bit 1: this seq).

Seeds: tests/fuzz/corpus/host/ (tests/fuzz/make_seeds.py).
"""

from __future__ import annotations

import struct
import sys

import atheris
import numpy as np

with atheris.instrument_imports(include=["hushkit"]):
    from hushkit import client as c
    from hushkit import (
        flash_client,
        flash_image,
        flash_info,
        flash_verify,
        framing,
        latency_device,
        payloads,
    )
    from hushkit import protocol as p
    from hushkit.errors import HushkitError
    from hushkit.transport import Link

HOP = 128
# What the fake device said in INFO (the client needs it for PROCESS).
INFO = c.DeviceInfo(
    protocol_version=p.PROTOCOL_VERSION, fw_version="fuzz", target="qemu-m4",
    model_sha256="0" * 64, sample_rate=16000, n_fft=256, hop=HOP, n_bins=129, state_size=64,
    model_status=0, model_message="", arena_bytes=0, max_payload=framing.MAX_PAYLOAD,
    cost_source=p.CostSource.NONE,
)  # fmt: skip
LAYOUTS = list(payloads.LAYOUTS)


class FakePort:
    """A serial port whose device answers every request with the next bytes of `data`."""

    def __init__(self, data: bytes):
        self.data = data
        self.timeout: float | None = 1.0

    def write(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def read_until(self, terminator: bytes, size: int) -> bytes:
        end = self.data.find(terminator, 0, size)
        n = min(size, len(self.data)) if end < 0 else end + len(terminator)
        out, self.data = self.data[:n], self.data[n:]
        return out

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


def framed(records: bytes, expected: list[int]) -> bytes:
    """Mode 1: device replies built from records, each a valid frame (see the docstring)."""
    out = bytearray()
    at = k = 0
    while at + 7 <= len(records):
        flags, opcode, seq, status, length = struct.unpack_from("<BBHBH", records, at)
        at += 7
        payload = records[at : at + min(length, framing.MAX_PAYLOAD)]
        at += len(payload)
        if not flags & 1:
            opcode = expected[min(k, len(expected) - 1)] | framing.REPLY_FLAG
        if not flags & 2:
            seq = 1 + k
        frame = framing.Frame(opcode=opcode, seq=seq, payload=payload, status=status)
        out += framing.encode_frame(frame)
        k += 1
    return bytes(out)


def make_client(cls, stream: bytes):
    client = cls(Link(FakePort(stream)), timeout=1.0)
    client._seq = 0  # requests carry seq 1, 2, ...: what mode 1's records answer by default
    client._first = False  # no first-INFO resend loop (it waits out its time-out)
    return client


def check_process(client: c.DeviceClient, n_hops: int, taps: bool) -> None:
    client._info = INFO
    pcm = np.arange(n_hops * HOP, dtype=np.int16)
    out = client.process(pcm, taps=taps)
    assert out.pcm.dtype == np.int16 and out.pcm.size == n_hops * HOP
    assert out.cost.size == n_hops
    if taps:
        assert out.taps is not None and all(v.shape[0] == n_hops for v in out.taps.values())


# Client commands: name -> (client class, opcodes of the replies it expects, what it runs).
COMMAND_NAMES = [
    ("info", (c.DeviceClient, [p.Opcode.INFO], lambda d: d.info())),
    ("info_refused", (c.DeviceClient, [p.Opcode.INFO, p.Opcode.IDENTIFY], lambda d: d.info())),
    ("stats", (c.DeviceClient, [p.Opcode.STATS], lambda d: d.stats())),
    ("safety", (c.DeviceClient, [p.Opcode.SAFETY], lambda d: d.safety())),
    ("set", (c.DeviceClient, [p.Opcode.SET], lambda d: d.set(bypass=True, attenuation_db=12.0))),
    ("reset", (c.DeviceClient, [p.Opcode.RESET], lambda d: d.reset())),
    ("process", (c.DeviceClient, [p.Opcode.PROCESS], lambda d: check_process(d, 2, False))),
    ("process_taps", (c.DeviceClient, [p.Opcode.PROCESS], lambda d: check_process(d, 1, True))),
    ("identify", (flash_client.FlashClient, [p.Opcode.IDENTIFY], lambda d: d.identify())),
    (
        "flash_hash",
        (flash_client.FlashClient, [p.Opcode.FLASH_HASH], lambda d: d.hash(0x20000, 4096)),
    ),
    (
        "mark_pending",
        (flash_client.FlashClient, [p.Opcode.MARK_PENDING], lambda d: d.mark_pending(2)),
    ),
    (
        "describe",
        (flash_client.FlashClient, [p.Opcode.IDENTIFY, p.Opcode.INFO], flash_info.describe),
    ),
    ("audio_status", (c.DeviceClient, [p.Opcode.AUDIO_STATUS], latency_device.audio_status)),
    (
        "audio_read",
        (c.DeviceClient, [p.Opcode.AUDIO_READ], lambda d: latency_device.read_tape(d, 300)),
    ),
]
COMMANDS = [command for _, command in COMMAND_NAMES]


def parse_frame(data: bytes) -> None:
    frame = framing.decode_frame(data)
    if len(frame.payload) <= framing.MAX_PAYLOAD:
        assert framing.decode_frame(framing.encode_frame(frame)) == frame


def parse_image(data: bytes) -> None:
    """The image reader, then the pre-check `flash` and `model push` run before a port opens."""
    try:
        flash_image.parse(data)
    except HushkitError:
        pass
    flash_verify.check_structure(data)


def parse_layouts(data: bytes) -> None:
    if data:
        c._parse(LAYOUTS[data[0] % len(LAYOUTS)], data[1:])


# Parsers fed the bytes directly.
PARSER_NAMES = [
    ("frame", parse_frame),
    ("resync", c._decode_resync),
    ("cobs", framing.cobs_decode),
    ("layouts", parse_layouts),
    ("identify", flash_client.parse_identity),
    ("audio_status", latency_device._status),
    ("image", parse_image),
]
PARSERS = [parser for _, parser in PARSER_NAMES]


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    pick, mode, rest = data[0], data[1], data[2:]
    try:
        if pick < 0x80:
            PARSERS[pick % len(PARSERS)](rest)
            return
        cls, expected, run = COMMANDS[(pick - 0x80) % len(COMMANDS)]
        stream = framed(rest, expected) if mode & 1 else rest
        run(make_client(cls, stream))
    except HushkitError as exc:
        # The one line the CLI prints: it must be text (a message, not an empty string).
        assert str(exc), f"{type(exc).__name__} without a message"


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
