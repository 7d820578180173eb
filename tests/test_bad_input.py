"""Bad input everywhere: one clear line, a non-zero exit, nothing overwritten.

Each case runs the real command line (`hushkit.cli.main`) and checks the exit status, that
stderr is one line naming the problem (no traceback), and that no output file appeared or an
existing one is intact.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_host_tools import FakeDevice

from hushkit import cli, framing, payloads
from hushkit import protocol as p
from hushkit.training import checkpoint
from hushkit.training.model import MaskNet, ModelArgs

REPO = Path(__file__).resolve().parent.parent
SHIPPED_TFLITE = REPO / "quantize" / "pretrained" / "default.tflite"
FS = 16000


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bad_input") / "m.pt"
    checkpoint.save(path, MaskNet(ModelArgs(hidden=8)))
    return path


def tone(seconds: float = 0.5, channels: int = 1, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(FS * seconds)) / FS
    x = (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def one_line_error(capsys, code: int, expected_code: int, *words: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == expected_code, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# ---- audio ------------------------------------------------------------------------------


def _missing(d: Path) -> Path:
    return d / "nope.wav"


def _empty(d: Path) -> Path:
    (d / "empty.wav").write_bytes(b"")
    return d / "empty.wav"


def _text(d: Path) -> Path:
    (d / "notes.wav").write_text("these are my meeting notes, not audio\n" * 20)
    return d / "notes.wav"


def _unsupported(d: Path) -> Path:
    (d / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    return d / "clip.mp4"


def _directory(d: Path) -> Path:
    (d / "folder.wav").mkdir()
    return d / "folder.wav"


def _header_only(d: Path) -> Path:
    sf.write(d / "h.wav", tone(), FS, subtype="PCM_16")
    data = (d / "h.wav").read_bytes()[:44]
    (d / "h.wav").write_bytes(data)
    return d / "h.wav"


AUDIO_ERRORS = {
    "missing": (_missing, "does not exist"),
    "empty": (_empty, "is empty"),
    "text as wav": (_text, "cannot read"),
    "unsupported format": (_unsupported, "cannot read"),
    "directory": (_directory, "is a directory"),
    "truncated to its header": (_header_only, "holds no samples"),
}


@pytest.mark.parametrize("case", AUDIO_ERRORS, ids=list(AUDIO_ERRORS))
@pytest.mark.parametrize("command", ["enhance", "stream"])
def test_unusable_audio_is_one_line(ckpt, tmp_path, capsys, case, command):
    make, words = AUDIO_ERRORS[case]
    src, dst = make(tmp_path), tmp_path / "out.wav"
    if command == "enhance":
        argv = ["enhance", "--model", str(ckpt), str(src), str(dst)]
    else:  # checked before any device is contacted: the port does not even exist
        argv = ["stream", "--port", "/dev/ttyNOPE0", str(src), str(dst)]
    one_line_error(capsys, cli.main(argv), 2, words)
    assert not dst.exists()


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_every_wav_sample_format_is_read(ckpt, tmp_path, subtype):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, tone(), FS, subtype=subtype)
    assert cli.main(["enhance", "--model", str(ckpt), str(src), str(dst)]) == 0
    out, rate = sf.read(dst)
    assert rate == FS and len(out) == len(tone()) and np.all(np.isfinite(out))


def test_truncated_wav_warns_and_uses_what_is_there(ckpt, tmp_path, capsys):
    src, dst = tmp_path / "cut.wav", tmp_path / "out.wav"
    sf.write(src, tone(1.0), FS, subtype="PCM_16")
    src.write_bytes(src.read_bytes()[: 44 + 2 * 8000])  # half the samples the header claims
    assert cli.main(["enhance", "--model", str(ckpt), str(src), str(dst)]) == 0
    assert "claims 16000 more bytes" in capsys.readouterr().err
    assert sf.info(str(dst)).frames == 8000


@pytest.mark.parametrize("audio,warning", [
    (np.zeros(FS, np.float32), "silent"),
    (np.clip(tone(1.0, level=3.0), -1, 1), "looks clipped"),
], ids=["all zero", "clipped"])  # fmt: skip
def test_suspicious_audio_warns(ckpt, tmp_path, capsys, audio, warning):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, audio, FS, subtype="PCM_16")
    assert cli.main(["enhance", "--model", str(ckpt), str(src), str(dst)]) == 0
    assert warning in capsys.readouterr().err and dst.exists()


@pytest.mark.parametrize("extra,words", [
    ([], "--channel 0..2"),
    (["--channel", "3"], "no channel 3"),
], ids=["no --channel", "channel out of range"])  # fmt: skip
@pytest.mark.parametrize("command", ["enhance", "stream"])
def test_multichannel_needs_a_valid_channel(ckpt, tmp_path, capsys, extra, words, command):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, tone(channels=3), FS)
    head = ["enhance", "--model", str(ckpt)] if command == "enhance" else [
        "stream", "--port", "/dev/ttyNOPE0"]  # fmt: skip
    one_line_error(capsys, cli.main([*head, *extra, str(src), str(dst)]), 2, words)
    assert not dst.exists()


def test_output_checks_happen_before_work_and_keep_files(ckpt, tmp_path, capsys):
    src = tmp_path / "in.wav"
    sf.write(src, tone(), FS)
    before = src.read_bytes()
    base = ["enhance", "--model", str(ckpt), str(src)]
    one_line_error(capsys, cli.main([*base, str(tmp_path / "no" / "o.wav")]), 2,
                   "does not exist: create it first")  # fmt: skip
    one_line_error(capsys, cli.main([*base, str(src)]), 2, "is the input file")
    os.link(src, tmp_path / "hardlink.wav")
    one_line_error(capsys, cli.main([*base, str(tmp_path / "hardlink.wav")]), 2,
                   "is the input file")  # fmt: skip
    assert src.read_bytes() == before
    existing = tmp_path / "exists.wav"
    existing.write_bytes(b"keep me")
    one_line_error(capsys, cli.main([*base, str(existing)]), 2, "already exists", "--force")
    assert existing.read_bytes() == b"keep me"
    assert cli.main([*base, str(existing), "--force"]) == 0
    assert sf.info(str(existing)).frames == len(tone())
    one_line_error(capsys, cli.main([*base, str(tmp_path)]), 2, "is a directory")


# ---- models -----------------------------------------------------------------------------


def _pt_truncated(d: Path, ckpt: Path) -> Path:
    (d / "cut.pt").write_bytes(ckpt.read_bytes()[:300])
    return d / "cut.pt"


def _pt_random(d: Path, ckpt: Path) -> Path:
    (d / "rand.pt").write_bytes(np.random.default_rng(0).bytes(5000))
    return d / "rand.pt"


def _pt_corrupt(d: Path, ckpt: Path) -> Path:
    data = bytearray(ckpt.read_bytes())
    data[-60:] = b"\xff" * 60  # the zip's central directory
    (d / "corrupt.pt").write_bytes(bytes(data))
    return d / "corrupt.pt"


def _pt_wrong_schema(d: Path, ckpt: Path) -> Path:
    torch.save({"weights": torch.zeros(3)}, d / "other.pt")
    return d / "other.pt"


def _pt_wrong_shapes(d: Path, ckpt: Path) -> Path:
    payload = torch.load(ckpt, weights_only=True)
    payload["model_args"]["hidden"] = 12  # the weights are for 8
    torch.save(payload, d / "shapes.pt")
    return d / "shapes.pt"


def _tflite_random(d: Path, ckpt: Path) -> Path:
    (d / "rand.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + np.random.default_rng(1).bytes(4000))
    return d / "rand.tflite"


def _tflite_truncated(d: Path, ckpt: Path) -> Path:
    (d / "cut.tflite").write_bytes(SHIPPED_TFLITE.read_bytes()[:5000])
    return d / "cut.tflite"


def _model_dir(d: Path, ckpt: Path) -> Path:
    (d / "model.pt").mkdir()
    return d / "model.pt"


def _model_missing(d: Path, ckpt: Path) -> Path:
    return d / "gone.pt"


MODEL_ERRORS = {
    "missing": (_model_missing, "does not exist"),
    "directory": (_model_dir, "is a directory"),
    "truncated .pt": (_pt_truncated, "not a readable hushkit checkpoint"),
    "random bytes .pt": (_pt_random, "not a readable hushkit checkpoint"),
    "corrupt .pt": (_pt_corrupt, "not a readable hushkit checkpoint"),
    "wrong schema .pt": (_pt_wrong_schema, "not a hushkit checkpoint"),
    "wrong shapes .pt": (_pt_wrong_shapes, "does not fit MaskNet"),
    "random bytes .tflite": (_tflite_random, "not a usable hushkit int8 model"),
    "truncated .tflite": (_tflite_truncated, "not a usable hushkit int8 model"),
}


@pytest.mark.parametrize("case", MODEL_ERRORS, ids=list(MODEL_ERRORS))
def test_unusable_model_is_one_line(ckpt, tmp_path, capsys, case):
    make, words = MODEL_ERRORS[case]
    if "tflite" in case:
        pytest.importorskip("tflite_micro")
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, tone(), FS)
    model = make(tmp_path, ckpt)
    one_line_error(capsys, cli.main(["enhance", "--model", str(model), str(src), str(dst)]), 2,
                   words)  # fmt: skip
    assert not dst.exists()


# ---- numeric options --------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["stream", "--port", "loop://", "--block-hops", "-3", "a.wav", "b.wav"],
    ["stream", "--port", "loop://", "--block-hops", "x", "a.wav", "b.wav"],
    ["stream", "--port", "loop://", "--block-hops", "100000", "a.wav", "b.wav"],
    ["stream", "--port", "loop://", "--timeout", "-5", "a.wav", "b.wav"],
    ["stream", "--port", "loop://", "--timeout", "0", "a.wav", "b.wav"],
    ["stream", "--port", "loop://", "--timeout", "nan", "a.wav", "b.wav"],
    ["stream", "--port", "loop://", "--channel", "-1", "a.wav", "b.wav"],
    ["info", "--port", "loop://", "--timeout", "inf"],
    ["stats", "--port", "loop://", "--timeout", "-1"],
    ["enhance", "--model", "m.pt", "--channel", "-2", "a.wav", "b.wav"],
    ["proxy", "--to", "socket://127.0.0.1:1", "--rate", "1.5"],
    ["bench-firmware", "--model", "m.tflite", "--seconds", "-1"],
    ["eval", "--model", "m.pt", "--limit", "0"],
    ["data", "--out", "d", "--seed", "-1"],
    ["quantize", "c.pt", "--out", "q", "--qat-lr", "0"],
    ["quantize", "c.pt", "--out", "q", "--qat-batch", "0"],
    ["demo", "--stream-seconds", "-3"],
], ids=lambda a: " ".join(a[-2:]) + f" ({a[0]})")  # fmt: skip
def test_numeric_options_out_of_range_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "out of range" in err or "not an integer" in err or "not a finite" in err, err


# ---- devices ----------------------------------------------------------------------------


class QuietAfter(FakeDevice):
    """Answers `n` requests, then goes silent (a board unplugged mid-stream)."""

    def __init__(self, n: int):
        super().__init__()
        self.left = n

    def _answer(self, raw: bytes) -> bytes:
        self.left -= 1
        if self.left < 0:
            self.silent = True
            return b""
        return super()._answer(raw)


class InfoPatched(FakeDevice):
    def __init__(self, **fields):
        super().__init__()
        self.patch = fields

    def _on_info(self, payload: bytes) -> bytes:
        fields = payloads.INFO_REPLY.unpack(super()._on_info(payload))
        fields.update(self.patch)
        return payloads.INFO_REPLY.pack(**fields)


class Bootloader(FakeDevice):
    """Knows no application command."""

    def _answer(self, raw: bytes) -> bytes:
        req = framing.decode_frame(raw)
        return framing.encode_frame(framing.Frame(req.opcode | framing.REPLY_FLAG, req.seq,
                                      status=p.Status.UNKNOWN_OPCODE))  # fmt: skip


DEVICE_ERRORS = {
    "stops answering mid-stream": (lambda: QuietAfter(6), "stopped answering after"),
    "protocol version mismatch": (lambda: InfoPatched(protocol_version=99), "protocol v99"),
    "firmware without a model": (
        lambda: InfoPatched(model_status=-7, model_message=b"model rejected"),
        "no model is loaded",
    ),
    "bootloader answers": (lambda: Bootloader(), "not the hushkit application"),
}


@pytest.mark.parametrize("case", DEVICE_ERRORS, ids=list(DEVICE_ERRORS))
def test_device_problems_are_one_line_and_bounded(tmp_path, capsys, case):
    make, words = DEVICE_ERRORS[case]
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, tone(2.0), FS)
    dev = make()
    try:
        argv = ["stream", "--port", dev.url, "--timeout", "0.5", "--block-hops", "2", "--quiet",
                str(src), str(dst)]  # fmt: skip
        one_line_error(capsys, cli.main(argv), 1, words)
    finally:
        dev.close()
    assert not dst.exists()


def test_nothing_listening_on_the_port(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nobody listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = cli.main(["info", "--port", f"socket://127.0.0.1:{port}", "--timeout", "0.5"])
    one_line_error(capsys, code, 1, "cannot open")


def test_missing_port_says_what_to_do(capsys):
    code = cli.main(["info", "--port", "/dev/ttyNOPE0", "--timeout", "0.5"])
    one_line_error(capsys, code, 1, "no such port")


def test_port_held_by_another_program_is_named(capsys):
    import subprocess
    import sys

    master, slave = os.openpty()
    name = os.ttyname(slave)
    holder = subprocess.Popen([sys.executable, "-c", f"f = open({name!r}, 'rb'); input()"],
                              stdin=subprocess.PIPE)  # fmt: skip
    try:
        for _ in range(100):  # until the holder has the port open
            from hushkit.transport import port_holders

            if port_holders(name):
                break
            import time

            time.sleep(0.05)
        code = cli.main(["info", "--port", name, "--timeout", "0.5"])
        line = one_line_error(capsys, code, 1, "in use by another program", str(holder.pid))
        assert "python" in line
    finally:
        holder.communicate(b"\n", timeout=5)
        os.close(master)
        os.close(slave)


def test_debug_shows_the_traceback(capsys):
    assert cli.main(["--debug", "info", "--port", "/dev/ttyNOPE0"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: cannot open /dev/ttyNOPE0" in err


def test_struct_sanity():
    # the WAV header parser relies on this layout
    assert struct.calcsize("<4sI") == 8
