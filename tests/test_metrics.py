"""Sanity of the quality metrics and of the `evaluate` report built on them."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from hushkit.training import metrics

pytest.importorskip("pesq")
pytest.importorskip("pystoi")

FS = 16000


def _speech_like(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Real TTS speech when espeak-ng is installed, else voiced bursts (harmonics + envelope)."""
    if shutil.which("espeak-ng"):
        import soundfile as sf
        from scipy.signal import resample_poly

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "speech.wav"
            text = "The quiet room was suddenly full of voices."
            subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
            audio, rate = sf.read(path, dtype="float64")
        audio = resample_poly(audio, FS, rate)
    else:
        rng = np.random.default_rng(seed)
        t = np.arange(int(seconds * FS)) / FS
        f0 = 140.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / FS
        audio = sum(np.sin(k * phase) / k for k in range(1, 20))
        audio = audio * (np.sin(2 * np.pi * 2.5 * t) > 0.2) + 0.001 * rng.standard_normal(len(t))
    return (0.3 * audio / np.max(np.abs(audio))).astype(np.float32)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return _speech_like()


def _add_noise(clean: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(clean))
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2)) * 10.0 ** (-snr_db / 20.0)
    return (clean + noise).astype(np.float32)


def test_clean_against_itself_scores_the_maximum(speech: np.ndarray) -> None:
    assert metrics.pesq_wb(speech, speech) == pytest.approx(4.64, abs=0.01)
    assert metrics.stoi(speech, speech) == pytest.approx(1.0, abs=1e-6)
    assert metrics.si_sdr(speech, speech) > 60.0


def test_noise_lowers_every_metric(speech: np.ndarray) -> None:
    scorer = metrics.Scorer(dnsmos=False)
    perfect = scorer(speech, speech)
    light = scorer(speech, _add_noise(speech, 20.0))
    heavy = scorer(speech, _add_noise(speech, 0.0))
    for key in metrics.INTRUSIVE:
        assert perfect[key] > light[key] > heavy[key], key
    # SI-SDR of clean + white noise equals the SNR it was mixed at, within the projection.
    assert heavy["si_sdr"] == pytest.approx(0.0, abs=0.3)


def test_si_sdr_ignores_gain_and_dc(speech: np.ndarray) -> None:
    noisy = _add_noise(speech, 5.0)
    reference = metrics.si_sdr(speech, noisy)
    assert metrics.si_sdr(speech, 0.25 * noisy) == pytest.approx(reference, abs=1e-6)
    assert metrics.si_sdr(speech, -3.0 * noisy + 0.1) == pytest.approx(reference, abs=1e-6)


def test_one_si_sdr_in_numpy_and_torch(speech: np.ndarray) -> None:
    """The training loss and the metric: one definition, one (reference, estimate) order."""
    torch = pytest.importorskip("torch")
    from hushkit.training import losses

    rng = np.random.default_rng(3)
    s = speech.astype(np.float64)
    refs = [s, s[::-1].copy(), 0.01 * s + 0.2]
    ests = [r + 0.3 * rng.standard_normal(len(r)) * np.std(r) + 0.5 * r[::-1] for r in refs]
    want = [metrics.si_sdr(r, e) for r, e in zip(refs, ests, strict=True)]
    got = losses.si_sdr(torch.tensor(np.stack(refs)), torch.tensor(np.stack(ests)))
    # The guards differ (1e-8 of energy in the float32 trainer, 1e-20 here), which moves the
    # quiet third row (0.01 x speech) by 6e-5 dB; the louder rows agree to 1e-6 dB.
    np.testing.assert_allclose(got.numpy()[:2], want[:2], atol=1e-6)
    np.testing.assert_allclose(got.numpy()[2], want[2], atol=1e-4)
    # The value is symmetric away from silence; the first argument is the reference, whose
    # silence leaves SI-SDR undefined.
    silent = np.zeros_like(speech)
    assert math.isnan(metrics.si_sdr(silent, speech)) and not math.isnan(
        metrics.si_sdr(speech, silent))


def test_inputs_are_checked(speech: np.ndarray) -> None:
    with pytest.raises(ValueError, match="16000"):
        metrics.pesq_wb(speech, speech, fs=8000)
    with pytest.raises(ValueError, match="16000"):
        metrics.si_sdr(speech, speech, fs=48000)
    bad = speech.copy()
    bad[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.stoi(speech, bad)
    with pytest.raises(ValueError, match="not the same recording"):
        metrics.si_sdr(speech, speech[: -metrics.MAX_TRIM_SAMPLES - 1])
    # A few samples of padding are trimmed from the longer signal, not an error.
    padded = np.concatenate([speech, np.zeros(10, np.float32)])
    assert metrics.si_sdr(speech, padded) > 60.0


def test_pesq_without_utterance_is_nan_and_counted() -> None:
    silence = np.zeros(FS, np.float32)
    hiss = 1e-4 * np.random.default_rng(0).standard_normal(FS).astype(np.float32)
    scorer = metrics.Scorer(dnsmos=False)
    scores = scorer(silence, hiss)
    assert math.isnan(scores["pesq_wb"])
    assert scorer.pesq_no_utterance == 1
    assert any("no utterance" in note for note in scorer.notes)


def _write_set(root: Path, clean: np.ndarray) -> None:
    import soundfile as sf

    (root / "clean").mkdir(parents=True)
    (root / "noisy").mkdir()
    meta = {}
    for i, snr in enumerate((0.0, 10.0)):
        name = f"clip{i}.wav"
        sf.write(root / "clean" / name, clean, FS, subtype="FLOAT")
        sf.write(root / "noisy" / name, _add_noise(clean, snr, seed=i), FS, subtype="FLOAT")
        meta[name] = {"snr_db": snr, "noise_type": "white" if i == 0 else "pink"}
    (root / "meta.json").write_text(json.dumps(meta))


def test_evaluate_writes_consistent_reports(speech: np.ndarray, tmp_path: Path) -> None:
    from hushkit.training import eval_report, evaluate

    _write_set(tmp_path / "set", speech)

    def oracle_gain(noisy: np.ndarray) -> np.ndarray:
        # Halfway to the clean signal: must score between the noisy input and the clean one.
        return (0.5 * noisy + 0.5 * speech).astype(np.float32)

    def late(noisy: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros(40, np.float32), noisy[:-40]])

    results = evaluate.evaluate(
        {"noisy": lambda x: x, "oracle": oracle_gain, "late": late},
        tmp_path / "set",
        out_dir=tmp_path / "out",
        dnsmos=False,
        progress=False,
    )
    means = results["means"]
    assert means["oracle"]["si_sdr"] > means["noisy"]["si_sdr"] + 3.0
    assert means["oracle"]["pesq_wb"] > means["noisy"]["pesq_wb"]
    assert means["noisy"]["max_abs_delay_samples"] == 0
    assert means["late"]["max_abs_delay_samples"] == 40
    per_snr = results["per_snr"]["noisy"]
    assert set(per_snr) == {"0", "10"}
    assert per_snr["10"]["si_sdr"] > per_snr["0"]["si_sdr"] + 8.0
    assert all(results["speed"][s]["rtf"] > 0 for s in results["systems"])

    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["means"]["oracle"]["si_sdr"] == pytest.approx(means["oracle"]["si_sdr"])
    table = (tmp_path / "out" / "results.md").read_text()
    assert table == eval_report.markdown_table(results)
    assert "| oracle |" in table and "10 dB" in table
    assert (tmp_path / "out" / "results.png").stat().st_size > 10_000


def test_evaluate_rejects_wrong_length_output(speech: np.ndarray, tmp_path: Path) -> None:
    from hushkit.training import evaluate

    _write_set(tmp_path / "set", speech)
    with pytest.raises(ValueError, match="expected"):
        evaluate.evaluate(
            {"short": lambda x: x[:-5]}, tmp_path / "set", dnsmos=False, progress=False
        )


def test_no_harm_and_transparency_verdicts(speech: np.ndarray, tmp_path: Path) -> None:
    """The do-no-harm bar passes a system that only helps and fails one that damages clean
    speech; the clean-input row scores what each system does to the clean files."""
    from hushkit.training import eval_report, evaluate

    _write_set(tmp_path / "set", speech)

    def helps(noisy: np.ndarray) -> np.ndarray:
        return (0.3 * noisy + 0.7 * speech).astype(np.float32)

    def muffles(noisy: np.ndarray) -> np.ndarray:
        from scipy.signal import butter, sosfiltfilt

        sos = butter(4, 500, fs=FS, output="sos")
        return sosfiltfilt(sos, noisy).astype(np.float32)

    results = evaluate.evaluate(
        {"noisy": lambda x: x, "helps": helps, "muffles": muffles},
        tmp_path / "set",
        dnsmos=False,
        progress=False,
        transparency=True,
    )
    clean = results["clean_input"]
    assert clean["noisy"]["stoi"] == pytest.approx(1.0, abs=1e-3)  # identity on clean input
    assert clean["muffles"]["stoi"] < clean["noisy"]["stoi"] - 0.05
    assert results["no_harm"]["helps"]["per_snr"]["0"]["si_sdr"]["pass"]
    assert not results["no_harm"]["muffles"]["pass"]
    assert set(results["per_noise_type"]["noisy"]) == {"white", "pink"}
    table = eval_report.markdown_table(results)
    assert "Clean input" in table and "- muffles: FAIL" in table and "by noise type" in table


def test_sisdr_loss_is_the_clamped_mean_and_trains_through_silence(speech: np.ndarray) -> None:
    """The SI-SDR loss term: minus the mean of per-row SI-SDR clamped to -30..60 dB, / 100, so
    a perfect row counts 60 dB and a row without speech leaves a finite gradient."""
    torch = pytest.importorskip("torch")
    from hushkit.training import losses

    s = torch.tensor(speech, dtype=torch.float32)
    noisy = s + 0.3 * s.std() * torch.randn(len(s), generator=torch.Generator().manual_seed(0))
    refs = torch.stack([s, s, torch.zeros_like(s)])
    est = torch.stack([s, noisy, noisy]).requires_grad_()
    sdr_noisy = float(losses.si_sdr(s[None], noisy[None]))
    loss = losses.sisdr_loss(refs, est)
    assert float(loss.detach()) == pytest.approx(-(60.0 + sdr_noisy - 30.0) / 300.0, abs=1e-4)
    loss.backward()
    assert torch.isfinite(est.grad).all() and est.grad[1].abs().sum() > 0
