"""int8 conversion: types, operator set, determinism, host streaming, float-vs-int8 parity.

The fixture model is trained here for a few hundred steps on espeak-ng speech in synthetic
noise, so the tests do not depend on a released checkpoint or a prepared data directory.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tflite_fixtures as fx

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")

from hushkit.quantize import convert, host_int8, opset, tflite_model  # noqa: E402
from hushkit.training import checkpoint, dsp  # noqa: E402
from hushkit.training.config import TrainConfig  # noqa: E402
from hushkit.training.model import STFT, MaskNet, ModelArgs, log_power  # noqa: E402

SR = dsp.SAMPLE_RATE
SENTENCES = (
    ("en", "The quick brown fox jumps over the lazy dog near the bank of the river."),
    ("en-us", "Please call Stella and ask her to bring these things with her from the store."),
    ("en+f3", "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack."),
    ("en-us+m3", "We also need a small plastic snake and a big toy frog for the kids."),
    ("en+f2", "She can scoop these things into three red bags, and we will go meet her."),
    ("en-gb", "Wednesday at the train station, the brown bear was seen eating honey."),
)


def speech_clips() -> list[np.ndarray]:
    """espeak-ng sentences at 16 kHz, -20 dBFS RMS."""
    from scipy.signal import resample_poly

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    import soundfile as sf

    clips = []
    for i, (voice, text) in enumerate(SENTENCES):
        out = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(150 + 10 * i), "--stdout", text],
            check=True,
            capture_output=True,
        ).stdout
        x, rate = sf.read(io.BytesIO(out), dtype="float32")
        x = resample_poly(x, SR, rate).astype(np.float32)
        clips.append(x * (0.1 / np.sqrt(np.mean(x**2))))
    return clips


def noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise plus mains hum with harmonics: stationary enough for a tiny model to learn."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    pink = np.fft.irfft(spec / np.sqrt(np.maximum(f, 20.0)), n)
    t = np.arange(n) / SR
    f0 = rng.uniform(50, 120)
    hum = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    x = pink / np.std(pink) + 0.3 * hum / np.std(hum)
    return (x / np.std(x)).astype(np.float32)


def mix(clean: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    n = noise(len(clean), rng) * np.sqrt(np.mean(clean**2)) * 10 ** (-snr_db / 20)
    return (clean + n).astype(np.float32)


def write_pairs(folder: Path, clips: list[np.ndarray], seed: int) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    for kind in ("clean", "noisy"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    for i, clean in enumerate(clips):
        sf.write(folder / "clean" / f"c{i}.wav", clean, SR, subtype="FLOAT")
        noisy = mix(clean, rng, rng.uniform(0, 10))
        sf.write(folder / "noisy" / f"c{i}.wav", noisy, SR, subtype="FLOAT")
    return folder


def train_tiny(clips: list[np.ndarray], steps: int, hidden: int = 32, seed: int = 0) -> MaskNet:
    """A few hundred Adam steps of compressed-magnitude MSE on random 1 s mixtures."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MaskNet(ModelArgs(hidden=hidden))
    stft = STFT(model.args.dsp_config)
    seg = SR

    def batch(size: int) -> tuple[torch.Tensor, torch.Tensor]:
        clean, noisy = [], []
        for _ in range(size):
            c = clips[int(rng.integers(len(clips)))]
            start = int(rng.integers(0, len(c) - seg))
            c = c[start : start + seg] * rng.uniform(0.3, 2.0)
            clean.append(c)
            noisy.append(mix(c, rng, rng.uniform(-2, 12)))
        return torch.from_numpy(np.stack(noisy)), torch.from_numpy(np.stack(clean))

    with torch.no_grad():
        feats = log_power(stft(batch(32)[0])).reshape(-1, model.args.dsp_config.n_bins)
        model.feat_mean.copy_(feats.mean(0))
        model.feat_std.copy_(feats.std(0) + 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=4e-3)
    for _ in range(steps):
        noisy, clean = batch(8)
        spec_n, spec_c = stft(noisy), stft(clean)
        mask, _ = model(log_power(spec_n))
        est = (mask * spec_n.abs()).clamp_min(1e-8) ** 0.3
        loss = torch.mean((est - spec_c.abs().clamp_min(1e-8) ** 0.3) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def fixture_set(tmp_path_factory):
    """(checkpoint path, calibration dir, held-out paired dir) with a briefly trained model."""
    root = tmp_path_factory.mktemp("quant")
    clips = speech_clips()
    train, held_out = clips[:4], clips[4:]
    model = train_tiny(train, steps=250)
    ckpt = root / "tiny.pt"
    checkpoint.save(ckpt, model)
    calib = write_pairs(root / "calib", train, seed=1)
    evalset = write_pairs(root / "eval", held_out, seed=2)
    return ckpt, calib, evalset


@pytest.fixture(scope="module")
def converted(fixture_set):
    ckpt, calib, _ = fixture_set
    return convert.quantize_checkpoint(ckpt, calib)


def test_all_tensors_int8_biases_int32(converted):
    info = converted.info
    opset.check_ops(info.ops)
    for t in info.tensors:
        if t.is_constant and t.n_scales > 0 and len(t.shape) == 1:
            assert t.dtype == "INT32", t
        elif t.is_constant and len(t.shape) == 2:
            assert t.dtype == "INT8" and t.n_scales == t.shape[0], t  # per-channel weights
        elif not t.is_constant:
            assert t.dtype == "INT8" and t.scale is not None, t
    assert {"FULLY_CONNECTED", "TANH", "LOGISTIC"} <= set(info.ops)


def test_io_names_state_grid_and_metadata(converted, fixture_set):
    info = converted.info
    names = {info.tensors[i].name for i in (*info.inputs, *info.outputs)}
    assert names == {"features", "state_in", "mask", "state_out"}
    s_in, s_out = info.io_tensor("state_in"), info.io_tensor("state_out")
    assert (s_in.scale, s_in.zero_point) == (s_out.scale, s_out.zero_point)
    assert info.io_tensor("features").shape == (1, dsp.DEFAULT.n_bins)
    meta = json.loads(info.metadata["hushkit"])
    assert meta["dsp"] == dsp.DEFAULT.to_dict()
    assert meta["model_args"]["hidden"] == 32
    import hashlib

    assert meta["checkpoint_sha256"] == hashlib.sha256(fixture_set[0].read_bytes()).hexdigest()
    assert meta["generator"] == "hushkit quantize"


def test_buffers_are_16_byte_aligned(converted):
    model = tflite_model.unpack(converted.tflite)
    data = converted.tflite
    for buf in model.buffers:
        if buf.data is not None and len(buf.data) > 0:
            payload = bytes(np.asarray(buf.data, np.uint8))
            offsets = [i for i in range(0, len(data), 16) if data[i : i + len(payload)] == payload]
            assert offsets, "buffer payload not found at a 16-byte boundary"


def test_conversion_is_deterministic(fixture_set, converted):
    ckpt, calib, _ = fixture_set
    again = convert.quantize_checkpoint(ckpt, calib)
    assert again.tflite == converted.tflite


def test_unsupported_op_rejected():
    raw = fx.softmax_model()
    with pytest.raises(opset.UnsupportedOpError, match="SOFTMAX"):
        convert.finalize(raw, {})


@pytest.mark.parametrize("mangle", ["truncate", "identifier", "garbage"])
def test_corrupt_tflite_is_a_clean_error(converted, mangle):
    data = converted.tflite
    bad = {
        "truncate": data[: len(data) // 3],
        "identifier": data[:4] + b"XXXX" + data[8:],
        "garbage": data[:8] + bytes(reversed(data[8:200])) + data[200:],
    }[mangle]
    with pytest.raises(tflite_model.TFLiteFormatError):
        tflite_model.describe(bad)


def _direct_tflm_loop(data: bytes, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Independent hop loop on the TFLM runtime: returns (mask bytes per hop, output)."""
    from tflite_micro import runtime

    info = tflite_model.describe(data)
    cfg = dsp.get(json.loads(info.metadata["hushkit"])["dsp"])
    f_t, s_in = info.io_tensor("features"), info.io_tensor("state_in")
    m_t, s_out = info.io_tensor("mask"), info.io_tensor("state_out")
    interp = runtime.Interpreter.from_bytes(data)
    w = cfg.window()
    frame = np.zeros(cfg.n_fft, np.float32)
    state = np.full((1, s_in.shape[1]), s_in.zero_point, np.int8)
    tail = np.zeros(cfg.hop, np.float32)
    masks, out = [], []
    for t in range(len(audio) // cfg.hop):
        frame = np.concatenate([frame[cfg.hop :], audio[t * cfg.hop : (t + 1) * cfg.hop]])
        spec = np.fft.rfft(frame * w).astype(np.complex64)
        power = np.float32(spec.real) ** 2 + np.float32(spec.imag) ** 2
        feat = np.log(power + np.float32(1e-10)).astype(np.float32)
        q = np.clip(np.rint(feat / np.float32(f_t.scale)) + f_t.zero_point, -128, 127)
        interp.set_input(q.astype(np.int8)[None], info.inputs.index(f_t.index))
        interp.set_input(state, info.inputs.index(s_in.index))
        interp.invoke()
        mask = np.array(interp.get_output(info.outputs.index(m_t.index)), np.int8)
        state = np.array(interp.get_output(info.outputs.index(s_out.index)), np.int8)
        masks.append(mask[0])
        gain = (mask[0].astype(np.float32) - m_t.zero_point) * np.float32(m_t.scale)
        y = np.fft.irfft(spec * gain, cfg.n_fft).astype(np.float32) * w
        out.append(y[: cfg.hop] + tail)
        tail = y[cfg.hop :]
    return np.stack(masks), np.concatenate(out)


def test_host_streaming_equals_direct_tflm_loop(converted, fixture_set):
    import soundfile as sf

    audio = sf.read(fixture_set[2] / "noisy" / "c0.wav", dtype="float32")[0][: 120 * 128]
    model = host_int8.Int8Model(converted.tflite, "tflm")
    out, dump = host_int8.stream(model, audio)
    masks, direct = _direct_tflm_loop(converted.tflite, audio)
    assert np.array_equal(dump.mask, masks)
    assert np.array_equal(dump.state_in[1:], dump.state_out[:-1])  # state bytes fed back
    assert np.allclose(out, direct, atol=1e-6)
    assert len(np.unique(dump.mask)) > 10  # the mask actually varies


def test_enhancer_is_time_aligned_same_length(converted, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(converted.tflite)
    enhance = host_int8.load_int8_enhancer(path)
    rng = np.random.default_rng(3)
    x = (0.05 * rng.standard_normal(5003)).astype(np.float32)
    y = enhance(x)
    assert y.shape == x.shape
    # A mask in [0, 1] applied per bin keeps the waveform correlated at zero lag, not at the
    # stream's lag.
    lag = dsp.DEFAULT.output_delay
    c0 = float(np.dot(x, y))
    c_lag = float(np.dot(x[:-lag], y[lag:]))
    assert c0 > 5 * abs(c_lag)


def test_parity_within_bar(converted, fixture_set, tmp_path):
    from hushkit.quantize import parity

    path = tmp_path / "m.tflite"
    path.write_bytes(converted.tflite)
    report = parity.run(fixture_set[0], path, fixture_set[2])
    d = report["delta_vs_float"]["int8_tflm"]
    assert d["pesq_wb"] >= -parity.MAX_PESQ_LOSS
    assert d["si_sdr"] >= -parity.MAX_SI_SDR_LOSS_DB
    assert report["mean"]["float"]["si_sdr"] > report["mean"]["noisy"]["si_sdr"]  # it learned
    assert report["tensor_error"]["mask"]["max_abs"] < 0.2
    assert report["passed"]


def test_qat_weight_grid_is_per_channel_int8():
    from hushkit.quantize import qat

    w = torch.randn(5, 7) * torch.tensor([0.01, 0.1, 1.0, 3.0, 20.0])[:, None]
    q = qat.fake_quant_weight(w)
    steps = q / (w.abs().amax(dim=1, keepdim=True) / 127)
    assert torch.allclose(steps, steps.round(), atol=1e-3)
    assert steps.abs().max() <= 127 + 1e-3
    assert (q - w).abs().max(dim=1).values.le(w.abs().amax(dim=1) / 254 + 1e-6).all()


def test_quantize_qat_end_to_end(tmp_path, capsys):
    """--qat: fine-tunes on prepared training mixtures, converts, and stays all-int8."""
    from hushkit import cli

    data = tmp_path / "data"
    assert cli.main(["data", "--out", str(data), "--quick", "--no-babble"]) == 0
    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.pt"
    stage = TrainConfig(hidden=8, clean_prob=0.5, distortion_weight=4.0, sisdr_weight=1.0)
    model = MaskNet(ModelArgs(hidden=8))
    checkpoint.save(ckpt, model, config=dataclasses.asdict(stage), output_bias_shift=1.5,
                    outside_band_offset=-2.5, speech_band_hz=[100.0, 5000.0],
                    mask_logit_scale=0.75)  # fmt: skip
    out = tmp_path / "out"
    argv = ["quantize", str(ckpt), "--out", str(out), "--calib-dir", str(data), "--no-parity"]
    assert cli.main([*argv, "--qat", "--qat-steps", "2", "--qat-batch", "2"]) == 0
    assert "qat step 2/2" in capsys.readouterr().err
    info = tflite_model.describe((out / "model.tflite").read_bytes())
    convert.check_types(info)
    opset.check_ops(info.ops)
    meta = json.loads(info.metadata["hushkit"])
    assert meta["qat"]["steps"] == 2
    # The stage's loss weights and operating point carry over from the checkpoint.
    assert meta["qat"]["distortion_weight"] == 4.0
    assert meta["qat"]["sisdr_weight"] == 1.0
    assert meta["qat"]["output_bias_shift"] == 1.5
    assert meta["qat"]["outside_band_offset"] == -2.5
    assert meta["qat"]["speech_band_hz"] == [100.0, 5000.0]
    assert meta["qat"]["mask_logit_scale"] == 0.75
    import hashlib

    assert meta["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()


def test_qat_mixes_like_the_checkpoints_training_stage(tmp_path):
    from hushkit import cli
    from hushkit.quantize import qat

    data = tmp_path / "data"
    assert cli.main(["data", "--out", str(data), "--quick", "--no-babble"]) == 0
    cfg = qat.QATConfig(steps=2, batch_size=4)
    clean_only = TrainConfig(clean_prob=1.0, band_limit_prob=0.0, high_snr_prob=0.0)
    noisy, clean = next(qat.mixture_batches(str(data), cfg, clean_only))
    assert torch.equal(noisy, clean)
    noisy, clean = next(qat.mixture_batches(str(data), cfg))  # default mixing adds noise
    assert not torch.equal(noisy, clean)


def _output_layer_seen_by_the_loss(model, cfg, param: str) -> list:
    """Fine-tune `model` with `cfg` on random audio and return `model.fc_out.<param>` as it
    was at each mask sigmoid, i.e. what the loss saw."""
    from hushkit.quantize import qat

    seen = []
    original = qat.FakeQuantOps.activation

    def spy(self, name, kind, x):
        if kind == "sigmoid":
            seen.append(getattr(model.fc_out, param).detach().clone())
        return original(self, name, kind, x)

    qat.FakeQuantOps.activation = spy
    try:
        batches = iter([(torch.randn(2, 4000) * 0.1, torch.randn(2, 4000) * 0.1)] * 2)
        qat.finetune(model, batches, cfg, log_every=0)
    finally:
        qat.FakeQuantOps.activation = original
    return seen


def test_qat_keeps_the_operating_point():
    """The operating point comes off the logits while fine-tuning and goes back on: with no
    steps the model is unchanged, and the loss never sees (or trains away) the point."""
    from hushkit.quantize import qat

    torch.manual_seed(0)
    model = MaskNet(ModelArgs(hidden=8))
    before = model.fc_out.bias.detach().clone()
    cfg = qat.QATConfig(steps=1, lr=0.0, output_bias_shift=3.0, outside_band_offset=-2.0)
    seen = _output_layer_seen_by_the_loss(model, cfg, "bias")
    assert seen
    taken_off = before - seen[0]
    assert torch.allclose(taken_off.max(), torch.tensor(3.0), atol=1e-5)  # inside the band
    assert torch.allclose(taken_off.min(), torch.tensor(1.0), atol=1e-5)  # outside it
    assert torch.allclose(model.fc_out.bias, before, atol=1e-6)


def test_qat_fine_tunes_the_unscaled_logits():
    """A mask logit scale comes off with the rest of the operating point while fine-tuning
    (the loss sees the network's own logits) and goes back on after."""
    from hushkit.quantize import qat

    torch.manual_seed(0)
    model = MaskNet(ModelArgs(hidden=8))
    before = model.fc_out.weight.detach().clone()
    cfg = qat.QATConfig(steps=1, lr=0.0, output_bias_shift=1.0, mask_logit_scale=0.5)
    seen = _output_layer_seen_by_the_loss(model, cfg, "weight")
    assert seen and torch.allclose(seen[0], before / 0.5, atol=1e-6)
    assert torch.allclose(model.fc_out.weight, before, atol=1e-6)


def test_qat_skips_a_non_finite_batch(capsys):
    """One NaN batch in the stream is skipped: the weights and the observed ranges stay finite
    and the finite batches around it still train."""
    from hushkit.quantize import qat

    torch.manual_seed(0)
    model = MaskNet(ModelArgs(hidden=8))
    before = [p.detach().clone() for p in model.parameters()]
    good = (torch.randn(2, 4000) * 0.1, torch.randn(2, 4000) * 0.1)
    bad = (good[0].clone(), good[1].clone())
    bad[0][0, 1000] = float("nan")
    qat.finetune(model, iter([good, bad, good]), qat.QATConfig(steps=3, lr=1e-3), log_every=3)
    assert "1 non-finite batches skipped" in capsys.readouterr().err
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))
