"""Write the committed seed corpus of the fuzz targets (run from the repository root).

    .venv/bin/python tests/fuzz/make_seeds.py

Seeds are valid inputs of each kind, so the fuzzer starts from the interesting paths: whole
frames for the decoder, every command with sensible arguments for the command handler, the
small test models for the model loader (the shipped model is added at run time), and small
MCUboot images made by imgtool (hushkit.flash_image.sign) for the bootloader, signed with a
fixed test key whose public half boot_key/hush_boot_key.h builds into fuzz_boot. The command
handler also gets `hushkit model push` sessions (erase, write in chunks, hash, activate) of
a tiny model that the firmware accepts (push_seeds.py).
"""

from __future__ import annotations

import hashlib
import struct
import tempfile
from pathlib import Path

import numpy as np

from hushkit import flash_image, flash_sign, framing, payloads
from hushkit import flash_layout as fl
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


# The fuzz target's signing key: fixed bytes, so the committed header and the signed seeds
# always agree. A test key, public by design: never sign real firmware with it.
FUZZ_KEY_SEED = hashlib.sha256(b"hushkit fuzz_boot test key").digest()


def boot_seeds() -> tuple[dict[str, bytes], bytes]:
    """fuzz_boot inputs: images in a slot (mode 2/3), flash sessions (mode 1), raw bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    layout = fl.get("qemu-m4")
    app0, model0 = layout.region("app0"), layout.model_slots[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        key = tmp / "fuzz-key.pem"
        key.write_bytes(Ed25519PrivateKey.from_private_bytes(FUZZ_KEY_SEED).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        flash_sign.write_header(key, HERE / "boot_key")
        # A body that starts like a vector table (initial SP, reset handler), 64 bytes.
        body = tmp / "app.bin"
        body.write_bytes(struct.pack("<II", layout.ram_base + 0x1000, app0.start + 0x201)
                         + bytes(range(56)))
        model = tmp / "model.bin"
        model.write_bytes(b"TFL3" + bytes(60))

        def image(name: str, src: Path, slot: fl.Region, **kw: object) -> bytes:
            out = tmp / f"{name}.img"
            flash_image.sign(src, out, layout.target, slot, layout, kw.pop("version", "0.1.0"),
                             **kw)  # type: ignore[arg-type]
            return out.read_bytes()

        signed = image("signed", body, app0, key=key, security_counter=3)
        unsigned = image("unsigned", body, app0)
        model_signed = image("model", model, model0, rom_fixed=False, key=key)
        older = image("older", body, app0, key=key, version="0.0.9")
    seeds = {
        # mode 2: image in app0 (setup 0x00); 0x04: marked pending; 0x10: copy in app1
        "image_signed_app0": b"\x02\x00" + signed,
        "image_unsigned_app0": b"\x02\x04" + unsigned,
        "image_signed_pending_watchdog": b"\x02\x64" + signed,
        "image_model_both_slots": b"\x02\x12" + model_signed,
        "image_rehash_testing": b"\x03\x08" + signed,
        "image_older_confirmed": b"\x02\x0c" + older,
    }
    sector = layout.sector
    rng = lambda start, length: struct.pack("<II", start, length)  # noqa: E731
    seeds["session_flash_signed"] = boot_structured([
        (p.Opcode.IDENTIFY, b""),
        (p.Opcode.FLASH_ERASE, rng(app0.start, sector)),
        (p.Opcode.FLASH_WRITE, struct.pack("<I", app0.start) + pad8(signed)),
        (p.Opcode.FLASH_HASH, rng(app0.start, len(signed))),
        (p.Opcode.MARK_PENDING, bytes([layout.regions.index(app0), 0, 0, 0])),
        (p.Opcode.BOOT, b""),
    ])
    seeds["session_refused"] = boot_structured([
        (p.Opcode.FLASH_ERASE, rng(0, sector)),
        (p.Opcode.FLASH_WRITE, struct.pack("<I", layout.region("state").start) + bytes(8)),
        (p.Opcode.MARK_PENDING, bytes([4, 0, 0, 0])),
        (p.Opcode.INFO, b""),
    ])
    seeds["raw_identify"] = b"\x00\x11\x00" + encode_frame(Frame(p.Opcode.IDENTIFY, 1))
    return seeds, signed


def packed(layout: payloads.Layout, **values: object) -> bytes:
    """A reply layout with the given fields, zeros (empty text) elsewhere."""
    zero = {f.name: b"" if f.fmt.endswith("s") else 0 for f in layout.named_fields()}
    return layout.pack(**{**zero, **values})


def host_seeds(image: bytes) -> dict[str, bytes]:
    """fuzz_host.py inputs: [parser or command, mode, ...]; mode 1 records are
    [flags=0, opcode, seq, status, length, payload] answering with the expected opcode/seq."""
    import fuzz_host as fh

    def record(payload: bytes, status: int = 0, seq: int | None = None) -> bytes:
        flags = 0 if seq is None else 2  # bit 1: this seq, not the next one
        return struct.pack("<BBHBH", flags, 0, seq or 0, status, len(payload)) + payload

    def command(run: str, *records: bytes) -> bytes:
        names = [name for name, _ in fh.COMMAND_NAMES]
        return bytes([0x80 + names.index(run), 1]) + b"".join(records)

    info = packed(
        payloads.INFO_REPLY, protocol_version=p.PROTOCOL_VERSION, fw_version=b"0.1.0",
        target=b"qemu-m4", model_sha256=b"0" * 64, sample_rate=16000, n_fft=256, hop=HOP,
        n_bins=129, state_size=64, max_payload=framing.MAX_PAYLOAD, cost_source=1,
    )  # fmt: skip
    layout = fl.get("qemu-m4")
    slots = b"".join(
        packed(payloads.SLOT_INFO, kind=int(r.kind), state=2 if r.name == "app0" else 0,
               start=r.start, size=r.size, image_size=len(image), ver_minor=1,
               image_hash=bytes(32))
        for r in layout.regions
    )  # fmt: skip
    identify = packed(
        payloads.IDENTIFY_REPLY, mode=0, n_regions=len(layout.regions), running_slot=2,
        boot_version=b"hushboot-1", target=b"qemu-m4", flash_size=layout.size,
        sector_size=layout.sector, write_align=layout.write_align,
    ) + slots  # fmt: skip
    n_taps = 129 + 64 + 129 + 64
    hops = lambda n, taps: b"".join(  # noqa: E731
        struct.pack("<I", 1000 + h) + bytes(2 * HOP) + bytes(taps) for h in range(n))
    audio = packed(payloads.AUDIO_STATUS_REPLY, source=1, hop=HOP, tape_samples=16000)
    seeds = {
        "info": command("info", record(info)),
        "info_bootloader": command("info_refused", record(b"", p.Status.UNKNOWN_OPCODE),
                                   record(b"\x01" + identify[1:3] + b"\xff" + identify[4:])),
        "stats": command("stats", record(packed(payloads.STATS_REPLY, hops=3, cost_source=1))),
        "safety": command("safety", record(packed(payloads.SAFETY_REPLY, trips=1, tripped=1))),
        "set": command("set", record(packed(payloads.SET_REPLY, bypass=1, attenuation_db=12.0))),
        "reset_then_crc_error": command("reset", record(b"", p.Status.BAD_CRC),
                                        record(b"", seq=1)),
        "process": command("process", record(
            packed(payloads.PROCESS_REPLY, n_hops=2) + hops(2, 0))),
        "process_taps": command("process_taps", record(
            packed(payloads.PROCESS_REPLY, n_hops=1, flags=1, tap_bytes=n_taps) + hops(1, n_taps))),
        "identify": command("identify", record(identify)),
        "flash_hash": command("flash_hash", record(bytes(range(32)))),
        "mark_pending": command("mark_pending", record(b"signature checked in 1630000 calls")),
        "describe": command("describe", record(identify), record(info)),
        "audio_status": command("audio_status", record(audio)),
        "audio_read": command("audio_read", record(bytes(600))),
        "bad_argument": command("stats", record(b"hop count", p.Status.BAD_ARGUMENT)),
    }
    stats = packed(payloads.STATS_REPLY)
    frame = encode_frame(Frame(p.Opcode.STATS | framing.REPLY_FLAG, 7, stats))
    parsers = {name: i for i, (name, _) in enumerate(fh.PARSER_NAMES)}
    seeds.update({
        "raw_frame": bytes([parsers["frame"], 0]) + frame,
        "raw_resync": bytes([parsers["resync"], 0]) + b"boot\r\n" + frame,
        "raw_identify": bytes([parsers["identify"], 0]) + identify,
        "raw_audio_status": bytes([parsers["audio_status"], 0]) + audio,
        "raw_image": bytes([parsers["image"], 0]) + image,
        "raw_stream_info": bytes([0x80, 0]) + encode_frame(
            Frame(p.Opcode.INFO | framing.REPLY_FLAG, 1, info)),
    })
    return seeds


def pad8(data: bytes) -> bytes:
    return data + b"\xff" * (-len(data) % 8)


def boot_structured(requests: list[tuple[int, bytes]]) -> bytes:
    return b"\x01" + structured(requests)[1:]


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
    import sys

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    import push_seeds

    commands.update(push_seeds.push_sessions(FUZZ_KEY_SEED))
    (HERE / "corpus" / "commands").mkdir(parents=True, exist_ok=True)
    for name, data in commands.items():
        (HERE / "corpus" / "commands" / name).write_bytes(data)

    boot, signed_image = boot_seeds()
    for target, seeds in (("boot", boot), ("host", host_seeds(signed_image))):
        (HERE / "corpus" / target).mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (HERE / "corpus" / target / name).write_bytes(data)

    # Model seeds: the small recurrent test models (TensorFlow converts them once; cached).
    import tflite_fixtures as fx

    (HERE / "corpus" / "model").mkdir(parents=True, exist_ok=True)
    for name in ("gru_small", "fc_relu"):
        (HERE / "corpus" / "model" / f"{name}.tflite").write_bytes(fx.model_bytes(name))


if __name__ == "__main__":
    main()
