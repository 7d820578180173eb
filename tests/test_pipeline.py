"""The firmware core's per-hop pipeline (hush_pipeline.c) against a numpy float32 reference.

The C pipeline runs through the host build of the core (`make -C firmware/host`). The
reference is written from the pipeline's specification with numpy's FFT and log, so the two
agree up to float32 rounding:

- features: the int8 features may differ by at most 1 LSB, in at most 0.5 % of the values
  (a float32 FFT rounds differently in CMSIS and pocketfft, and a feature that lands within
  ~1e-6 of a rounding boundary can go either way); silent and clipped stretches are included;
- audio: driven by the same int8 masks (read back from the C pipeline's taps), the outputs
  agree within 1e-4 of full scale.

The test model is a small recurrent int8 network with the firmware model's interface, built
with TensorFlow once and cached in build/test_models/.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tflite_fixtures as fx

from hushkit import corelib
from hushkit.training import dsp

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_CACHE = REPO_ROOT / "build" / "test_models"
CONFIGS = {cfg.n_fft: cfg for cfg in dsp.CONFIGS.values()}
HIDDEN = 16
FULL_SCALE = 32768.0
AUDIO_TOLERANCE = 1e-4 * FULL_SCALE  # int16 LSBs
FEATURE_MISMATCH_FRACTION = 0.005


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lib():
    if not (REPO_ROOT / "firmware/third_party/CMSIS-DSP/Source").is_dir():
        pytest.skip("CMSIS-DSP missing: run firmware/fetch_deps.sh")
    subprocess.run(
        ["make", "-s", "-C", str(REPO_ROOT / "firmware/host"), "all"],
        check=True,
        capture_output=True,
    )
    return corelib.load_library()


def make_signal(n_samples: int, seed: int = 0) -> np.ndarray:
    """Noisy tones with a digital-silence stretch, a quiet stretch and a clipped burst."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / dsp.SAMPLE_RATE
    x = 0.3 * np.sin(2 * np.pi * (300 + 900 * t) * t) + 0.1 * np.sin(2 * np.pi * 2500 * t)
    x += rng.normal(scale=0.05, size=n_samples) * (1 + np.sin(2 * np.pi * 1.5 * t))
    x[n_samples // 5 : n_samples // 5 + 1500] = 0.0
    x[n_samples // 2 : n_samples // 2 + 1000] *= 1e-3
    x[3 * n_samples // 4 : 3 * n_samples // 4 + 800] *= 8.0
    return np.clip(np.rint(x * FULL_SCALE), -32768, 32767).astype(np.int16)


def reference_spectra(pcm: np.ndarray, cfg: dsp.DSPConfig) -> np.ndarray:
    """Spectrum of each hop's analysis window, framed like the firmware (zeros before 0)."""
    x = pcm.astype(np.float32) / np.float32(FULL_SCALE)
    padded = np.concatenate([np.zeros(cfg.n_fft - cfg.hop, np.float32), x])
    n_hops = len(pcm) // cfg.hop
    idx = np.arange(n_hops)[:, None] * cfg.hop + np.arange(cfg.n_fft)[None, :]
    return np.fft.rfft(padded[idx] * cfg.window(), axis=-1)


def reference_features(spec: np.ndarray) -> np.ndarray:
    """ln(|X|^2 + eps) in float32, as the pipeline's step 3."""
    re, im = spec.real.astype(np.float32), spec.imag.astype(np.float32)
    return np.log(re * re + im * im + np.float32(dsp.LOG_POWER_EPS))


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    q = np.rint(x.astype(np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def reference_synthesis(spec: np.ndarray, gains: np.ndarray, cfg: dsp.DSPConfig) -> np.ndarray:
    """Y = g X, inverse FFT, window, overlap-add; int16 out, delayed by n_fft - hop."""
    frames = np.fft.irfft(spec * gains, n=cfg.n_fft, axis=-1).astype(np.float32) * cfg.window()
    n_hops, hop = len(frames), cfg.hop
    out = np.zeros((n_hops + 1) * hop, np.float32)
    for t in range(n_hops):
        out[t * hop : t * hop + cfg.n_fft] += frames[t]
    return np.clip(np.rint(out[: n_hops * hop] * FULL_SCALE), -32768, 32767).astype(np.int16)


def _build_model(cfg: dsp.DSPConfig, seed: int) -> bytes:
    """features -> tanh(FC) -> state_out = tanh(FC(x) + sigmoid(FC(state)) * state) ->
    mask = sigmoid(FC(state_out)): FULLY_CONNECTED, TANH, LOGISTIC, ADD, MUL."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(seed)
    dense = keras.layers.Dense
    feat = keras.Input((cfg.n_bins,), batch_size=1, name="features")
    state = keras.Input((HIDDEN,), batch_size=1, name="state_in")
    x = dense(HIDDEN, activation="tanh")(feat)
    gate = dense(HIDDEN, activation="sigmoid")(state)
    new_state = keras.layers.Activation("tanh")(
        keras.layers.Add()([dense(HIDDEN)(x), keras.layers.Multiply()([gate, state])])
    )
    mask = dense(cfg.n_bins, activation="sigmoid")(new_state)
    model = keras.Model(
        {"features": feat, "state_in": state}, {"mask": mask, "state_out": new_state}
    )
    # Log-power features are around -10 with a spread of ~5: scale the first layer so tanh
    # is not saturated, and widen the mask layer so gains cover (0, 1) including near 0.
    weights = model.get_weights()
    weights[0] *= 0.05
    weights[-2] *= 4.0
    model.set_weights(weights)

    rng = np.random.default_rng(seed)
    feats = reference_features(reference_spectra(make_signal(16000, seed=seed + 1), cfg))
    calibration = [
        {
            "features": f[None, :],
            "state_in": rng.uniform(-1, 1, (1, HIDDEN)).astype(np.float32),
        }
        for f in feats[::2]
    ]
    return fx.convert_int8(model, calibration)


def model_bytes(cfg: dsp.DSPConfig, seed: int = 7) -> bytes:
    """The test model for `cfg`, converted once and cached (keyed by settings + TF version)."""
    key = json.dumps(
        {
            "n_fft": cfg.n_fft,
            "hidden": HIDDEN,
            "seed": seed,
            "v": 1,
            "tf": importlib.metadata.version("tensorflow-cpu"),
        },
        sort_keys=True,
    )
    path = (
        MODEL_CACHE / f"pipeline-{cfg.n_fft}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.tflite"
    )
    if not path.exists():
        data = _build_model(cfg, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.read_bytes()


def quant_params(model: bytes) -> dict[str, tuple[float, int]]:
    """(scale, zero_point) of features, state_in, mask and state_out from the signature."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=model).get_signature_runner()
    details = runner.get_input_details() | runner.get_output_details()
    return {name: tuple(d["quantization"]) for name, d in details.items()}


@pytest.fixture(scope="module", params=sorted(CONFIGS), ids=lambda n: f"n_fft{n}")
def setup(request, lib):
    cfg = CONFIGS[request.param]
    model = model_bytes(cfg)
    return cfg, model, quant_params(model)


# --------------------------------------------------------------------------- tests


def test_bypass_reconstructs_delayed_input(setup):
    cfg, model, _ = setup
    pipe = corelib.Pipeline(model, cfg.n_fft)
    pipe.set_bypass(True)
    pcm = make_signal(64 * cfg.hop)
    out = pipe.process(pcm)
    delay = cfg.output_delay
    expected = np.concatenate([np.zeros(delay, np.int16), pcm[:-delay]])
    err = np.abs(out.astype(np.int32) - expected)
    assert err.max() <= 1, f"bypass error {err.max()} LSB"
    assert pipe.tap() is None  # the model never ran


def test_features_and_audio_match_numpy_reference(setup):
    cfg, model, q = setup
    pipe = corelib.Pipeline(model, cfg.n_fft)
    assert (pipe.n_bins, pipe.state_size) == (cfg.n_bins, HIDDEN)
    pcm = make_signal(16000 // cfg.hop * cfg.hop)
    out, taps = pipe.process_with_taps(pcm)

    spec = reference_spectra(pcm, cfg)
    ref_q = quantize(reference_features(spec), *q["features"])
    diff = np.abs(taps["features"].astype(np.int32) - ref_q)
    assert diff.max() <= 1
    assert np.mean(diff != 0) <= FEATURE_MISMATCH_FRACTION, f"{np.mean(diff != 0):.4%} differ"
    # The signal must exercise the quantizer, not only its clamps.
    assert len(np.unique(taps["features"])) > 100

    # State carry: each hop reads the previous hop's state_out, requantized to state_in's
    # parameters (a plain copy when they agree); the first hop reads zero.
    carried = quantize(dequantize(taps["state_out"][:-1], *q["state_out"]), *q["state_in"])
    np.testing.assert_array_equal(taps["state_in"][1:], carried)
    np.testing.assert_array_equal(taps["state_in"][0], quantize(np.zeros(HIDDEN), *q["state_in"]))

    gains = dequantize(taps["mask"], *q["mask"])
    assert gains.min() < 0.1 and gains.max() > 0.9, "the model should both cut and pass"
    ref_out = reference_synthesis(spec, gains, cfg)
    err = np.abs(out.astype(np.int32) - ref_out)
    assert err.max() <= AUDIO_TOLERANCE, f"max error {err.max()} LSB"


def test_attenuation_limit_floors_gains(setup):
    cfg, model, q = setup
    pcm = make_signal(200 * cfg.hop)
    free = corelib.Pipeline(model, cfg.n_fft)
    out_free, taps_free = free.process_with_taps(pcm)

    limit_db = 6.0
    floor = np.float32(10 ** (-limit_db / 20))
    limited = corelib.Pipeline(model, cfg.n_fft)
    limited.set_attenuation_limit(limit_db)
    out_lim, taps_lim = limited.process_with_taps(pcm)

    # The limit acts on the gains only: the model sees and says exactly the same.
    for name in taps_free:
        np.testing.assert_array_equal(taps_lim[name], taps_free[name])
    gains = dequantize(taps_lim["mask"], *q["mask"])
    assert np.mean(gains < floor) > 0.1, "the floor should be active on some bins"
    ref = reference_synthesis(reference_spectra(pcm, cfg), np.maximum(gains, floor), cfg)
    assert np.abs(out_lim.astype(np.int32) - ref).max() <= AUDIO_TOLERANCE
    assert np.abs(out_lim.astype(np.int32) - out_free).max() > 10 * AUDIO_TOLERANCE

    # db <= 0 removes the limit again.
    limited.reset()
    limited.set_attenuation_limit(0.0)
    np.testing.assert_array_equal(limited.process(pcm), out_free)


def test_reset_makes_runs_repeatable(setup):
    cfg, model, _ = setup
    pipe = corelib.Pipeline(model, cfg.n_fft)
    pcm = make_signal(100 * cfg.hop, seed=3)
    out1, taps1 = pipe.process_with_taps(pcm)
    out_carried = pipe.process(pcm)
    assert not np.array_equal(out_carried, out1), "state should carry across calls"
    pipe.reset()
    out2, taps2 = pipe.process_with_taps(pcm)
    np.testing.assert_array_equal(out2, out1)
    for name in taps1:
        np.testing.assert_array_equal(taps2[name], taps1[name])


def test_init_rejects_bad_configuration(setup):
    cfg, model, _ = setup
    with pytest.raises(corelib.PipelineError, match="n_fft"):
        corelib.Pipeline(model, 512)
    other = next(n for n in CONFIGS if n != cfg.n_fft)
    with pytest.raises(corelib.PipelineError, match="n_fft/2 \\+ 1"):
        corelib.Pipeline(model, other)
    with pytest.raises(corelib.PipelineError):
        corelib.Pipeline(model[: len(model) // 2], cfg.n_fft)
    with pytest.raises(ValueError, match="multiple of the hop"):
        corelib.Pipeline(model, cfg.n_fft).process(np.zeros(cfg.hop + 1, np.int16))


def test_window_header_is_up_to_date():
    from hushkit import gen_window

    assert gen_window.main(["--check"]) == 0
