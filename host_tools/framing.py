"""The frame layer of the serial protocol: header, COBS, CRC and the frame codec.

Frame on the wire (both directions):

    COBS( header | payload | CRC32-LE(header | payload) ) 0x00

    header  <BBHH  opcode, status, seq, payload length (bytes)

COBS removes every 0x00 from the frame, so 0x00 only ever marks a frame's end and a receiver
resynchronises on the next one after line noise. The CRC is IEEE 802.3 (zlib.crc32). Requests
carry status 0; a reply echoes the request's seq and sets REPLY_FLAG in the opcode. A frame
the device could not read (bad CRC, bad COBS, too long) is answered with an error status and
as much of the request header as it could read.

What the frames carry (opcodes, status codes, payload layouts) is in `hushkit.protocol` and
`hushkit.payloads`; `python -m hushkit.codegen` writes all three into hush_protocol.h.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

from hushkit.errors import HushkitError

HEADER = struct.Struct("<BBHH")  # opcode, status, seq, payload length
CRC = struct.Struct("<I")  # CRC32 (IEEE, zlib.crc32) of header | payload
MAX_PAYLOAD = 4096  # bytes; sizes the device's receive and reply buffers (~4 KB each)
MAX_RAW_FRAME = HEADER.size + MAX_PAYLOAD + CRC.size
COBS_BLOCK = 254  # data bytes per COBS code byte at most
REPLY_FLAG = 0x80  # set in the opcode of every reply
DELIMITER = b"\x00"


def cobs_overhead(raw_len: int) -> int:
    """Worst-case bytes COBS adds to `raw_len` bytes (not counting the delimiter)."""
    return 1 + raw_len // COBS_BLOCK


MAX_ENCODED_FRAME = MAX_RAW_FRAME + cobs_overhead(MAX_RAW_FRAME) + len(DELIMITER)


class FrameError(HushkitError, ValueError):
    """Bytes that are not a valid frame or reply layout (COBS, length or CRC): what a device
    or a noisy link sent, so one of the package's user-facing errors."""


@dataclasses.dataclass(frozen=True)
class Frame:
    opcode: int
    seq: int
    payload: bytes = b""
    status: int = 0  # protocol.Status.OK in requests


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode `data` (no delimiter): the output holds no 0x00 byte."""
    out = bytearray()
    for chunk in bytes(data).split(b"\x00"):
        # Each zero-free chunk becomes blocks of at most 254 bytes; a full block (code 0xFF)
        # carries no implicit zero, so a chunk of exactly 254 bytes still ends in code 0x01.
        while len(chunk) >= COBS_BLOCK:
            out.append(COBS_BLOCK + 1)
            out += chunk[:COBS_BLOCK]
            chunk = chunk[COBS_BLOCK:]
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Invert `cobs_encode`; raise FrameError on a zero byte or a truncated block."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            raise FrameError(f"COBS: zero byte at offset {i}")
        end = i + code
        if end > len(data):
            raise FrameError("COBS: block runs past the end of the frame")
        block = data[i + 1 : end]
        if 0 in block:
            raise FrameError("COBS: zero byte inside a block")
        out += block
        i = end
        if code != COBS_BLOCK + 1 and i < len(data):
            out.append(0)
    return bytes(out)


def encode_frame(frame: Frame) -> bytes:
    """The bytes to send for `frame`, delimiter included."""
    if len(frame.payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(frame.payload)} bytes exceeds {MAX_PAYLOAD}")
    raw = HEADER.pack(frame.opcode, frame.status, frame.seq & 0xFFFF, len(frame.payload))
    raw += frame.payload
    return cobs_encode(raw + CRC.pack(crc32(raw))) + DELIMITER


def decode_frame(encoded: bytes) -> Frame:
    """Parse one frame's bytes (with or without the trailing delimiter)."""
    raw = cobs_decode(encoded[:-1] if encoded.endswith(DELIMITER) else encoded)
    if len(raw) < HEADER.size + CRC.size:
        raise FrameError(f"frame of {len(raw)} bytes is shorter than header + CRC")
    body, (crc,) = raw[: -CRC.size], CRC.unpack(raw[-CRC.size :])
    if crc32(body) != crc:
        raise FrameError(f"CRC mismatch: frame says {crc:08x}, bytes give {crc32(body):08x}")
    opcode, status, seq, length = HEADER.unpack_from(body)
    payload = body[HEADER.size :]
    if length != len(payload):
        raise FrameError(f"header says {length} payload bytes, frame holds {len(payload)}")
    return Frame(opcode=opcode, seq=seq, payload=payload, status=status)
