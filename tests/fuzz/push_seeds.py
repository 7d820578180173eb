"""`hushkit model push` sessions for the command fuzzer's seed corpus (make_seeds.py).

The pushed model is the smallest one the firmware accepts for its DSP configuration: the
streaming interface (`features` [1, 129] and `state_in` [1, 4] in, `mask` [1, 129] and
`state_out` [1, 4] out) with one LOGISTIC and one TANH, about 1 KB, so a whole session (image
header, body, TLVs, written in chunks) stays a small seed. Each session is the command
target's structured format; its first byte also says whether the bootloader holds the fuzz
test key (then images are signed with it, as `hushkit model push --sign-key` does).
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np

from hushkit import flash_image, payloads
from hushkit import flash_layout as fl
from hushkit import protocol as p

N_BINS = 129  # the shipped DSP configuration: n_fft 256
STATE = 4
STRUCTURED, KEYED = 0x01, 0x02  # first-byte flags of fuzz_commands.c


def tiny_model() -> bytes:
    """mask = sigmoid(features), state_out = tanh(state_in), full int8 (TensorFlow)."""
    import tflite_fixtures as fx

    fx._tf()
    import keras

    feat = keras.Input((N_BINS,), batch_size=1, name="features")
    state = keras.Input((STATE,), batch_size=1, name="state_in")
    mask = keras.layers.Activation("sigmoid")(feat)
    new_state = keras.layers.Activation("tanh")(state)
    model = keras.Model({"features": feat, "state_in": state},
                        {"mask": mask, "state_out": new_state})
    rng = np.random.default_rng(7)
    calibration = [
        {"features": (rng.normal(size=(1, N_BINS)) * 3.0).astype(np.float32),
         "state_in": rng.uniform(-1.0, 1.0, size=(1, STATE)).astype(np.float32)}
        for _ in range(32)
    ]  # fmt: skip
    return fx.convert_int8(model, calibration)


def _requests(flags: int, requests: list[tuple[int, bytes]]) -> bytes:
    out = bytes([flags])
    for opcode, payload in requests:
        out += bytes([opcode]) + struct.pack("<H", len(payload)) + payload
    return out


def _push(image: bytes, slot: fl.Region, layout: fl.FlashLayout) -> list[tuple[int, bytes]]:
    """Erase the sectors the image needs, write it in FLASH_WRITE_CHUNK pieces (8-byte
    aligned, padded with erased bytes), hash it back, activate it."""
    padded = image + b"\xff" * (-len(image) % layout.write_align)
    erase = -(-len(padded) // layout.sector) * layout.sector
    steps = [(p.Opcode.FLASH_ERASE, payloads.FLASH_RANGE.pack(offset=slot.start, length=erase))]
    chunk = payloads.FLASH_WRITE_CHUNK
    for at in range(0, len(padded), chunk):
        steps.append((p.Opcode.FLASH_WRITE, struct.pack("<I", slot.start + at)
                      + padded[at:at + chunk]))  # fmt: skip
    steps.append((p.Opcode.FLASH_HASH,
                  payloads.FLASH_RANGE.pack(offset=slot.start, length=len(image))))
    steps.append((p.Opcode.MODEL_ACTIVATE, payloads.MODEL_ACTIVATE_REQUEST.pack(
        region=layout.regions.index(slot))))  # fmt: skip
    return steps


def push_sessions(key_seed: bytes) -> dict[str, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    layout = fl.get("qemu-m4")
    model0, model1 = layout.model_slots[0], layout.model_slots[1]
    app0 = layout.region("app0")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        key = tmp / "fuzz-key.pem"
        key.write_bytes(Ed25519PrivateKey.from_private_bytes(key_seed).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))  # fmt: skip
        tflite = tmp / "tiny.tflite"
        tflite.write_bytes(tiny_model())

        def image(slot: fl.Region, signed: bool) -> bytes:
            out = tmp / "model.img"
            flash_image.sign_model(tflite, out, layout.target, slot, layout, "0.1.0",
                                   key if signed else None)  # fmt: skip
            return out.read_bytes()

        plain0, signed1, signed0 = image(model0, False), image(model1, True), image(model0, True)
    info, stats = (p.Opcode.INFO, b""), (p.Opcode.STATS, b"")
    process = (p.Opcode.PROCESS, payloads.PROCESS_REQUEST.pack(n_hops=1, flags=0)
               + bytes(2 * 128))  # fmt: skip
    identify = (p.Opcode.IDENTIFY, b"")
    return {
        # Push, switch, run a hop on the new model, report it.
        "push_model": _requests(STRUCTURED, [
            identify, *_push(plain0, model0, layout), info, process, stats]),
        # Signed push to model1, then an unsigned one to model0 (refused: the model in use
        # stays), then writes into the slot in use (refused), then back to the bootloader.
        "push_keyed": _requests(STRUCTURED | KEYED, [
            *_push(signed1, model1, layout), *_push(plain0, model0, layout), info,
            (p.Opcode.FLASH_WRITE, struct.pack("<I", model1.start) + bytes(8)),
            (p.Opcode.FLASH_ERASE, payloads.FLASH_RANGE.pack(offset=model1.start,
                                                             length=layout.sector)),
            (p.Opcode.ENTER_BOOTLOADER, b""),
        ]),
        # Two pushes: model0 then model1 (the switch back to the first buffers), then model0
        # rewritten while it is no longer in use and activated again.
        "push_switch": _requests(STRUCTURED | KEYED, [
            *_push(signed0, model0, layout), *_push(signed1, model1, layout),
            *_push(signed0, model0, layout), process,
        ]),
        # Refusals: an empty slot, a region that is no model slot, a write outside the
        # model slots, a hash outside the flash.
        "push_refused": _requests(STRUCTURED, [
            (p.Opcode.MODEL_ACTIVATE, payloads.MODEL_ACTIVATE_REQUEST.pack(
                region=layout.regions.index(model1))),
            (p.Opcode.MODEL_ACTIVATE, payloads.MODEL_ACTIVATE_REQUEST.pack(
                region=layout.regions.index(app0))),
            (p.Opcode.FLASH_WRITE, struct.pack("<I", app0.start) + bytes(8)),
            (p.Opcode.FLASH_HASH, payloads.FLASH_RANGE.pack(offset=layout.size, length=8)),
            identify,
        ]),  # fmt: skip
    }
