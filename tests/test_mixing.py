"""On-the-fly mixing: exact SNR, level and clipping guard, band limiting, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from hushkit.training import augment, mixing

SR = 16000


def speechlike(n: int, rng: np.random.Generator) -> np.ndarray:
    """Voiced bursts with pauses: harmonics of a random f0 under a 3-5 Hz syllable envelope."""
    t = np.arange(n) / SR
    f0 = rng.uniform(90, 220)
    x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * rng.uniform(3, 5) * t), 0, None) ** 2
    return (rng.uniform(0.05, 0.5) * x * envelope).astype(np.float32)


def noises(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    white = rng.standard_normal(n)
    brown = np.cumsum(rng.standard_normal(n))
    brown -= brown.mean()
    hum = np.sin(2 * np.pi * 50 * np.arange(n) / SR) + 0.3 * np.sin(
        2 * np.pi * 150 * np.arange(n) / SR
    )
    return [
        (g * x).astype(np.float32)
        for g, x in zip((0.1, 1e-3, 0.2), (white, brown, hum), strict=True)
    ]


def test_mix_at_snr_is_exact_over_random_draws() -> None:
    rng = np.random.default_rng(1)
    errors = []
    for _ in range(200):
        n = int(rng.integers(SR // 2, 3 * SR))
        speech = speechlike(n, rng)
        noise = noises(n, rng)[int(rng.integers(3))]
        target = float(rng.uniform(-10, 30))
        noisy, scaled = mixing.mix_at_snr(speech, noise, target, SR)
        assert noisy.dtype == np.float32 and len(noisy) == n
        np.testing.assert_allclose(noisy - speech, scaled, atol=1e-6)
        errors.append(abs(mixing.snr_db(speech, scaled, SR) - target))
    assert max(errors) < 0.01


def test_active_power_ignores_pauses() -> None:
    rng = np.random.default_rng(2)
    burst = speechlike(SR, rng)
    padded = np.concatenate([np.zeros(3 * SR, np.float32), burst])
    # 3 s of silence would lower the plain mean power 4x; the active-speech power stays put
    assert mixing.active_power(padded, SR) == pytest.approx(mixing.active_power(burst, SR), 0.05)
    assert np.mean(padded**2) < 0.3 * mixing.active_power(padded, SR)


def test_mix_at_snr_rejects_silence_and_length_mismatch() -> None:
    speech = speechlike(SR, np.random.default_rng(3))
    with pytest.raises(ValueError):
        mixing.mix_at_snr(speech, np.zeros(SR, np.float32), 0.0)
    with pytest.raises(ValueError):
        mixing.mix_at_snr(speech, np.ones(SR - 1, np.float32), 0.0)


def test_level_and_clipping_guard_keep_snr() -> None:
    rng = np.random.default_rng(4)
    for level in (-40.0, -20.0, 0.0, 10.0):  # 0 and +10 dBFS must hit the clipping guard
        speech = speechlike(2 * SR, rng)
        noisy, noise = mixing.mix_at_snr(speech, noises(2 * SR, rng)[0], 5.0, SR)
        out_noisy, out_clean, gain = mixing.set_level(noisy, speech, level, peak_limit=0.99)
        assert np.max(np.abs(out_noisy)) <= 0.99 + 1e-6
        assert np.max(np.abs(out_clean)) <= 0.99 + 1e-6
        assert mixing.snr_db(out_clean, out_noisy - out_clean, SR) == pytest.approx(5.0, abs=0.01)
        rms_db = 20 * np.log10(np.sqrt(np.mean(out_noisy.astype(np.float64) ** 2)))
        if level <= -20:
            assert rms_db == pytest.approx(level, abs=0.01)
        else:
            assert rms_db < level


def band_energy_ratio(x: np.ndarray, cutoff: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float(spec[f > cutoff + 1000].sum() / spec.sum())


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_band_limit_applies_to_speech_and_noise(prob: float) -> None:
    rng = np.random.default_rng(5)
    white = [rng.standard_normal(SR).astype(np.float32) * 0.1]
    speech = [(speechlike(2 * SR, rng) + 0.02 * rng.standard_normal(2 * SR)).astype(np.float32)]
    config = mixing.MixConfig(
        segment_seconds=1.0, band_limit_prob=prob, band_limit_hz=(4000, 4000), clean_prob=0.0
    )
    noisy, clean, info = mixing.make_mixture(speech, {"white": white}, config, rng)
    noise = noisy - clean
    if prob:
        assert info["cutoff_hz"] == 4000
        assert band_energy_ratio(clean, 4000) < 1e-3
        assert band_energy_ratio(noise, 4000) < 1e-3
    else:
        assert info["cutoff_hz"] is None
        assert band_energy_ratio(noise, 4000) > 0.2  # white noise: 3/8 of its power up there


def test_loop_to_length_loops_without_steps() -> None:
    rng = np.random.default_rng(6)
    out = mixing.loop_to_length(np.full(1000, 0.5, np.float32), 5000, rng, SR)
    assert out.shape == (5000,)
    np.testing.assert_allclose(out, 0.5, atol=1e-6)  # crossfading a constant is the constant
    ramp = np.linspace(-1, 1, 700, dtype=np.float32)
    looped = mixing.loop_to_length(ramp, 3000, rng, SR)
    assert np.max(np.abs(np.diff(looped))) < 0.2  # the 2.0 jump at the seam is faded


def test_int16_clips_are_scaled() -> None:
    rng = np.random.default_rng(7)
    clip = (speechlike(SR, rng) * 32767).astype(np.int16)
    seg = mixing.speech_segment([clip], SR // 2, rng, SR)
    assert seg.dtype == np.float32 and np.max(np.abs(seg)) <= 1.0
    assert np.max(np.abs(seg)) > 0.01


def dataset(**kwargs) -> mixing.MixtureDataset:
    rng = np.random.default_rng(8)
    speech = [speechlike(int(rng.integers(SR // 2, 3 * SR)), rng) for _ in range(5)]
    by_type = {"white": noises(SR, rng)[:1], "hum": noises(SR // 3, rng)[2:]}
    config = mixing.MixConfig(segment_seconds=1.0, speech_level_dbfs=(-10, 6), **kwargs)
    return mixing.MixtureDataset(speech, by_type, config, length=16, seed=3)


def test_dataset_is_deterministic_per_index_and_epoch() -> None:
    ds = dataset()
    a_noisy, a_clean = ds[5]
    b_noisy, b_clean = ds[5]
    np.testing.assert_array_equal(a_noisy, b_noisy)
    np.testing.assert_array_equal(a_clean, b_clean)
    assert not np.array_equal(ds[4][0], a_noisy)
    ds.set_epoch(1)
    assert not np.array_equal(ds[5][0], a_noisy)
    for i in range(len(ds)):
        noisy, clean = ds[i]
        assert noisy.shape == clean.shape == (SR,)
        assert noisy.dtype == clean.dtype == np.float32
        assert max(np.max(np.abs(noisy)), np.max(np.abs(clean))) <= 0.99 + 1e-6
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_dataloader_workers_match_direct_indexing() -> None:
    torch = pytest.importorskip("torch")
    ds = dataset()
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    noisy, clean = next(iter(loader))
    assert noisy.shape == (4, SR)
    np.testing.assert_array_equal(noisy[2].numpy(), ds[2][0])
    np.testing.assert_array_equal(clean[3].numpy(), ds[3][1])


def augmented(seed: int, **kwargs) -> tuple[np.ndarray, np.ndarray, dict, list]:
    rng = np.random.default_rng(seed)
    speech = {"a": [speechlike(2 * SR, rng)], "b": [speechlike(3 * SR, rng)]}
    white = [rng.standard_normal(SR).astype(np.float32) * 0.1]
    config = mixing.MixConfig(segment_seconds=1.0, clean_prob=0.0, high_snr_prob=0.0, **kwargs)
    rirs = augment.make_rirs(2, SR, rng) if kwargs.get("reverb_prob") else []
    noisy, clean, info = mixing.make_mixture(speech, {"white": white}, config, rng, rirs)
    return noisy, clean, info, rirs


def test_reverb_target_keeps_the_direct_path_aligned() -> None:
    noisy, clean, info, rirs = augmented(11, reverb_prob=1.0, snr_range=(40.0, 40.0))
    assert info["reverb"] and all(abs(r[0]) == pytest.approx(1.0) for r in rirs)
    # the target is the early part of the same room: aligned with the input, no lag
    lag = int(np.argmax(np.correlate(noisy, clean, "full"))) - (len(clean) - 1)
    assert lag == 0
    # the input carries the late tail the target lacks
    assert np.sum((noisy - clean) ** 2) > 1e-3 * np.sum(clean**2)


def test_clipping_touches_the_input_only() -> None:
    noisy, clean, info, _ = augmented(12, clip_prob=1.0)
    assert info["clipped"]
    flat = np.mean(np.abs(noisy) >= np.max(np.abs(noisy)) - 1e-7)
    assert flat > 0.005  # a plateau at the clip level
    assert np.mean(np.abs(clean) >= np.max(np.abs(clean)) - 1e-7) < 0.005  # target unclipped


def test_speech_level_range_is_the_active_speech_level() -> None:
    for seed in range(5):
        _, clean, info, _ = augmented(20 + seed, speech_level_dbfs=(-40.0, -10.0))
        level = 10 * np.log10(mixing.active_power(clean, SR))
        assert level == pytest.approx(info["level_dbfs"], abs=0.01) or level < info["level_dbfs"]


def test_clean_prob_gives_clean_input() -> None:
    rng = np.random.default_rng(13)
    speech = [speechlike(2 * SR, rng)]
    white = [rng.standard_normal(SR).astype(np.float32) * 0.1]
    config = mixing.MixConfig(segment_seconds=1.0, clean_prob=1.0)
    noisy, clean, info = mixing.make_mixture(speech, {"white": white}, config, rng)
    assert np.isinf(info["snr_db"])
    np.testing.assert_allclose(noisy, clean, atol=1e-7)


def test_speed_perturbation_changes_pitch_and_keeps_length() -> None:
    rng = np.random.default_rng(14)
    t = np.arange(3 * SR) / SR
    tone = [(0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)]
    white = [np.zeros(SR, np.float32) + 1e-3]
    config = mixing.MixConfig(segment_seconds=1.0, speed_prob=1.0, clean_prob=1.0)
    _, clean, info = mixing.make_mixture(tone, {"white": white}, config, rng)
    assert len(clean) == SR and info["speed"] != 1.0
    peak_hz = np.argmax(np.abs(np.fft.rfft(clean))) * SR / len(clean)
    assert peak_hz == pytest.approx(500 * info["speed"], abs=3)
