"""`hushkit operating-point`: the shift is applied, scored per SNR bucket, and chosen by rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from hushkit.training import checkpoint, operating_point
from hushkit.training.model import MaskNet, ModelArgs

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
