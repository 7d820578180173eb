"""One audio reader and one resampler (hushkit.audiofile) serve every command.

Training material must come out bit for bit as it did when each module called scipy and
soundfile itself, so the numbers of a model trained before and after stay comparable.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from hushkit import audiofile
from hushkit.errors import HushkitError, InputError
from hushkit.training import augment, datasets, evaluate, sources, synth

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("host_tools", "training", "quantize")


def noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize(
    "rate_in, rate_out",
    [(44100, 16000), (16000, 48000), (48000, 16000), (16000, 8000), (8000, 16000), (22050, 16000)],
)
def test_resample_is_resample_poly_by_the_reduced_ratio(rate_in, rate_out):
    x = noise(rate_in // 10)
    y = audiofile.resample(x, rate_in, rate_out)
    g = np.gcd(rate_in, rate_out)
    expected = resample_poly(x, rate_out // g, rate_in // g).astype(np.float32)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, expected)
    assert audiofile.resample(x.astype(np.float64), rate_in, rate_out, None).dtype == np.float64


def test_resample_at_the_same_rate_is_a_copy():
    x = noise(100)
    y = audiofile.resample(x, 16000, 16000)
    np.testing.assert_array_equal(y, x)
    y[0] = 5.0
    assert x[0] != 5.0


def test_augment_and_synth_resample_as_before():
    x = noise(16000)
    for up, down in augment.SPEED_RATIOS:
        expected = resample_poly(x, up, down).astype(np.float32)
        np.testing.assert_array_equal(augment.change_speed(x, up, down), expected)
    music = noise(16000, seed=1)
    # hold_music before the shared resampler: butter band-pass, resample_poly(., 8000, sr),
    # mu-law, resample_poly(., sr, 8000)
    from scipy.signal import butter, sosfilt

    m = music.astype(np.float64) / float(np.max(np.abs(music)))
    sos = butter(6, (300.0, 3400.0), btype="band", fs=16000, output="sos")
    narrow = resample_poly(sosfilt(sos, m), 8000, 16000)
    mu = 255.0
    coded = np.sign(narrow) * np.log1p(mu * np.minimum(np.abs(narrow), 1.0)) / np.log1p(mu)
    decoded = np.sign(coded) * np.expm1(np.round(coded * 127) / 127 * np.log1p(mu)) / mu
    expected = synth._normalise(resample_poly(decoded, 16000, 8000)[: len(m)])
    got = synth.hold_music(music, 16000, np.random.default_rng(0))
    np.testing.assert_array_equal(got, expected)


def test_training_reader_averages_channels_and_resamples_as_before(tmp_path):
    stereo = np.stack([noise(44100, 1), noise(44100, 2)], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 44100, subtype="FLOAT")
    x, info = datasets.read_audio(path)
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    expected = resample_poly(data.mean(axis=1), 160, 441).astype(np.float32)
    peak = float(np.max(np.abs(expected)))
    if peak > 0.999:
        expected *= 0.999 / peak
    np.testing.assert_array_equal(x, expected)
    assert info == {"native_rate": 44100, "channels": 2}


@pytest.mark.parametrize("content", [b"", b"this is not audio" * 10])
def test_unreadable_files_are_one_clear_error(tmp_path, content):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="broken.wav"):
        audiofile.decode(bad)
    with pytest.raises(sources.DataError, match="broken.wav"):
        datasets.read_audio(bad)


def test_test_sets_must_be_16k_mono(tmp_path):
    for sub in ("clean", "noisy"):
        (tmp_path / sub).mkdir()
        sf.write(tmp_path / sub / "a.wav", noise(4410), 44100)
    with pytest.raises(HushkitError, match="44100 Hz; test sets must be 16000 Hz"):
        evaluate.load_set(tmp_path)


def _audio_calls(tree: ast.AST) -> list[str]:
    """Names of direct soundfile reads and scipy resamplers a module calls or imports."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "scipy.signal":
            found += [a.name for a in node.names if "resample" in a.name]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in ("sf", "soundfile") and node.attr == "read":
                found.append(f"{node.value.id}.read")
    return found


def test_audio_is_read_and_resampled_in_one_module():
    offenders = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path == REPO / "host_tools" / "audiofile.py":
                continue
            calls = _audio_calls(ast.parse(path.read_text(), str(path)))
            if calls:
                offenders[str(path.relative_to(REPO))] = calls
    assert not offenders, f"read or resample audio through hushkit.audiofile: {offenders}"
    assert _audio_calls(ast.parse((REPO / "host_tools" / "audiofile.py").read_text()))
