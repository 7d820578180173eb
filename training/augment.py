"""What a headphone microphone does to speech and noise, as training augmentation.

Each function takes float32 audio and the mixture's generator and returns float32 audio of the
same length. `make_mixture` (mixing.py) decides with which probability each is applied:

- room reverberation: simulated room impulse responses (pyroomacoustics image method for the
  early reflections, an exponentially decaying noise tail for the late field), applied to
  speech and to noise with different rooms. The speech *target* keeps the direct path and the
  first 50 ms of reflections only, so the model learns to leave a room's colour alone and to
  lower its late tail (the convention of the DNS Challenge);
- microphone colour: a random spectral tilt and one peaking resonance, applied to the whole
  mixture and to the target alike (the model must stay transparent to it, not undo it);
- speed/pitch perturbation of speech (resampling by 0.9 ... 1.1);
- clipping of the microphone signal (the target stays unclipped);
- voice processing that belongs to the talker, not to the noise: a radio or telephone band
  and a soft saturation, applied to the speech *and its target* (a voice from a radio, a
  game, a phone line or a cheap recorder is still speech to keep).
"""

from __future__ import annotations

import numpy as np

from hushkit.audiofile import resample

EARLY_SECONDS = 0.05  # direct path + early reflections kept in the reverberant target
RIR_SECONDS = 1.0  # longest impulse response kept


def make_rirs(count: int, sr: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` room impulse responses (RT60 0.15-0.9 s), direct path at index 0, unit energy
    of the direct path."""
    import pyroomacoustics as pra

    rirs = []
    while len(rirs) < count:
        rt60 = float(rng.uniform(0.15, 0.9))
        dims = [rng.uniform(3.0, 12.0), rng.uniform(2.5, 9.0), rng.uniform(2.4, 4.5)]
        try:
            absorption, _ = pra.inverse_sabine(rt60, dims)
        except ValueError:  # a large room cannot be made that dry: draw another
            continue
        # The image method up to order 10 gives the early reflections in a few milliseconds;
        # the late field is a noise tail decaying 60 dB in rt60, spliced in from 30 ms.
        room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(absorption), max_order=10)
        src = [rng.uniform(0.3, d - 0.3) for d in dims]
        mic = [rng.uniform(0.3, d - 0.3) for d in dims]
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        early = np.asarray(room.rir[0][0], np.float64)
        direct = int(np.argmax(np.abs(early)))
        early = early[direct:]
        n = int(min(RIR_SECONDS, 1.2 * rt60) * sr)
        t = np.arange(n) / sr
        tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
        start = int(0.03 * sr)
        tail[:start] = 0.0
        ref = early[start : start + int(0.01 * sr)]
        tail_level = np.sqrt(np.mean(ref**2)) if len(ref) else 1e-3
        tail *= tail_level / max(np.sqrt(np.mean(tail[start : start + int(0.01 * sr)] ** 2)), 1e-12)
        rir = tail
        m = min(len(early), n)
        rir[:m] += early[:m]
        rirs.append((rir / max(abs(rir[0]), 1e-9)).astype(np.float32))
    return rirs


def reverberate(x: np.ndarray, rir: np.ndarray, sr: int, early_only: bool = False) -> np.ndarray:
    """`x` convolved with `rir` (or with its first EARLY_SECONDS), same length and alignment."""
    from scipy.signal import fftconvolve

    h = rir[: int(EARLY_SECONDS * sr)] if early_only else rir
    return fftconvolve(x, h)[: len(x)].astype(np.float32)


def mic_colour(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Second-order sections of a random microphone colour: a tilt (a first-order shelf at
    1 kHz, -6 ... +6 dB) and a peaking resonance (500 Hz - 6 kHz, -6 ... +8 dB)."""
    gain_db = rng.uniform(-6.0, 6.0)
    sections = [_shelf(1000.0, gain_db, sr), _peak(rng.uniform(500, 6000), rng.uniform(-6, 8),
                                                   rng.uniform(0.7, 3.0), sr)]  # fmt: skip
    return np.vstack(sections)


def _shelf(f0: float, gain_db: float, sr: int) -> np.ndarray:
    # RBJ high shelf, slope 1.
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / sr
    alpha = np.sin(w) / 2 * np.sqrt(2)
    cw, sa = np.cos(w), 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw),
         a * ((a + 1) + (a - 1) * cw - sa)]  # fmt: skip
    den = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa]
    return np.array(b + den) / den[0]


def _peak(f0: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / sr
    alpha = np.sin(w) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w), 1 - alpha / a]
    return np.array(b + den) / den[0]


def apply_sos(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    from scipy.signal import sosfilt

    return sosfilt(sos, x).astype(np.float32)


# Speed factors as small integer ratios, so resampling is exact and cheap.
SPEED_RATIOS = ((10, 9), (20, 19), (25, 24), (24, 25), (19, 20), (9, 10), (11, 10), (10, 11))


def change_speed(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """`x` resampled by up/down (one of SPEED_RATIOS): played back at the same rate, speech
    runs down/up times as fast and its pitch moves with it. The caller draws the ratio, since
    it needs it to cut a segment of the right length first."""
    return resample(x, down, up)


def clip(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hard clipping at 30-90 % of the peak (an overdriven microphone preamp)."""
    limit = float(np.max(np.abs(x))) * rng.uniform(0.3, 0.9)
    return np.clip(x, -limit, limit).astype(np.float32)


def voice_fx(x: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """A processed voice: a band (low cut 100-400 Hz, high cut 2.8-7 kHz) and a soft
    saturation (tanh with 0-20 dB of drive), level restored."""
    from scipy.signal import butter, sosfilt

    lo, hi = rng.uniform(100, 400), rng.uniform(2800, min(7000, sr / 2 - 200))
    y = sosfilt(butter(4, (lo, hi), btype="band", fs=sr, output="sos"), x)
    peak = max(float(np.max(np.abs(y))), 1e-9)
    drive = 10 ** (rng.uniform(0, 20) / 20)
    y = np.tanh(drive * y / peak) * peak / np.tanh(drive)
    return y.astype(np.float32)
