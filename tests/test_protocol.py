"""The serial protocol: generated C header in sync, codec round trips, C codec == Python codec."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from hushkit import codegen, framing, payloads
from hushkit import protocol as p


def test_committed_header_matches_definition():
    committed = codegen.HEADER_PATH.read_text()
    assert committed == codegen.render(), (
        "firmware/core/include/hush_protocol.h is stale: run `python -m hushkit.codegen`"
    )
    assert p.definition_hash() in committed


def test_definition_hash_follows_the_definition(monkeypatch):
    before = p.definition_hash()
    monkeypatch.setattr(framing, "MAX_PAYLOAD", framing.MAX_PAYLOAD + 2)
    assert p.definition_hash() != before


def test_every_status_has_a_message():
    assert set(p.STATUS_MESSAGES) == set(p.Status)
    assert "unknown status" in p.status_message(250)


def test_layout_offsets_agree_with_struct():
    for layout in payloads.LAYOUTS:
        values = {}
        for i, f in enumerate(layout.named_fields()):
            code = f.fmt[-1]
            values[f.name] = bytes([65 + i]) * struct.calcsize(f.fmt) if code == "s" else i + 1
        packed = layout.pack(**values)
        assert len(packed) == layout.size
        assert layout.unpack(packed) == values
        for name, (offset, size) in layout.offsets().items():
            fmt = next(f.fmt for f in layout.fields if f.name == name)
            (value,) = struct.unpack_from("<" + fmt, packed, offset)
            assert value == values[name] and struct.calcsize(fmt) == size


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", b"\x01"),
        (b"\x00", b"\x01\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    ],
)
def test_cobs_vectors(data, expected):
    assert framing.cobs_encode(data) == expected
    assert framing.cobs_decode(expected) == data


@pytest.mark.parametrize("n", [253, 254, 255, 508, 509, 1000])
def test_cobs_long_runs(n):
    data = bytes(1 + i % 255 for i in range(n))
    enc = framing.cobs_encode(data)
    assert 0 not in enc
    full_blocks = n // framing.COBS_BLOCK
    assert len(enc) == n + full_blocks + 1
    assert enc[0] == (0xFF if n >= 254 else n + 1)
    assert framing.cobs_decode(enc) == data


def test_cobs_all_zeros_and_random():
    assert framing.cobs_encode(bytes(300)) == b"\x01" * 301
    rng = random.Random(1)
    for _ in range(200):
        n = rng.randrange(0, 1200)
        zero_rate = rng.choice([0.0, 0.01, 0.5])
        data = bytes(0 if rng.random() < zero_rate else rng.randrange(1, 256) for _ in range(n))
        enc = framing.cobs_encode(data)
        assert 0 not in enc and len(enc) <= n + framing.cobs_overhead(n)
        assert framing.cobs_decode(enc) == data


@pytest.mark.parametrize("bad", [b"\x00", b"\x03\x11", b"\x03\x00\x11", b"\x05\x11\x22\x33"])
def test_cobs_rejects(bad):
    with pytest.raises(framing.FrameError):
        framing.cobs_decode(bad)


def test_crc_vectors():
    assert framing.crc32(b"123456789") == 0xCBF43926  # CRC-32/ISO-HDLC check value
    assert framing.crc32(b"") == 0
    assert framing.crc32(b"\x00" * 4) == zlib.crc32(b"\x00" * 4) == 0x2144DF1C


def test_frame_round_trip_every_opcode():
    rng = random.Random(2)
    for opcode in p.Opcode:
        for size in (0, 1, 300, framing.MAX_PAYLOAD):
            payload = bytes(rng.randrange(256) for _ in range(size))
            frame = framing.Frame(
                opcode=opcode | framing.REPLY_FLAG,
                seq=rng.randrange(65536),
                payload=payload,
                status=p.Status.BAD_LENGTH,
            )
            wire = framing.encode_frame(frame)
            assert wire.endswith(b"\x00") and wire.count(0) == 1
            assert len(wire) <= framing.MAX_ENCODED_FRAME
            assert framing.decode_frame(wire) == frame


def test_oversized_payload_refused():
    with pytest.raises(ValueError):
        framing.encode_frame(
            framing.Frame(opcode=p.Opcode.PROCESS, seq=1, payload=bytes(framing.MAX_PAYLOAD + 1))
        )


def test_corrupted_frames_rejected():
    wire = framing.encode_frame(
        framing.Frame(opcode=p.Opcode.SET, seq=77, payload=b"\x03\x01\x00\x00abcd")
    )
    body = wire[:-1]
    for i in range(len(body)):
        for flip in (0x01, 0x80):
            bad = bytearray(body)
            bad[i] ^= flip
            with pytest.raises(framing.FrameError):
                framing.decode_frame(bytes(bad))
    for cut in range(1, len(body)):
        with pytest.raises(framing.FrameError):
            framing.decode_frame(body[:cut])


def test_length_field_mismatch_rejected():
    raw = framing.HEADER.pack(p.Opcode.INFO, 0, 5, 3) + b"ab"
    wire = framing.cobs_encode(raw + framing.CRC.pack(framing.crc32(raw)))
    with pytest.raises(framing.FrameError, match="payload bytes"):
        framing.decode_frame(wire)


def test_process_block_limits():
    for hop in (64, 128):
        for taps in (0, payloads.tap_bytes(hop + 1, 64)):
            k = payloads.process_max_hops(hop, taps)
            assert k >= 1
            assert payloads.PROCESS_REQUEST.size + k * 2 * hop <= framing.MAX_PAYLOAD
            record = payloads.PROCESS_HOP.size + 2 * hop + taps
            assert payloads.PROCESS_REPLY.size + k * record <= framing.MAX_PAYLOAD
            over_request = payloads.PROCESS_REQUEST.size + (k + 1) * 2 * hop > framing.MAX_PAYLOAD
            over_reply = payloads.PROCESS_REPLY.size + (k + 1) * record > framing.MAX_PAYLOAD
            assert over_request or over_reply


# ---- the firmware's C codec (host build) against this module ---------------------------


@pytest.fixture(scope="module")
def ccodec():
    from hushkit import corelib

    try:
        return corelib.FrameCodec()
    except (corelib.CoreLibraryMissing, AttributeError) as exc:
        pytest.skip(f"host core library without the frame codec: {exc}")


def test_c_crc_and_cobs_equal_python(ccodec):
    rng = random.Random(3)
    cases = [b"", bytes(300), bytes(range(1, 255)), bytes(range(1, 256)) * 3]
    for _ in range(100):
        n = rng.randrange(0, 1500)
        cases.append(bytes(rng.choice([0, rng.randrange(1, 256)]) for _ in range(n)))
    for data in cases:
        assert ccodec.crc32(data) == framing.crc32(data)
        enc = ccodec.cobs_encode(data)
        assert enc == framing.cobs_encode(data)
        assert ccodec.cobs_decode(enc) == data
    for bad in (b"\x00", b"\x03\x11", b"\x03\x00\x11"):
        assert ccodec.cobs_decode(bad) is None


def test_c_frames_equal_python(ccodec):
    rng = random.Random(4)
    for size in (0, 1, 253, 254, 1000, framing.MAX_PAYLOAD):
        payload = bytes(rng.randrange(256) for _ in range(size))
        frame = framing.Frame(
            opcode=p.Opcode.PROCESS | framing.REPLY_FLAG,
            seq=rng.randrange(65536),
            payload=payload,
            status=p.Status.OK,
        )
        wire = framing.encode_frame(frame)
        assert ccodec.encode(frame.opcode, frame.status, frame.seq, payload) == wire
        events = ccodec.feed(wire)
        assert events == [("ready", wire_body(frame))]
    assert ccodec.encode(p.Opcode.PROCESS, 0, 1, bytes(framing.MAX_PAYLOAD + 1)) == b""


def test_c_decoder_rejects_like_python(ccodec):
    good = framing.encode_frame(framing.Frame(opcode=p.Opcode.STATS, seq=9))
    corrupt = bytearray(good)
    corrupt[3] = corrupt[3] ^ 0x10 or 0x10
    truncated = good[:3] + b"\x00"
    too_long = b"\xff" * (framing.MAX_RAW_FRAME + 300) + b"\x00"
    stream = b"\x00\x00" + bytes(corrupt) + truncated + too_long + good
    events = [name for name, _ in ccodec.feed(stream)]
    assert events == ["crc", "cobs", "too_long", "ready"]
    for bad in (bytes(corrupt), truncated):
        with pytest.raises(framing.FrameError):
            framing.decode_frame(bad)


def wire_body(frame: framing.Frame) -> bytes:
    return (
        framing.HEADER.pack(frame.opcode, frame.status, frame.seq, len(frame.payload))
        + frame.payload
    )
