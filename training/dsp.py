"""The one definition of hushkit's signal processing constants.

Everything that frames audio imports this module: the trainer's STFT, the quantizer's
calibration, the exporter (which writes the firmware's C config header from it) and the host
tools. Change a number here and every stage follows; nothing else may restate these values.

Framing: a sqrt-Hann analysis window and the same window for synthesis, 50 % overlap, so
analysis x synthesis is a periodic Hann whose hop-shifted copies sum to exactly 1
(perfect reconstruction). The algorithmic latency is one window: a hop must be complete
before it is processed and the output of a frame is finished one window after its first sample.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hushkit import contract
from hushkit.contract import LOG_POWER_EPS  # noqa: F401  (the feature's epsilon, re-exported)

SAMPLE_RATE = 16000


@dataclasses.dataclass(frozen=True)
class DSPConfig:
    """Framing of one model configuration. All sizes in samples at `sample_rate`."""

    name: str
    sample_rate: int = SAMPLE_RATE
    n_fft: int = 256  # 16 ms window at 16 kHz
    hop: int = 128  # 8 ms hop: the firmware processes one hop per model invocation

    def __post_init__(self) -> None:
        if self.n_fft & (self.n_fft - 1):
            raise ValueError(f"n_fft must be a power of two, got {self.n_fft}")
        if self.hop * 2 != self.n_fft:
            raise ValueError("the sqrt-Hann framing needs hop = n_fft / 2 (50 % overlap)")

    @property
    def n_bins(self) -> int:
        """Real-FFT bins, DC to Nyquist."""
        return self.n_fft // 2 + 1

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency: one analysis window."""
        return 1000.0 * self.n_fft / self.sample_rate

    @property
    def hop_ms(self) -> float:
        return 1000.0 * self.hop / self.sample_rate

    @property
    def hops_per_second(self) -> float:
        return self.sample_rate / self.hop

    @property
    def output_delay(self) -> int:
        """Samples by which the streamed output lags the input (the OLA tail still pending)."""
        return self.n_fft - self.hop

    def window(self) -> np.ndarray:
        """sqrt of the periodic Hann window, float32, used for analysis and for synthesis."""
        n = np.arange(self.n_fft, dtype=np.float64)
        hann = 0.5 - 0.5 * np.cos(2.0 * math.pi * n / self.n_fft)
        return np.sqrt(hann).astype(np.float32)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"n_bins": self.n_bins, "window": "sqrt_hann"}


def floor_shifts(cfg: DSPConfig) -> tuple[int, int]:
    """(fall, rise) of the floor feature: the floor moves 2**-fall of the way down, 2**-rise
    of the way up per hop (`hushkit.contract`)."""
    return contract.floor_shifts(cfg.hop)


DEFAULT = DSPConfig(name="default", n_fft=256, hop=128)  # 16 ms latency
LOW_LATENCY = DSPConfig(name="lowlatency", n_fft=128, hop=64)  # 8 ms latency

CONFIGS = {c.name: c for c in (DEFAULT, LOW_LATENCY)}


def get(name_or_cfg: str | DSPConfig | dict) -> DSPConfig:
    """Resolve a DSP configuration by name, or rebuild one stored in a checkpoint."""
    if isinstance(name_or_cfg, DSPConfig):
        return name_or_cfg
    if isinstance(name_or_cfg, dict):
        fields = {f.name for f in dataclasses.fields(DSPConfig)}
        return DSPConfig(**{k: v for k, v in name_or_cfg.items() if k in fields})
    try:
        return CONFIGS[name_or_cfg]
    except KeyError:
        raise ValueError(
            f"unknown DSP configuration {name_or_cfg!r}; known: {', '.join(CONFIGS)}"
        ) from None


def erb_interpolation(n_bins: int, n_bands: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_bins, n_bands) linear interpolation from band values to STFT bins.

    Band centres are spaced evenly on the ERB-rate scale (Glasberg & Moore) from 0 Hz to
    Nyquist, at least one bin apart, so low bands are one bin wide and high bands wide, as
    hearing resolves them. Each bin is a hat-function blend of its two neighbouring centres:
    every row sums to 1, so a constant added to all bands adds the same constant to every bin.
    """
    if not 2 <= n_bands <= n_bins:
        raise ValueError(f"n_bands must be in 2 ... n_bins ({n_bins}), got {n_bands}")
    nyquist = sample_rate / 2
    erb_max = 21.4 * np.log10(1 + 0.00437 * nyquist)
    hz = (10 ** (np.linspace(0, erb_max, n_bands) / 21.4) - 1) / 0.00437
    centres = np.round(hz / nyquist * (n_bins - 1)).astype(int)
    for i in range(1, n_bands):  # at least one bin apart, from the bottom ...
        centres[i] = max(centres[i], centres[i - 1] + 1)
    if centres[-1] > n_bins - 1:
        raise ValueError(f"{n_bands} bands do not fit {n_bins} bins at one bin apart")
    centres[-1] = n_bins - 1
    out = np.zeros((n_bins, n_bands))
    for b in range(n_bands - 1):
        lo, hi = centres[b], centres[b + 1]
        t = (np.arange(lo, hi + 1) - lo) / (hi - lo)
        out[lo : hi + 1, b] = 1 - t  # its row lo already holds 1 from the segment below
        out[lo : hi + 1, b + 1] = t
    return out
