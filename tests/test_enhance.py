"""`hushkit enhance`: any rate in, same rate and length out; clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from hushkit import cli
from hushkit.training import checkpoint
from hushkit.training.model import MaskNet, ModelArgs


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("enhance") / "m.pt"
    checkpoint.save(path, MaskNet(ModelArgs(hidden=8)))
    return path


def _tone(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def test_any_rate_round_trips_to_the_input_rate(ckpt, tmp_path):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, _tone(44100, 0.7), 44100)
    assert cli.main(["enhance", "--model", str(ckpt), str(src), str(dst)]) == 0
    out, rate = sf.read(dst)
    assert rate == 44100 and len(out) == int(44100 * 0.7)
    assert np.all(np.isfinite(out))


def test_multichannel_needs_a_channel(ckpt, tmp_path, capsys):
    src = tmp_path / "stereo.wav"
    sf.write(src, _tone(16000, 0.5, channels=2), 16000)
    assert cli.main(["enhance", "--model", str(ckpt), str(src), str(tmp_path / "o.wav")]) == 2
    assert "--channel" in capsys.readouterr().err
    assert cli.main(["enhance", "--model", str(ckpt), "--channel", "1", str(src),
                     str(tmp_path / "o.wav")]) == 0


def test_unreadable_input_is_a_clear_error(ckpt, tmp_path, capsys):
    src = tmp_path / "broken.wav"
    src.write_bytes(b"RIFF not really audio")
    assert cli.main(["enhance", "--model", str(ckpt), str(src), str(tmp_path / "o.wav")]) == 2
    assert "cannot read" in capsys.readouterr().err
