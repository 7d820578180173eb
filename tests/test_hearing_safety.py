"""No path of hushkit may play non-finite or runaway audio into a headphone.

The reported cases first: a float WAV with a 6 ms NaN burst (the float model used to write
full-scale DC for the rest of the file), Inf, all-NaN input, a checkpoint with NaN weights,
and the int8 path; then the guards themselves (recurrent state, the firmware's output safety
stage against a model whose mask amplifies).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from hushkit import cli
from hushkit.training import checkpoint, enhance
from hushkit.training.model import MaskNet, ModelArgs

REPO = Path(__file__).resolve().parent.parent
SHIPPED_PT = REPO / "training" / "pretrained" / "default.pt"
SHIPPED_TFLITE = REPO / "quantize" / "pretrained" / "default.tflite"
FS = 16000


def noisy_tone(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(FS * seconds)) / FS
    return (0.3 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.standard_normal(t.size)).astype(
        np.float32
    )


def with_burst(x: np.ndarray, value: float, at_s: float = 0.5, ms: float = 6.0) -> np.ndarray:
    y = x.copy()
    start = int(at_s * FS)
    y[start : start + int(ms * FS / 1000)] = value
    return y


def run_enhance(model: Path, audio: np.ndarray, tmp_path: Path, capsys, name: str = "in"):
    src, dst = tmp_path / f"{name}.wav", tmp_path / f"{name}_out.wav"
    sf.write(src, audio, FS, subtype="FLOAT")
    code = cli.main(["enhance", "--model", str(model), str(src), str(dst)])
    err = capsys.readouterr().err
    out = sf.read(dst, dtype="int16")[0] if dst.exists() else None
    return code, err, out


def assert_safe(out: np.ndarray, reference_peak: float) -> None:
    """Finite by construction (int16); no full-scale samples; never louder than the input."""
    assert out is not None
    assert np.count_nonzero(np.abs(out.astype(np.int32)) >= 32767) == 0
    assert np.abs(out).max() <= 1.5 * reference_peak * 32768


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("model", [SHIPPED_PT, SHIPPED_TFLITE], ids=["float", "int8"])
def test_non_finite_burst_is_silenced_and_reported(model, value, tmp_path, capsys):
    if model.suffix == ".tflite":
        pytest.importorskip("tflite_micro")
    clean = noisy_tone(1.0)
    code, err, out = run_enhance(model, with_burst(clean, value), tmp_path, capsys)
    assert code == 0
    assert "non-finite samples" in err and "replaced by silence" in err
    assert_safe(out, float(np.abs(clean).max()))
    # Away from the burst the output is what the clean input gives: the state recovered.
    _, _, ref = run_enhance(model, clean, tmp_path, capsys, name="clean")
    tail = slice(int(0.8 * FS), None)
    assert np.abs(out[tail].astype(np.int32) - ref[tail]).max() <= 2048


def test_all_nan_input_is_refused_and_nothing_written(tmp_path, capsys):
    code, err, out = run_enhance(SHIPPED_PT, np.full(FS, np.nan, np.float32), tmp_path, capsys)
    assert code == 2 and "no finite sample" in err and out is None
    assert err.count("\n") == 1  # one line


def test_over_range_float_input_is_clipped_and_reported(tmp_path, capsys):
    clean = noisy_tone(1.0)
    code, err, out = run_enhance(SHIPPED_PT, with_burst(clean, 1e30), tmp_path, capsys)
    assert code == 0 and "beyond full scale" in err
    assert out is not None and np.abs(out[int(0.8 * FS) :]).max() < 0.9 * 32768


def test_checkpoint_with_nan_weights_is_refused(tmp_path, capsys):
    torch.manual_seed(0)
    model = MaskNet(ModelArgs(hidden=8))
    with torch.no_grad():
        model.gru.weight_hh_l0[3, 5] = float("nan")
    ckpt = tmp_path / "nan.pt"
    checkpoint.save(ckpt, model)
    code, err, out = run_enhance(ckpt, noisy_tone(0.5), tmp_path, capsys)
    assert code == 2 and "NaN or Inf" in err and "gru.weight_hh_l0" in err and out is None


def test_recurrent_state_guard_silences_a_diverged_block(capsys):
    torch.manual_seed(0)
    model = MaskNet(ModelArgs(hidden=8)).eval()
    streamer = enhance.FloatStreamer(model)
    x = noisy_tone(0.5)
    n = len(x) // 128 * 128
    good = streamer.process(x[:n])
    assert np.all(np.isfinite(good))
    with torch.no_grad():  # a weight goes bad at run time (bit flip, bug)
        model.fc_in.weight[0, 0] = float("nan")
    bad = streamer.process(x[:n])
    # Silence after the previous block's overlap-add tail (one hop).
    assert np.all(np.isfinite(bad)) and not np.any(bad[128:])
    assert streamer.state_resets == 1 and bool(torch.isfinite(streamer.state).all())
    streamer.report("clip")
    assert "diverged 1 time" in capsys.readouterr().err


# ---- the firmware's output safety stage, through the real C pipeline ---------------------


class SafetyStats(ctypes.Structure):
    _fields_ = [("limited_samples", ctypes.c_uint32), ("trips", ctypes.c_uint32),
                ("tripped", ctypes.c_int)]  # fmt: skip


def amplifying_model(data: bytes, factor: float) -> bytes:
    """The shipped int8 model with its mask scale multiplied: gains up to ~factor."""
    import flatbuffers

    from hushkit.quantize import tflite_model as tm

    model = tm.unpack(data)
    graph = model.subgraphs[0]
    (mask,) = [graph.tensors[i] for i in graph.outputs if b"mask" in graph.tensors[i].name]
    mask.quantization.scale = [float(s) * factor for s in mask.quantization.scale]
    aligned = []
    for b in model.buffers:
        a = tm._AlignedBufferT()
        a.data = b.data
        aligned.append(a)
    model.buffers = aligned
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=tm.FILE_IDENTIFIER)
    return bytes(builder.Output())


def pipeline_run(model: bytes, pcm: np.ndarray):
    from hushkit import corelib

    pipe = corelib.Pipeline(model, 256)
    out = pipe.process(pcm)
    stats = SafetyStats()
    pipe.lib.hush_pipeline_get_safety.argtypes = [ctypes.c_void_p, ctypes.POINTER(SafetyStats)]
    pipe.lib.hush_pipeline_get_safety(pipe._state, ctypes.byref(stats))
    return out, stats, pipe


def test_safety_stage_leaves_normal_audio_untouched():
    pytest.importorskip("hushkit.corelib")
    pcm = np.rint(noisy_tone(2.0) * 32767).astype(np.int16)
    _, stats, _ = pipeline_run(SHIPPED_TFLITE.read_bytes(), pcm)
    assert stats.limited_samples == 0 and stats.trips == 0 and not stats.tripped


def test_safety_stage_limits_and_bypasses_an_amplifying_model():
    pytest.importorskip("flatbuffers")
    pcm = np.rint(noisy_tone(1.0) * 0.1 * 32767).astype(np.int16)  # quiet: -20 dBFS
    hostile = amplifying_model(SHIPPED_TFLITE.read_bytes(), 300.0)
    out, stats, pipe = pipeline_run(hostile, pcm)
    peak_in = int(np.abs(pcm).max())
    assert np.abs(out.astype(np.int32)).max() <= 4 * peak_in + 256  # the ceiling held
    assert stats.trips == 1 and stats.tripped and stats.limited_samples > 0
    # Tripped: the model is off and the output is the delayed input (unit gain, STFT kept).
    delay = 256 - 128
    tail = slice(FS // 2, len(pcm))
    shifted = np.roll(pcm, delay)[tail].astype(np.int32)
    assert np.abs(out[tail].astype(np.int32) - shifted).max() <= 2
    pipe.reset()  # RESET re-arms the stage: the model runs (and trips) again
    pipe.process(pcm)
    stats2 = SafetyStats()
    pipe.lib.hush_pipeline_get_safety(pipe._state, ctypes.byref(stats2))
    assert stats2.trips == 2 and stats2.tripped
