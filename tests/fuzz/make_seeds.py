"""Write the committed seed corpus of the fuzz targets (run from the repository root).

    .venv/bin/python tests/fuzz/make_seeds.py

Seeds are valid inputs of each kind, so the fuzzer starts from the interesting paths: whole
frames for the decoder, every command with sensible arguments for the command handler, and
the small test models for the model loader (the shipped model is added at run time).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from hushkit import payloads
from hushkit import protocol as p
from hushkit.framing import Frame, encode_frame

HERE = Path(__file__).resolve().parent
HOP = 128


def structured(requests: list[tuple[int, bytes]]) -> bytes:
    """The command target's odd-first-byte format: [opcode, len_lo, len_hi, payload]..."""
    out = b"\x01"
    for opcode, payload in requests:
        out += bytes([opcode]) + struct.pack("<H", len(payload)) + payload
    return out


def process(n_hops: int, flags: int = 0, seed: int = 0) -> bytes:
    pcm = (np.random.default_rng(seed).standard_normal(n_hops * HOP) * 3000).astype("<i2")
    return payloads.PROCESS_REQUEST.pack(n_hops=n_hops, flags=flags) + pcm.tobytes()


def main() -> None:
    frames = {
        "info": encode_frame(Frame(p.Opcode.INFO, 1)),
        "process": encode_frame(Frame(p.Opcode.PROCESS, 2, process(2))),
        "set": encode_frame(Frame(p.Opcode.SET, 3, payloads.SET_REQUEST.pack(
            fields=3, bypass=0, attenuation_db=12.0))),
        "junk_then_frame": b"\x11\x22\x00\x05" + encode_frame(Frame(p.Opcode.STATS, 4)),
    }
    (HERE / "corpus" / "frame").mkdir(parents=True, exist_ok=True)
    for name, data in frames.items():
        (HERE / "corpus" / "frame" / name).write_bytes(data)

    commands = {
        "raw_info_stats": b"\x00" + frames["info"] + encode_frame(Frame(p.Opcode.STATS, 9)),
        "session": structured([
            (p.Opcode.INFO, b""), (p.Opcode.RESET, b""), (p.Opcode.PROCESS, process(3)),
            (p.Opcode.STATS, b""), (p.Opcode.SAFETY, b""),
        ]),
        "taps": structured([(p.Opcode.PROCESS, process(1, flags=1, seed=1))]),
        "set_then_process": structured([
            (p.Opcode.SET, payloads.SET_REQUEST.pack(fields=2, bypass=0, attenuation_db=20.0)),
            (p.Opcode.PROCESS, process(2, seed=2)),
            (p.Opcode.SET, payloads.SET_REQUEST.pack(fields=1, bypass=1, attenuation_db=0.0)),
            (p.Opcode.PROCESS, process(1, seed=3)),
        ]),
    }
    (HERE / "corpus" / "commands").mkdir(parents=True, exist_ok=True)
    for name, data in commands.items():
        (HERE / "corpus" / "commands" / name).write_bytes(data)

    # Model seeds: the small recurrent test models (TensorFlow converts them once; cached).
    import sys

    sys.path.insert(0, str(HERE.parent))
    import tflite_fixtures as fx

    (HERE / "corpus" / "model").mkdir(parents=True, exist_ok=True)
    for name in ("gru_small", "fc_relu"):
        (HERE / "corpus" / "model" / f"{name}.tflite").write_bytes(fx.model_bytes(name))


if __name__ == "__main__":
    main()
