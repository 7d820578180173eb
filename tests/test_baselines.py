"""The baseline enhancers: interface, time alignment, and that each one actually denoises."""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from hushkit.training import baselines, metrics

FS = 16000
REPO = Path(__file__).resolve().parent.parent
# The suite's own download cache (shared with the firmware-in-the-loop test data): speech
# comes from the pocketsphinx-testdata package fetched there, never from whatever the host
# happens to have installed under /usr/share, so every machine tests on the same audio.
CACHE = REPO / "build" / "test-data" / "quick" / "cache"
SPEECH_PACKAGE = "pocketsphinx-testdata"
SPEECH_GLOB = "usr/share/pocketsphinx/test/data/librivox/*.wav"


def _read_16k(path: str | Path) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return resample_poly(audio[:, 0], FS, rate) if rate != FS else audio[:, 0]


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """About 3 s of speech (LibriVox via the suite's download cache), peak 0.3."""
    from hushkit.training import sources

    try:
        root = sources.fetch_package(SPEECH_PACKAGE, CACHE)
        files = sorted(glob.glob(str(root / SPEECH_GLOB)))
    except sources.DataError:
        files = []  # no apt-get here: synthesize speech instead, as below
    if files:
        audio = _read_16k(files[0])[: 3 * FS]
    elif shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "speech.wav"
            text = "Every morning the ferry leaves the harbour at seven."
            subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
            audio = _read_16k(path)
    else:
        pytest.skip("no speech recording and no espeak-ng to synthesize one")
    return (0.3 * audio / np.max(np.abs(audio))).astype(np.float32)


@pytest.fixture(scope="module")
def mixture(speech: np.ndarray) -> np.ndarray:
    """Speech + white noise at 0 dB SNR."""
    noise = np.random.default_rng(7).standard_normal(len(speech))
    noise *= np.sqrt(np.mean(speech**2) / np.mean(noise**2))
    return (speech + noise).astype(np.float32)


@pytest.mark.parametrize("delay", [0, 1, 37, -250, 1599])
def test_estimate_delay_recovers_a_known_shift(mixture: np.ndarray, delay: int) -> None:
    delayed = baselines.shift(mixture, -delay, len(mixture))  # shift(-d) retards by d
    assert baselines.estimate_delay(mixture, delayed) == delay
    realigned = baselines.shift(delayed, delay, len(mixture))
    keep = slice(abs(delay), len(mixture) - abs(delay))
    np.testing.assert_array_equal(realigned[keep], mixture[keep])


def test_estimate_delay_searches_only_the_window(mixture: np.ndarray) -> None:
    # A 200 ms lag is outside the +-100 ms search, so the answer must stay inside it.
    delayed = baselines.shift(mixture, -3200, len(mixture))
    assert abs(baselines.estimate_delay(mixture, delayed)) <= baselines.MAX_ALIGN_LAG


@pytest.mark.parametrize("name", baselines.BASELINES)
def test_baseline_is_aligned_and_improves_si_sdr(
    name: str, speech: np.ndarray, mixture: np.ndarray
) -> None:
    try:
        enhancer = baselines.make_baseline(name)
    except baselines.BaselineUnavailable as exc:
        pytest.skip(str(exc))
    out = enhancer(mixture)
    assert enhancer.name == name
    assert out.dtype == np.float32 and out.shape == mixture.shape
    assert np.all(np.isfinite(out))
    # The fixed lag removed must be all there was: cross-correlation finds nothing left.
    assert enhancer.last_residual == 0
    assert baselines.estimate_delay(mixture, out) == 0
    noisy_sdr = metrics.si_sdr(speech, mixture)
    if name == "noisy":
        np.testing.assert_array_equal(out, mixture)
    else:
        assert metrics.si_sdr(speech, out) > noisy_sdr + 2.0


def test_enhancer_rejects_bad_input() -> None:
    enhancer = baselines.make_baseline("noisy")
    with pytest.raises(ValueError, match="NaN"):
        enhancer(np.array([0.0, np.nan], np.float32))
    with pytest.raises(ValueError, match="1-D"):
        enhancer(np.zeros((2, 100), np.float32))


def test_missing_package_skips_that_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "noisereduce", None)  # makes `import noisereduce` fail
    enhancers, notes = baselines.load_baselines(["noisy", "noisereduce"])
    assert list(enhancers) == ["noisy"]
    assert len(notes) == 1 and "noisereduce" in notes[0]
    with pytest.raises(ValueError, match="unknown baseline"):
        baselines.make_baseline("spectral-magic")
