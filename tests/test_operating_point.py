"""`hushkit operating-point`: the shift is applied, scored per SNR bucket, and chosen by rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from hushkit.training import checkpoint, operating_point
from hushkit.training.model import MaskNet, ModelArgs, OperatingPoint

RATE = 16000


def _tiny_set(root: Path) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(2 * RATE) / RATE
    meta = {}
    for k, snr in enumerate((0, 10)):
        clean = 0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
        noise = rng.standard_normal(len(t))
        noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2)) * 10 ** (-snr / 20)
        name = f"c{k}.wav"
        for sub, x in (("clean", clean), ("noisy", clean + noise)):
            (root / sub).mkdir(parents=True, exist_ok=True)
            sf.write(str(root / sub / name), x.astype(np.float32), RATE, subtype="FLOAT")
        meta[name] = {"snr_db": snr}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def test_a_large_shift_passes_the_input_through(tmp_path: Path) -> None:
    ckpt = tmp_path / "m.pt"
    checkpoint.save(ckpt, MaskNet(ModelArgs(hidden=8)))
    rows = operating_point.sweep(ckpt, _tiny_set(tmp_path / "set"), [0.0, 30.0])
    assert [r["shift"] for r in rows] == [0.0, 30.0]
    assert list(rows[0]["per_snr"]) == ["0", "10"]
    passthrough = rows[1]
    # sigmoid(z + 30) is 1 to float precision: the output is the input, so nothing changes.
    assert abs(passthrough["worst_d_stoi"]) < 2e-3
    assert abs(passthrough["worst_d_si_sdr"]) < 0.05
    assert passthrough["clean_stoi"] > 0.99
    # An untrained network at shift 0 halves every bin at random: it must score differently.
    assert rows[0]["worst_d_si_sdr"] != passthrough["worst_d_si_sdr"]


def test_recommend_takes_the_smallest_shift_within_the_margins() -> None:
    def row(shift: float, d_stoi: float, d_sdr: float) -> dict:
        return {"shift": shift, "worst_d_stoi": d_stoi, "worst_d_si_sdr": d_sdr}

    rows = [row(1.0, -0.004, -0.4), row(1.5, -0.002, 0.1), row(2.0, -0.0004, 0.2), row(3, 0, 0.3)]
    assert operating_point.recommend(rows) == 2.0
    assert operating_point.recommend(rows, stoi_margin=0.005, si_sdr_margin=0.5) == 1.0
    assert operating_point.recommend(rows[:2]) is None


def test_shifts_are_absolute_for_a_checkpoint_that_carries_one(tmp_path: Path) -> None:
    """A shipped checkpoint has its shift folded in; the sweep takes it off first, so the same
    network scores the same at the same shift whichever way it was saved."""
    model = MaskNet(ModelArgs(hidden=8))
    plain, shifted = tmp_path / "plain.pt", tmp_path / "shifted.pt"
    checkpoint.save(plain, model)
    point = OperatingPoint(1.5, -2.0, scale=0.7)
    point.apply(model)
    checkpoint.save(shifted, model, **point.as_extra())
    clips = _tiny_set(tmp_path / "set")
    a = operating_point.sweep(plain, clips, [0.0, 1.0])
    b = operating_point.sweep(shifted, clips, [0.0, 1.0])
    for ra, rb in zip(a, b, strict=True):
        assert ra["stoi"] == pytest.approx(rb["stoi"], abs=1e-6)
        assert ra["si_sdr"] == pytest.approx(rb["si_sdr"], abs=1e-4)


def test_outside_offset_is_swept_at_every_shift(tmp_path: Path) -> None:
    """The same offset on the out-of-band logits at each shift: a different output from the
    plain shift, recorded in the row."""
    torch.manual_seed(0)
    plain = tmp_path / "plain.pt"
    checkpoint.save(plain, MaskNet(ModelArgs(hidden=8)))
    clips = _tiny_set(tmp_path / "set")
    (flat,) = operating_point.sweep(plain, clips, [1.0])
    (banded,) = operating_point.sweep(plain, clips, [1.0], outside_offset=-6.0,
                                      speech_band_hz=(300.0, 3400.0))  # fmt: skip
    assert banded["outside_offset"] == -6.0 and flat["outside_offset"] == 0.0
    assert banded["si_sdr"] != pytest.approx(flat["si_sdr"], abs=1e-3)
    assert "(outside the band -5)" in operating_point.markdown([banded])
    (soft,) = operating_point.sweep(plain, clips, [1.0], logit_scale=0.5)
    assert soft["logit_scale"] == 0.5
    assert soft["si_sdr"] != pytest.approx(flat["si_sdr"], abs=1e-3)
    assert "logits ×0.5, +1" in operating_point.markdown([soft])


@pytest.mark.parametrize("text", ["4500,150", "150", "a,b", "-1,100"])
def test_speech_band_flag_rejects_what_is_not_a_band(text: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="LO"):
        operating_point._band(text)
    assert operating_point._band("150,4500") == (150.0, 4500.0)


def _bucket_row(shift: float, per_snr: dict[str, tuple[float, float]]) -> dict:
    """A sweep row with one clip per bucket whose scores are the bucket's changes."""
    clips = {
        f"c{snr}": {
            "snr": snr,
            "stoi": d_stoi,
            "si_sdr": d_sdr,
            "d_stoi": d_stoi,
            "d_si_sdr": d_sdr,
        }
        for snr, (d_stoi, d_sdr) in per_snr.items()
    }
    return {"shift": shift, "clips": clips, **operating_point._summarise(clips)}


def test_snr_following_bound_takes_each_buckets_own_shift() -> None:
    rows = [
        _bucket_row(0.0, {"0": (0.02, 3.0), "15": (-0.01, -2.0)}),
        _bucket_row(2.0, {"0": (0.01, 1.5), "15": (0.0, 0.2)}),
    ]
    bound = operating_point.snr_following_bound(rows)
    assert bound["shift_per_snr"] == {"0": 0.0, "15": 2.0}
    # Low SNR keeps shift 0's gain, high SNR gets shift 2's safety: better than either row.
    assert bound["si_sdr"] == pytest.approx((3.0 + 0.2) / 2)
    assert bound["worst_d_stoi"] == pytest.approx(0.0)
    assert bound["si_sdr"] > max(r["si_sdr"] for r in rows)
    # No shift keeps the 15 dB bucket within a zero margin: no bound.
    assert operating_point.snr_following_bound(rows[:1]) is None


@pytest.mark.slow
def test_quality_adds_pesq_and_dnsmos_to_every_row(tmp_path: Path, capsys) -> None:
    from hushkit.cli import main

    ckpt = tmp_path / "m.pt"
    checkpoint.save(ckpt, MaskNet(ModelArgs(hidden=8)), output_bias_shift=2.0)
    set_dir = _tiny_set(tmp_path / "set")
    main(["operating-point", str(ckpt), "--set", str(set_dir), "--shifts", "0,30", "--quality",
          "--si-sdr-margin", "100", "--stoi-margin", "1", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    for r in out["rows"]:
        assert np.isfinite(r["pesq_wb"]) and 1.0 <= r["pesq_wb"] <= 4.7
        assert "d_pesq_wb" in r["per_snr"]["0"]
    # Wide margins: shift 0 is within them in every bucket, so the bound takes it everywhere.
    assert out["snr_following_bound"]["shift_per_snr"] == {"0": 0.0, "10": 0.0}
    assert out["recommended_shift"] == 0.0
