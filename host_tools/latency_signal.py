"""Test signals and delay estimation by cross-correlation (shared by every latency path).

The same code measures the emulator (the device's own tapes), PROCESS over the link and a
real board by acoustic or electrical loopback through a sound card (`sounddevice`):

    x = test_signal(sample_rate)                  # a maximum-length sequence
    est = estimate_delay(x, y, max_lag)           # y = what came back
    est.samples, est.subsample, est.confidence

The delay is the lag of the cross-correlation peak; the sub-sample estimate fits a parabola
through the peak and its two neighbours; the confidence is the normalised correlation
coefficient at the peak (1.0 = the output is a scaled, delayed copy of the input), the figure
Android's loopback analyzer reports.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hushkit.errors import HushkitError

MLS_BITS = 12  # 4095 samples: 256 ms at 16 kHz, a peak 36 dB above the sidelobes
MLS_AMPLITUDE = 0.25  # of full scale: leaves the model and the converters headroom


@dataclasses.dataclass(frozen=True)
class DelayEstimate:
    samples: int  # lag of the correlation peak
    subsample: float  # parabolic refinement of it
    confidence: float  # normalised correlation at the peak, 0..1
    lags: np.ndarray  # for plots: the lags searched ...
    correlation: np.ndarray  # ... and the normalised correlation at each

    def as_dict(self) -> dict:
        return {
            "samples": self.samples,
            "subsample": round(self.subsample, 4),
            "confidence": round(self.confidence, 4),
        }


def mls(bits: int = MLS_BITS, amplitude: float = MLS_AMPLITUDE) -> np.ndarray:
    """A maximum-length sequence of +-amplitude, float64, 2**bits - 1 samples."""
    from scipy.signal import max_len_seq

    seq, _ = max_len_seq(bits)
    return amplitude * (2.0 * seq.astype(np.float64) - 1.0)


def padded_signal(x: np.ndarray, tail: int, multiple: int) -> np.ndarray:
    """x followed by at least `tail` zeros, the total a multiple of `multiple` samples."""
    n = x.size + tail
    n += -n % multiple
    out = np.zeros(n, np.float64)
    out[: x.size] = x
    return out


def estimate_delay(x: np.ndarray, y: np.ndarray, max_lag: int) -> DelayEstimate:
    """Delay of y relative to x (0 <= delay <= max_lag), by cross-correlation.

    x is the signal sent (zero outside its first samples), y what came back, as long as x."""
    from scipy.signal import correlate

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.ndim != 1 or y.ndim != 1 or y.size < x.size:
        raise ValueError("x and y must be 1-D and y at least as long as x")
    max_lag = int(min(max_lag, y.size - 1))
    full = correlate(y, x, mode="full", method="fft")  # full[x.size - 1 + k] = sum x[n] y[n+k]
    lags = np.arange(max_lag + 1)
    raw = full[x.size - 1 + lags]
    # Normalise each lag by the energy of x and of the part of y it overlaps.
    y_energy = np.concatenate([[0.0], np.cumsum(y * y)])
    x_energy = float(np.sum(x * x))
    overlap = np.minimum(x.size, y.size - lags)
    window = y_energy[lags + overlap] - y_energy[lags]
    norm = np.sqrt(np.maximum(x_energy * window, 1e-30))
    corr = raw / norm
    k = int(np.argmax(corr))
    sub = float(k)
    if 0 < k < max_lag:
        a, b, c = corr[k - 1], corr[k], corr[k + 1]
        denom = a - 2.0 * b + c
        if denom < 0.0:
            sub = k + 0.5 * (a - c) / denom
    return DelayEstimate(k, sub, float(max(0.0, min(1.0, corr[k]))), lags, corr)


def percentiles(values: np.ndarray, points: tuple[int, ...] = (50, 90, 99)) -> dict:
    values = np.asarray(values, np.float64)
    out = {f"p{q}": float(np.percentile(values, q)) for q in points}
    return {"min": float(values.min()), "mean": float(values.mean()), **out,
            "max": float(values.max())}  # fmt: skip


def loopback_record(x: np.ndarray, sample_rate: int, device: str | int | None = None) -> np.ndarray:
    """Play x on a sound card output and record its input at the same time (`sounddevice`).

    Wire the card's output to the board's microphone input (electrically, or a speaker in
    front of the microphone) and the board's output back to the card's input."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # OSError: PortAudio missing
        raise HushkitError(f"loopback needs the sounddevice package and PortAudio ({exc})") from exc
    rec = sd.playrec(x.astype(np.float32), samplerate=sample_rate, channels=1, device=device,
                     blocking=True)  # fmt: skip
    return np.asarray(rec, np.float64).reshape(-1)
