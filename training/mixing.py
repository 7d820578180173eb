"""On-the-fly mixing of clean speech and noise for training, and the SNR definition.

SNR here is *active-speech* SNR: the speech power is the mean power of the 20 ms frames that
lie within 40 dB of the loudest frame (pauses between words do not count), the noise power is
its mean power over the whole segment. `mix_at_snr` hits the requested value exactly under
that definition; level randomisation and the clipping guard scale speech and noise by one
common gain, so they never change it.

`MixtureDataset` is a map-style dataset usable by `torch.utils.data.DataLoader` without
importing torch here: item `i` of epoch `e` is drawn from a generator seeded with
(seed, e, i), so results do not depend on the number of workers, and a `DistributedSampler`
shards the indices across ranks with no overlap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

FRAME_SECONDS = 0.02  # frame for the active-speech measure
ACTIVE_RANGE_DB = 40.0  # frames quieter than the loudest by more than this are pauses
LOOP_FADE_SECONDS = 0.01  # crossfade where a short noise is looped, so the loop does not click


def as_float(x: np.ndarray) -> np.ndarray:
    """float32 audio in [-1, 1); int16 clips (as stored on disk and cached) are scaled."""
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float32) / 32768.0
    return np.asarray(x, dtype=np.float32)


def active_power(speech: np.ndarray, sample_rate: int = 16000) -> float:
    """Mean power of the active frames of `speech` (see the module docstring)."""
    x = np.asarray(speech, dtype=np.float64)
    frame = max(1, int(FRAME_SECONDS * sample_rate))
    n = len(x) // frame
    if n == 0:
        return float(np.mean(x**2)) if len(x) else 0.0
    powers = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    loudest = float(powers.max())
    if loudest <= 0.0:
        return 0.0
    return float(np.mean(powers[powers >= loudest * 10 ** (-ACTIVE_RANGE_DB / 10)]))


def snr_db(speech: np.ndarray, noise: np.ndarray, sample_rate: int = 16000) -> float:
    """Active-speech SNR of a (speech, noise) pair, in dB."""
    noise_power = float(np.mean(np.asarray(noise, dtype=np.float64) ** 2))
    return 10 * np.log10(active_power(speech, sample_rate) / noise_power)


def mix_at_snr(
    speech: np.ndarray, noise: np.ndarray, snr: float, sample_rate: int = 16000
) -> tuple[np.ndarray, np.ndarray]:
    """Scale `noise` so that the active-speech SNR is exactly `snr` dB.

    Returns (noisy = speech + scaled noise, scaled noise), float32, same length as `speech`.
    """
    if len(noise) != len(speech):
        raise ValueError(f"speech has {len(speech)} samples but noise {len(noise)}")
    speech64 = np.asarray(speech, dtype=np.float64)
    noise64 = np.asarray(noise, dtype=np.float64)
    p_speech = active_power(speech64, sample_rate)
    p_noise = float(np.mean(noise64**2))
    if p_speech <= 0.0 or p_noise <= 0.0:
        raise ValueError("cannot set an SNR with silent speech or silent noise")
    scaled = noise64 * np.sqrt(p_speech / (p_noise * 10 ** (snr / 10)))
    return (speech64 + scaled).astype(np.float32), scaled.astype(np.float32)


def set_level(
    noisy: np.ndarray,
    clean: np.ndarray,
    level_dbfs: float,
    peak_limit: float = 0.99,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Scale noisy and clean by one gain so the noisy RMS is `level_dbfs`, unless that would
    push either peak over `peak_limit` (then the gain stops there). Returns (noisy, clean, gain).
    """
    rms = float(np.sqrt(np.mean(np.asarray(noisy, dtype=np.float64) ** 2)))
    gain = 10 ** (level_dbfs / 20) / max(rms, 1e-12)
    peak = max(float(np.max(np.abs(noisy))), float(np.max(np.abs(clean))), 1e-12)
    gain = min(gain, peak_limit / peak)
    return (noisy * gain).astype(np.float32), (clean * gain).astype(np.float32), gain


def low_pass(x: np.ndarray, cutoff_hz: float, sample_rate: int = 16000) -> np.ndarray:
    """8th-order Butterworth low-pass (causal, like a codec or a cheap microphone)."""
    from scipy.signal import butter, sosfilt

    sos = butter(8, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def loop_to_length(x: np.ndarray, n: int, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """`n` samples of `x` from a random offset, looping short clips with a short crossfade."""
    if len(x) >= n:
        start = int(rng.integers(0, len(x) - n + 1))
        return as_float(x[start : start + n]).copy()
    x = as_float(x)
    fade = min(int(LOOP_FADE_SECONDS * sample_rate), len(x) // 4)
    start = int(rng.integers(0, len(x)))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    out = x.copy()
    while len(out) < start + n + fade:
        if fade:
            seam = out[-fade:] * (1 - ramp) + x[:fade] * ramp
            out = np.concatenate([out[:-fade], seam, x[fade:]])
        else:
            out = np.concatenate([out, x])
    return out[start : start + n]


def speech_segment(
    clips: Sequence[np.ndarray],
    n: int,
    rng: np.random.Generator,
    sample_rate: int,
    max_gap_seconds: float = 0.3,
) -> np.ndarray:
    """`n` samples of speech: a random slice of one clip, or random clips joined by short gaps
    when a clip is shorter than the segment."""
    first = clips[int(rng.integers(len(clips)))]
    if len(first) >= n:
        return loop_to_length(first, n, rng, sample_rate)
    parts = [as_float(first)]
    total = len(first)
    while total < n:
        gap = np.zeros(int(rng.uniform(0.0, max_gap_seconds) * sample_rate), np.float32)
        clip = as_float(clips[int(rng.integers(len(clips)))])
        parts += [gap, clip]
        total += len(gap) + len(clip)
    joined = np.concatenate(parts)
    start = int(rng.integers(0, len(joined) - n + 1))
    return joined[start : start + n]


@dataclasses.dataclass
class MixConfig:
    """Knobs of training mixtures; ranges are inclusive (low, high) and drawn uniformly.

    The augmentations (augment.py) are applied with the given probabilities; set one to 0 to
    switch it off (the ablations in BENCHMARKS.md do exactly that).
    """

    sample_rate: int = 16000
    segment_seconds: float = 4.0
    snr_range: tuple[float, float] = (-5.0, 20.0)  # dB, active-speech SNR
    high_snr_prob: float = 0.1  # chance of an SNR from high_snr_range instead
    high_snr_range: tuple[float, float] = (20.0, 40.0)
    clean_prob: float = 0.05  # chance of no noise at all: the model must pass clean speech
    speech_level_dbfs: tuple[float, float] = (-40.0, -10.0)  # active speech level of the input
    band_limit_prob: float = 0.2  # chance of a low-pass on speech and noise alike
    band_limit_hz: tuple[float, float] = (3500.0, 7000.0)  # its cutoff
    reverb_prob: float = 0.0  # chance of room reverberation on the speech (and, apart, noise)
    eq_prob: float = 0.0  # chance of a random microphone colour on the whole mixture
    speed_prob: float = 0.0  # chance of a speed/pitch change of the speech
    clip_prob: float = 0.0  # chance of a clipped microphone signal
    voice_fx_prob: float = 0.0  # chance of a radio/phone-band, saturated voice (in the target)
    peak_limit: float = 0.99  # clipping guard on noisy and clean

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))


def pick_weighted(weights: Sequence[float], rng: np.random.Generator) -> int:
    p = np.asarray(weights, np.float64)
    return int(rng.choice(len(p), p=p / p.sum()))


def make_mixture(
    speech_clips: Sequence[np.ndarray] | dict[str, Sequence[np.ndarray]],
    noise_by_type: dict[str, Sequence[np.ndarray]],
    config: MixConfig,
    rng: np.random.Generator,
    rirs: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, np.ndarray, dict]:
    """One random (noisy, clean) pair, float32, with what was drawn (type, SNR, level ...).

    `speech_clips` may map source -> clips: a source is then drawn with weight sqrt(its
    duration), so a large source does not drown the small ones and a tiny one is not repeated
    to death. `rirs` are room impulse responses for the reverberation augmentation.
    """
    from hushkit.training import augment

    n = config.segment_samples
    sr = config.sample_rate
    info: dict = {}
    if isinstance(speech_clips, dict):
        names = sorted(speech_clips)
        weights = [np.sqrt(sum(len(c) for c in speech_clips[k])) for k in names]
        info["speech_source"] = names[pick_weighted(weights, rng)]
        speech_clips = speech_clips[info["speech_source"]]
    if rng.random() < config.speed_prob:
        up, down = augment.SPEED_RATIOS[int(rng.integers(len(augment.SPEED_RATIOS)))]
        raw = speech_segment(speech_clips, int(np.ceil(n * down / up)) + 1, rng, sr)
        clean = np.resize(augment.change_speed(raw, up, down), n)
        info["speed"] = down / up  # resampling by up/down slows speech by that factor
    else:
        clean = speech_segment(speech_clips, n, rng, sr)
    if config.voice_fx_prob and rng.random() < config.voice_fx_prob:  # no draw when off
        clean = augment.voice_fx(clean, rng, sr)
        info["voice_fx"] = True
    noise_type = sorted(noise_by_type)[int(rng.integers(len(noise_by_type)))]
    pool = noise_by_type[noise_type]
    noise = loop_to_length(pool[int(rng.integers(len(pool)))], n, rng, sr)
    target = clean
    if rirs and rng.random() < config.reverb_prob:
        rir = rirs[int(rng.integers(len(rirs)))]
        clean, target = (
            augment.reverberate(clean, rir, sr),
            augment.reverberate(clean, rir, sr, True),
        )
        noise = augment.reverberate(noise, rirs[int(rng.integers(len(rirs)))], sr)
        info["reverb"] = True
    cutoff = None
    if rng.random() < config.band_limit_prob:
        cutoff = float(rng.uniform(*config.band_limit_hz))
        clean, noise = low_pass(clean, cutoff, sr), low_pass(noise, cutoff, sr)
        target = low_pass(target, cutoff, sr)
    u = rng.random()
    snr = float(
        rng.uniform(*(config.high_snr_range if u < config.high_snr_prob else config.snr_range))
    )
    if rng.random() < config.clean_prob:
        snr = float("inf")
    if active_power(clean, sr) <= 0.0 or float(np.mean(noise**2)) <= 0.0:
        # A silent stretch (a pause longer than the segment): train on the noise alone.
        noisy = (clean + noise).astype(np.float32)
    elif np.isinf(snr):
        noisy = clean.astype(np.float32)
    else:
        noisy, _ = mix_at_snr(clean, noise, snr, sr)
    if rng.random() < config.eq_prob:
        sos = augment.mic_colour(rng, sr)
        noisy, target = augment.apply_sos(noisy, sos), augment.apply_sos(target, sos)
    level = float(rng.uniform(*config.speech_level_dbfs))
    speech_power = active_power(target, sr)
    if speech_power > 0.0:
        gain = 10 ** (level / 20) / np.sqrt(speech_power)
        peak = max(float(np.max(np.abs(noisy))), float(np.max(np.abs(target))), 1e-12)
        gain = min(gain, config.peak_limit / peak)
        noisy, target = (noisy * gain).astype(np.float32), (target * gain).astype(np.float32)
    else:
        noisy, target, _ = set_level(noisy, target, level, config.peak_limit)
    if rng.random() < config.clip_prob:
        noisy = augment.clip(noisy, rng)
        info["clipped"] = True
    info |= {"noise_type": noise_type, "snr_db": snr, "level_dbfs": level, "cutoff_hz": cutoff}
    return noisy, target, info


class MixtureDataset:
    """Map-style dataset of random mixtures: `ds[i]` -> (noisy, clean) float32 [samples].

    `length` items per epoch; call `set_epoch(e)` each epoch for fresh draws.
    """

    def __init__(
        self,
        speech: Sequence[np.ndarray] | dict[str, Sequence[np.ndarray]],
        noise_by_type: dict[str, Sequence[np.ndarray]],
        config: MixConfig | None = None,
        length: int = 1000,
        seed: int = 0,
        rir_count: int = 300,
    ) -> None:
        if not speech:
            raise ValueError("no speech clips to mix")
        noise_by_type = {k: v for k, v in noise_by_type.items() if len(v)}
        if not noise_by_type:
            raise ValueError("no noise clips to mix")
        self.speech = speech
        self.noise_by_type = noise_by_type
        self.config = config or MixConfig()
        self.length = length
        self.seed = seed
        self.epoch = 0
        self.rirs: list[np.ndarray] = []
        if self.config.reverb_prob > 0 and rir_count:
            from hushkit.training import augment

            rng = np.random.default_rng([seed, 0x5152])  # rooms depend on the seed alone
            self.rirs = augment.make_rirs(rir_count, self.config.sample_rate, rng)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        rng = self.rng(index)
        noisy, clean, _ = make_mixture(self.speech, self.noise_by_type, self.config, rng, self.rirs)
        return noisy, clean
