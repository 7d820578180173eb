"""Training end to end on a tiny prepared set: one process, --resume, and DDP with 2 processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from hushkit import cli
from hushkit.training import checkpoint

TINY = [
    "init_from=",  # the shipped recipe continues an earlier run; these tiny runs start fresh
    "epochs=2",
    "steps_per_epoch=3",
    "batch_size=4",
    "segment_seconds=1.0",
    "hidden=16",
    "val_clips=2",
    "threads=1",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def quick_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    assert cli.main(["data", "--out", str(out), "--quick", "--no-babble"]) == 0
    return out


@pytest.mark.slow
def test_train_then_resume(quick_data, tmp_path):
    run = tmp_path / "run"
    args = ["train", *TINY, f"data_dir={quick_data}", f"run_dir={run}"]
    assert cli.main(args) == 0
    for name in ("config.toml", "last.pt", "best.pt", "history.json"):
        assert (run / name).exists(), name
    assert "hidden = 16" in (run / "config.toml").read_text()
    first = checkpoint.load(run / "last.pt")
    assert first["epoch"] == 1 and first["step"] == 6

    assert cli.main(["train", "--resume", *TINY, "epochs=3", f"data_dir={quick_data}",
                     f"run_dir={run}"]) == 0
    resumed = checkpoint.load(run / "last.pt")
    assert resumed["epoch"] == 2 and resumed["step"] == 9
    assert len(json.loads((run / "history.json").read_text())) == 3
    # the resumed run continued from the saved weights, it did not start over
    assert not torch.equal(first["state_dict"]["fc_in.weight"],
                           resumed["state_dict"]["fc_in.weight"])


@pytest.mark.slow
def test_ddp_two_cpu_processes(quick_data, tmp_path):
    run = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={_free_port()}", "-m", "hushkit.training.train",
        *TINY, "epochs=1", f"data_dir={quick_data}", f"run_dir={run}",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 process(es)" in proc.stderr
    state = checkpoint.load(run / "last.pt")
    assert state["step"] == 3  # each rank took the same number of synchronized steps


def test_output_bias_shift_raises_every_gain(tmp_path):
    """The operating-point shift keeps the unshifted weights and lifts each mask value."""
    from hushkit.training.model import STFT, MaskNet, ModelArgs, OperatingPoint, log_power
    from hushkit.training.train import shift_output_bias

    torch.manual_seed(0)
    model = MaskNet(ModelArgs()).eval()
    path = tmp_path / "best.pt"
    checkpoint.save(path, model, metrics={"si_sdr": 1.0})
    shift_output_bias(path, OperatingPoint(1.5))
    shifted = checkpoint.load_model(path)
    original = checkpoint.load_model(tmp_path / "best_unshifted.pt")
    spec = STFT(model.args.dsp_config)(0.1 * torch.randn(1, 4000))
    with torch.no_grad():
        m0, _ = original(log_power(spec))
        m1, _ = shifted(log_power(spec))
    assert torch.all(m1 > m0)
    assert torch.allclose(torch.logit(m1) - torch.logit(m0), torch.tensor(1.5), atol=1e-3)
    assert checkpoint.load(path)["output_bias_shift"] == 1.5
    assert checkpoint.load(path)["metrics"] == {"si_sdr": 1.0}


def test_outside_band_offset_moves_only_the_bins_outside_the_speech_band(tmp_path):
    """Shift 1.5 everywhere, 2.5 less outside 150-4500 Hz; setting a point again replaces the
    one the checkpoint carries instead of adding to it."""
    from hushkit.training.model import MaskNet, ModelArgs, OperatingPoint
    from hushkit.training.train import shift_output_bias

    torch.manual_seed(0)
    model = MaskNet(ModelArgs(hidden=8)).eval()
    path = tmp_path / "best.pt"
    checkpoint.save(path, model)
    before = model.fc_out.bias.detach().clone()
    cfg = model.args.dsp_config
    freqs = torch.arange(cfg.n_bins) * cfg.sample_rate / cfg.n_fft
    inside = (freqs >= 150.0) & (freqs < 4500.0)
    assert 0 < int(inside.sum()) < cfg.n_bins
    for point in (OperatingPoint(0.5, -4.0), OperatingPoint(1.5, -2.5)):
        shift_output_bias(path, point)
    delta = checkpoint.load_model(path).fc_out.bias.detach() - before
    assert torch.allclose(delta[inside], torch.tensor(1.5), atol=1e-5)
    assert torch.allclose(delta[~inside], torch.tensor(-1.0), atol=1e-5)
    assert OperatingPoint.of(checkpoint.load(path)) == OperatingPoint(1.5, -2.5, (150.0, 4500.0))
    unshifted = checkpoint.load(tmp_path / "best_unshifted.pt")
    assert not OperatingPoint.of(unshifted)
    assert torch.allclose(checkpoint.load_model(tmp_path / "best_unshifted.pt").fc_out.bias,
                          before, atol=1e-6)  # fmt: skip


def test_mask_logit_scale_softens_the_mask_and_comes_off_again(tmp_path):
    """z -> 0.8 z + 1.2 on every logit (band outputs too: the scale is linear); replacing the
    point gives back the unscaled weights."""
    from hushkit.training.model import STFT, MaskNet, ModelArgs, OperatingPoint, log_power
    from hushkit.training.train import shift_output_bias

    for args in (ModelArgs(hidden=8), ModelArgs(hidden=8, out_bands=16)):
        torch.manual_seed(0)
        model = MaskNet(args).eval()
        path = tmp_path / "best.pt"
        checkpoint.save(path, model)
        shift_output_bias(path, OperatingPoint(1.2, scale=0.8))
        spec = STFT(model.args.dsp_config)(0.1 * torch.randn(1, 4000))
        with torch.no_grad():
            m0, _ = model(log_power(spec))
            m1, _ = checkpoint.load_model(path)(log_power(spec))
        assert torch.allclose(torch.logit(m1), 0.8 * torch.logit(m0) + 1.2, atol=1e-3)
        assert OperatingPoint.of(checkpoint.load(path)).scale == 0.8
        shift_output_bias(path, OperatingPoint(1.2))
        weight = checkpoint.load_model(path).fc_out.weight
        assert torch.allclose(weight, model.fc_out.weight, atol=1e-6)
    with pytest.raises(ValueError, match="logit scale"):
        OperatingPoint(1.0, scale=0.0)


def test_outside_band_offset_refuses_banded_logits():
    from hushkit.training.model import MaskNet, ModelArgs, OperatingPoint

    model = MaskNet(ModelArgs(hidden=8, out_bands=16))
    OperatingPoint(1.0).apply(model)  # a plain shift is fine on bands too
    with pytest.raises(ValueError, match="one mask logit per bin"):
        OperatingPoint(1.0, -1.0).apply(model)
    with pytest.raises(ValueError, match="speech band"):
        OperatingPoint(1.0, -1.0, (4500.0, 150.0))


@pytest.mark.slow
def test_init_from_old_checkpoint_and_a_mismatch(quick_data, tmp_path, capsys):
    """A checkpoint saved before `out_bands` existed continues as the per-bin network; one
    whose network differs from the config is one clear line, not a traceback."""
    from hushkit.training.model import MaskNet, ModelArgs

    old = tmp_path / "old.pt"
    checkpoint.save(old, MaskNet(ModelArgs(hidden=16)))
    payload = torch.load(old, weights_only=True)
    del payload["model_args"]["out_bands"]  # as every checkpoint of earlier rounds is
    torch.save(payload, old)
    base = ["train", *[a for a in TINY if a != "init_from="], "epochs=1",
            f"data_dir={quick_data}"]
    assert cli.main([*base, f"init_from={old}", f"run_dir={tmp_path / 'a'}"]) == 0
    assert cli.main([*base, f"init_from={old}", "out_bands=8",
                     f"run_dir={tmp_path / 'b'}"]) != 0
    err = capsys.readouterr().err
    assert "holds a different network" in err and "Traceback" not in err


def test_a_model_widened_to_the_floor_feature_starts_as_the_one_it_came_from():
    """init_from a network without the floor feature: the new inputs get zero weights and
    their own normalisation, the old ones keep theirs, so the first mask is the old mask."""
    from hushkit.training.model import STFT, MaskNet, ModelArgs, input_features
    from hushkit.training.train import _load_adding_floor_feature

    torch.manual_seed(3)
    old = MaskNet(ModelArgs(hidden=16)).eval()
    wide = MaskNet(ModelArgs(hidden=16, floor_feature=True)).eval()
    with torch.no_grad():
        for model in (old, wide):
            model.feat_mean.normal_()
            model.feat_std.uniform_(0.5, 2.0)
        new_mean = wide.feat_mean[129:].clone()
    _load_adding_floor_feature(wide, old.state_dict())
    assert torch.equal(wide.feat_mean[129:], new_mean)
    assert torch.equal(wide.feat_mean[:129], old.feat_mean)
    assert torch.count_nonzero(wide.fc_in.weight[:, 129:]) == 0
    spec = STFT(old.args.dsp_config)(torch.randn(1, 20 * 128))
    with torch.no_grad():
        m_old, _ = old(input_features(old.args, spec)[0])
        m_wide, _ = wide(input_features(wide.args, spec)[0])
    assert torch.allclose(m_old, m_wide, atol=1e-6)


def test_optimizer_step_skips_a_non_finite_loss_or_gradient():
    """The one optimizer step of the trainer and QAT: a NaN loss, or an infinite gradient, is
    no step at all (the weights stay as they were); a finite one steps."""
    from hushkit.training.train import optimizer_step

    w = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([w], lr=0.1)
    assert not optimizer_step([w], optimizer, (w * float("nan")).sum(), grad_clip=1.0)
    finite_loss = torch.sqrt(w - 1.0).sum()  # 0, with an infinite gradient at w = 1
    assert torch.isfinite(finite_loss)
    assert not optimizer_step([w], optimizer, finite_loss, grad_clip=1.0)
    assert torch.equal(w.detach(), torch.ones(3))
    assert optimizer_step([w], optimizer, w.square().sum(), grad_clip=1.0)
    assert torch.all(w.detach() < 1.0)


@pytest.mark.parametrize("name", ["default", "lowlatency"])
def test_shipped_checkpoint_carries_the_operating_point_its_recipe_names(name):
    # `make pretrained-MODEL` must give back the shipped operating point, not an older one.
    from pathlib import Path

    from hushkit.training.config import TrainConfig
    from hushkit.training.model import OperatingPoint

    repo = Path(__file__).resolve().parent.parent
    cfg = TrainConfig.from_toml(repo / "training" / "configs" / f"{name}_ft.toml")
    shipped = checkpoint.load(repo / "training" / "pretrained" / f"{name}.pt")
    assert OperatingPoint.of(shipped) == OperatingPoint.of_config(cfg)
