"""Mask logits on ERB bands (`ModelArgs.out_bands`, `layers.BandDense`).

The band outputs are interpolated to the bins by a fixed matrix; training sees the two
factors, every later stage the folded product, so the int8 graph is a plain MaskNet's.
Streaming equals the whole clip: `tests/test_model.py::test_streaming_equals_offline`.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hushkit.training import dsp  # noqa: E402
from hushkit.training.model import MaskNet, ModelArgs  # noqa: E402


@pytest.mark.parametrize(("n_bins", "n_bands"), [(129, 32), (65, 24), (129, 2), (65, 65)])
def test_erb_interpolation_is_a_partition_of_unity(n_bins, n_bands):
    m = dsp.erb_interpolation(n_bins, n_bands)
    assert m.shape == (n_bins, n_bands)
    assert np.all(m >= 0) and np.allclose(m.sum(1), 1.0)
    centres = m.argmax(0)
    assert centres[0] == 0 and centres[-1] == n_bins - 1
    assert np.all(np.diff(centres) >= 1)  # strictly increasing
    assert np.allclose(m[centres, np.arange(n_bands)], 1.0)  # each band is exact at its centre
    widths = (m > 0).sum(0)
    assert widths[1] <= widths[-2]  # ERB spacing: narrow at the bottom, wide at the top


@pytest.mark.parametrize("n_bands", [1, 130])
def test_erb_interpolation_rejects_impossible_band_counts(n_bands):
    with pytest.raises(ValueError, match="n_bands"):
        dsp.erb_interpolation(129, n_bands)


def _banded(hidden=16, bands=20) -> MaskNet:
    torch.manual_seed(0)
    model = MaskNet(ModelArgs(hidden=hidden, out_bands=bands)).eval()
    with torch.no_grad():
        model.fc_out.bias.normal_()
    return model


def test_band_model_costs_the_device_what_the_plain_one_does():
    banded, plain = _banded(bands=20), MaskNet(ModelArgs(hidden=16))
    assert banded.macs_per_hop() == plain.macs_per_hop()
    assert banded.num_parameters() == plain.num_parameters() - (129 - 20) * (16 + 1)
    weight, bias = banded.fc_out.affine()
    assert weight.shape == (129, 16) and bias.shape == (129,)
    assert "fc_out.interpolation" not in banded.state_dict()  # rebuilt from model_args


def test_band_mask_is_smooth_across_bins():
    """Between two band centres the logit is a straight line, so the mask cannot dip in
    a single bin the way a per-bin output can."""
    model = _banded(bands=20)
    weight, bias = model.fc_out.affine()
    logits = weight @ torch.randn(16) + bias
    centres = model.fc_out.interpolation.argmax(0).tolist()
    for lo, hi in zip(centres[:-1], centres[1:], strict=True):
        if hi - lo >= 2:
            seg = logits[lo : hi + 1]
            assert torch.allclose(seg[1:-1], seg[0] + (seg[-1] - seg[0]) * torch.arange(
                1, hi - lo) / (hi - lo), atol=1e-5)


def test_output_bias_shift_moves_every_bin_by_the_same_amount(tmp_path):
    from hushkit.training import checkpoint, train
    from hushkit.training.model import OperatingPoint

    model = _banded()
    path = tmp_path / "banded.pt"
    checkpoint.save(path, model)
    feats = torch.randn(1, 10, 129)
    before, _ = model(feats)
    train.shift_output_bias(path, OperatingPoint(1.5))
    after, _ = checkpoint.load_model(path).eval()(feats)
    logit = torch.logit(before.double().clamp(1e-9, 1 - 1e-9))
    assert torch.allclose(torch.sigmoid(logit + 1.5), after.double(), atol=1e-5)


def test_band_model_checkpoint_round_trip(tmp_path):
    from hushkit.training import checkpoint

    model = _banded()
    path = tmp_path / "banded.pt"
    checkpoint.save(path, model)
    loaded = checkpoint.load_model(path)
    assert loaded.args.out_bands == 20
    feats = torch.randn(1, 8, 129)
    assert torch.equal(model(feats)[0], loaded(feats)[0])


@pytest.mark.slow
def test_band_model_converts_to_the_plain_int8_graph(tmp_path):
    """The converter sees the folded layer: same ops and tensor shapes as a plain MaskNet,
    and TFLite Micro's mask follows the float one."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("tflite_micro")
    import soundfile as sf

    from hushkit.quantize import convert, tflite_model
    from hushkit.quantize.host_int8 import Int8Model
    from hushkit.training import checkpoint
    from hushkit.training.model import STFT, log_power

    rng = np.random.default_rng(0)
    calib = tmp_path / "calib"
    calib.mkdir()
    t = np.arange(16000) / dsp.SAMPLE_RATE
    for i in range(3):
        clip = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) + 0.05 * rng.standard_normal(
            t.size)
        sf.write(calib / f"c{i}.wav", clip.astype(np.float32), dsp.SAMPLE_RATE)
    graphs = {}
    for name, model in (("banded", _banded()), ("plain", MaskNet(ModelArgs(hidden=16)))):
        checkpoint.save(tmp_path / f"{name}.pt", model)
        graphs[name] = convert.quantize_checkpoint(tmp_path / f"{name}.pt", calib,
                                                   n_hops=60).tflite
    info = {k: tflite_model.describe(v) for k, v in graphs.items()}
    assert info["banded"].ops == info["plain"].ops
    assert info["banded"].io_tensor("mask").shape == (1, 129)

    model = _banded()
    spec = STFT(model.args.dsp_config)(torch.from_numpy(sf.read(calib / "c0.wav")[0]).float()[None])
    feats = log_power(spec)[0]
    ref = Int8Model(graphs["banded"], runtime="tflm")
    state, worst = ref.initial_state(), 0.0
    with torch.no_grad():
        float_state = model.initial_state(1)
        for f in feats[:40]:
            float_mask, float_state = model.step(f[None], float_state)
            mask_q, state = ref.invoke(ref.params["features"].quantize(f.numpy()), state)
            mask = ref.params["mask"].dequantize(mask_q).reshape(-1)
            worst = max(worst, float(np.abs(mask - float_mask.numpy()[0]).max()))
    assert worst < 0.1
