"""`hushkit enhance` streams: block by block equals whole-clip processing, memory stays flat,
and checkpoints are read without running code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from hushkit.audiofile import resampled_blocks
from hushkit.errors import InputError
from hushkit.training import checkpoint, enhance
from hushkit.training.model import MaskNet, ModelArgs, enhance_waveform

REPO = Path(__file__).resolve().parent.parent
SHIPPED_TFLITE = REPO / "quantize" / "pretrained" / "default.tflite"
FS = 16000


@pytest.fixture(scope="module")
def model() -> MaskNet:
    torch.manual_seed(3)
    return MaskNet(ModelArgs(hidden=16)).eval()


def speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    env = np.repeat(rng.uniform(0.0, 0.4, n // 800 + 1), 800)[:n]
    return (env * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("block", [128, 1000, 4801, 100000])
def test_float_streaming_equals_whole_clip(model, block):
    x = speechlike(3 * FS + 77)
    with torch.no_grad():
        whole = enhance_waveform(model, torch.from_numpy(x)[None])[0].numpy()
    blocks = (x[i : i + block] for i in range(0, len(x), block))
    cfg = model.args.dsp_config
    streamed = np.concatenate(list(enhance.stream_enhance(enhance.FloatStreamer(model), blocks,
                                                          cfg)))
    assert streamed.shape == x.shape
    np.testing.assert_allclose(streamed, whole, atol=2e-5)


def test_int8_streaming_equals_host_int8():
    pytest.importorskip("tflite_micro")
    from hushkit.quantize import host_int8

    x = speechlike(FS + 333, seed=1)
    int8 = host_int8.Int8Model(SHIPPED_TFLITE.read_bytes())
    whole = host_int8.enhance(int8, x)
    blocks = (x[i : i + 3000] for i in range(0, len(x), 3000))
    streamed = np.concatenate(list(enhance.stream_enhance(host_int8.Int8Streamer(int8), blocks,
                                                          int8.dsp)))
    np.testing.assert_array_equal(streamed, whole)


@pytest.mark.parametrize("rates", [(44100, 16000), (16000, 44100), (8000, 16000),
                                   (48000, 16000), (22050, 16000)])
def test_chunked_resampling_equals_whole_file(rates):
    from scipy.signal import resample_poly

    rate_in, rate_out = rates
    x = speechlike(rate_in * 2 + 123, seed=2)
    g = np.gcd(rate_in, rate_out)
    whole = resample_poly(x.astype(np.float64), rate_out // g, rate_in // g)

    def read(start: int, count: int) -> np.ndarray:
        out = np.zeros(count, np.float32)
        lo, hi = max(start, 0), min(start + count, len(x))
        if hi > lo:
            out[lo - start : hi - start] = x[lo:hi]
        return out

    chunked = np.concatenate(list(resampled_blocks(read, len(x), rate_in, rate_out, 5000)))
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked, whole, atol=1e-5)


PEAK_RSS = """
import resource, sys
from hushkit import cli
code = cli.main(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code)
"""


def peak_rss_mb(model: Path, src: Path, dst: Path) -> float:
    res = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "enhance", "--model", str(model), str(src), str(dst)],
        capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    kb, code = res.stdout.split("MAXRSS_KB")[1].split()
    assert code == "0", res.stderr
    return int(kb) / 1024


@pytest.mark.slow
def test_memory_does_not_grow_with_file_length(tmp_path):
    """10 s vs 5 min at 44.1 kHz: whole-file processing needed ~57 MB per minute of audio."""
    torch.manual_seed(0)
    ckpt = tmp_path / "m.pt"
    checkpoint.save(ckpt, MaskNet(ModelArgs(hidden=16)))
    peaks = []
    for seconds in (10, 300):
        src = tmp_path / f"{seconds}.wav"
        with sf.SoundFile(src, "w", 44100, 1, "PCM_16") as f:
            for i in range(seconds):
                f.write(speechlike(44100, seed=i))
        peaks.append(peak_rss_mb(ckpt, src, tmp_path / f"{seconds}_out.wav"))
        assert sf.info(str(tmp_path / f"{seconds}_out.wav")).frames == seconds * 44100
    assert peaks[1] - peaks[0] < 40, f"peak RSS {peaks[0]:.0f} MB -> {peaks[1]:.0f} MB"


# ---- checkpoints ------------------------------------------------------------------------


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": 1, "state_dict": {}, "payload": _RunsCode(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(InputError, match="refusing to load"):
        checkpoint.load(evil)
    assert not marker.exists()
    # and through the command line: one line, exit 2, no output file
    from hushkit import cli

    src = tmp_path / "in.wav"
    sf.write(src, speechlike(FS), FS)
    assert cli.main(["enhance", "--model", str(evil), str(src), str(tmp_path / "o.wav")]) == 2
    assert not marker.exists() and not (tmp_path / "o.wav").exists()


def test_unknown_format_version_is_named(model, tmp_path):
    path = tmp_path / "future.pt"
    checkpoint.save(path, model)
    payload = torch.load(path, weights_only=True)
    payload["format"] = 7
    torch.save(payload, path)
    with pytest.raises(InputError, match="checkpoint format 7; this hushkit reads format 1"):
        checkpoint.load(path)


def test_shipped_and_other_width_checkpoints_load_safely(tmp_path):
    shipped = checkpoint.load_model(REPO / "training" / "pretrained" / "default.pt")
    assert shipped.args.hidden > 0
    torch.manual_seed(0)
    wide = MaskNet(ModelArgs(hidden=96))
    path = tmp_path / "wide.pt"
    checkpoint.save(path, wide, config={"lr": 1e-3, "name": "x"}, epoch=3, step=10,
                    metrics={"val_loss": 0.5})  # fmt: skip
    assert checkpoint.load_model(path).args.hidden == 96
