"""The streaming network and its framing: reconstruction, streaming = offline, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hushkit.training import checkpoint, dsp
from hushkit.training.config import TrainConfig
from hushkit.training.model import (
    ARCHITECTURES,
    STFT,
    MaskNet,
    ModelArgs,
    build_model,
    enhance_waveform,
    input_features,
    log_power,
    track_floor,
)


@pytest.mark.parametrize("cfg", list(dsp.CONFIGS.values()), ids=list(dsp.CONFIGS))
def test_stft_perfect_reconstruction(cfg):
    torch.manual_seed(0)
    x = torch.randn(3, 4000) * 0.3
    stft = STFT(cfg)
    y = stft.inverse(stft(torch.nn.functional.pad(x, (0, cfg.n_fft))))
    d = cfg.output_delay
    assert torch.max(torch.abs(y[:, d : d + x.shape[1]] - x)) < 1e-5


@pytest.mark.parametrize("cfg", list(dsp.CONFIGS.values()), ids=list(dsp.CONFIGS))
def test_window_sums_to_one_at_half_overlap(cfg):
    w2 = cfg.window().astype(np.float64) ** 2
    assert np.allclose(w2[: cfg.hop] + w2[cfg.hop :], 1.0, atol=1e-6)


def test_unity_mask_is_identity_and_time_aligned():
    model = MaskNet(ModelArgs())
    with torch.no_grad():
        model.fc_out.weight.zero_()
        model.fc_out.bias.fill_(30.0)  # sigmoid(30) = 1 - 1e-13: the mask passes everything
    x = torch.randn(1, 3000) * 0.1
    with torch.no_grad():
        y = enhance_waveform(model, x)
    assert y.shape == x.shape
    assert torch.max(torch.abs(y - x)) < 1e-5


@pytest.mark.parametrize(
    "args", [{"arch": a} for a in ARCHITECTURES] + [{"arch": "masknet", "out_bands": 20}],
    ids=[*ARCHITECTURES, "masknet-bands"],
)
@pytest.mark.parametrize("dsp_name", list(dsp.CONFIGS))
def test_streaming_equals_offline(dsp_name, args):
    """Every architecture (and ERB-band mask outputs): the one-hop step over a clip = the
    whole-clip training graph."""
    torch.manual_seed(1)
    model = build_model({**args, "dsp": dsp_name, "hidden": 24}).eval()
    with torch.no_grad():  # a normalisation that is not the identity, as after training
        model.feat_mean.normal_()
        model.feat_std.uniform_(0.5, 2.0)
    cfg = model.args.dsp_config
    feats = log_power(STFT(cfg)(torch.randn(2, 40 * cfg.hop)))
    with torch.no_grad():
        offline, final_state = model(feats)
        state = model.initial_state(2)
        hops = []
        for t in range(feats.shape[1]):
            mask, state = model.step(feats[:, t], state)
            hops.append(mask)
    assert torch.allclose(torch.stack(hops, 1), offline, atol=1e-5)
    assert torch.allclose(state, final_state, atol=1e-5)


def test_the_floor_falls_into_pauses_and_rises_slowly_through_speech():
    """A bin at -10 with bursts at 0: the floor stays near -10 through a 40-hop burst (it
    rises 2**-7 of the way per hop) and drops back within a few hops after it."""
    lp = torch.full((1, 200, 1), -10.0)
    lp[:, 50:90] = 0.0
    floor, last = track_floor(lp, dsp.floor_shifts(dsp.DEFAULT))
    assert torch.allclose(floor[:, :50], torch.tensor(-10.0))
    assert floor[0, 89, 0] < -10.0 + 10.0 * (1 - (1 - 2**-7) ** 40) + 1e-4  # about -7.3
    assert floor[0, 89, 0] > -8.0
    assert floor[0, 120, 0] < -9.9  # 2**-3 of the way down per hop
    assert torch.equal(last, floor[:, -1])
    # Carried over a split, it is the same floor.
    first, carry = track_floor(lp[:, :70], dsp.floor_shifts(dsp.DEFAULT))
    second, _ = track_floor(lp[:, 70:], dsp.floor_shifts(dsp.DEFAULT), carry)
    assert torch.allclose(torch.cat([first, second], 1), floor)


def test_floor_feature_inputs():
    """[log power, height above the floor]: twice the bins, the first half unchanged."""
    args = ModelArgs(floor_feature=True)
    spec = STFT(args.dsp_config)(torch.randn(2, 30 * 128))
    feats, floor = input_features(args, spec)
    assert feats.shape == (2, 30, 2 * 129) and floor.shape == (2, 129)
    assert torch.equal(feats[..., :129], log_power(spec))
    assert MaskNet(args).fc_in.in_features == 2 * 129
    assert input_features(ModelArgs(), spec)[1] is None


def test_default_budget():
    """The issue's budget: <= 100k parameters, <= 15 M MAC/s, <= 16 ms; low latency <= 8 ms."""
    default = MaskNet(ModelArgs(dsp="default")).budget()
    low = MaskNet(ModelArgs(dsp="lowlatency")).budget()
    assert default["parameters"] <= 100_000 and low["parameters"] <= 100_000
    assert default["macs_per_second"] <= 15e6 and low["macs_per_second"] <= 15e6
    assert default["latency_ms"] <= 16 and low["latency_ms"] <= 8


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(2)
    model = MaskNet(ModelArgs(dsp="lowlatency", hidden=16))
    model.feat_mean.normal_()
    path = tmp_path / "m.pt"
    checkpoint.save(path, model, config={"hidden": 16}, epoch=3)
    again = checkpoint.load_model(path)
    assert again.args == model.args
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    payload = checkpoint.load(path)
    assert payload["dsp"]["n_fft"] == 128 and payload["epoch"] == 3


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable hushkit checkpoint"):
        checkpoint.load(bad)


def test_config_overrides_and_errors(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('hidden = 32\ndsp = "lowlatency"\n')
    cfg = TrainConfig.from_toml(toml, ["epochs=3", "lr=0.01", "run_dir=/x"])
    got = (cfg.hidden, cfg.dsp, cfg.epochs, cfg.lr, cfg.run_dir)
    assert got == (32, "lowlatency", 3, 0.01, "/x")
    # the saved resolved config reads back to the same values
    saved = tmp_path / "resolved.toml"
    saved.write_text(cfg.to_toml())
    assert TrainConfig.from_toml(saved) == cfg
    with pytest.raises(ValueError, match="unknown config key"):
        TrainConfig.from_toml(None, ["hiden=3"])
    with pytest.raises(ValueError, match="needs a int"):
        TrainConfig.from_toml(None, ["epochs=many"])


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_round_trips_through_a_checkpoint(tmp_path, arch):
    torch.manual_seed(3)
    model = build_model({"arch": arch, "hidden": 8})
    path = tmp_path / "m.pt"
    checkpoint.save(path, model)
    again = checkpoint.load_model(path)
    assert type(again) is type(model) and again.args == model.args
    x = torch.randn(1, 5, model.args.dsp_config.n_bins)
    with torch.no_grad():
        assert torch.equal(again(x)[0], model(x)[0])


def test_masknet_checkpoints_stay_compatible():
    """MaskNet's state_dict keys and ModelArgs are what every released checkpoint holds."""
    model = MaskNet(ModelArgs(hidden=48))
    assert list(model.state_dict()) == [
        "feat_mean", "feat_std", "fc_in.weight", "fc_in.bias",
        "gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0",
        "fc_out.weight", "fc_out.bias",
    ]
    assert build_model({"dsp": "default", "hidden": 48}).args == ModelArgs(hidden=48)
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model({"arch": "nope"})
