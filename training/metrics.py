"""Speech quality metrics for 16 kHz mono float audio.

Intrusive metrics compare an estimate with the clean reference:
    PESQ-WB   ITU-T P.862.2 wideband MOS-LQO, 1.04 .. 4.64 (`pesq` package)
    STOI      short-time objective intelligibility, 0 .. 1 (`pystoi`)
    SI-SDR    scale-invariant signal-to-distortion ratio in dB (numpy, defined below)
DNSMOS (P.835 SIG / BAK / OVRL, 1 .. 5) is non-intrusive: it scores the estimate alone with
Microsoft's DNSMOS ONNX models shipped in `speechmos`. It is optional; when `speechmos` or
`onnxruntime` is missing, or the model fails to run, it is left out with a note.

Every metric takes (reference, estimate), in that order, as `pesq` and `pystoi` do; the
differentiable SI-SDR of training (`hushkit.training.losses.si_sdr`) takes the same order and
is tested equal to this one.

Input rules (`check_pair`): both signals 1-D, finite, at 16 kHz. Lengths may differ by at most
`MAX_TRIM_SAMPLES` (a resampler or codec padding a few samples); the longer one then loses
its tail. A larger difference means the two files do not belong together and raises.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from hushkit.training.dsp import SAMPLE_RATE

# 20 ms at 16 kHz: enough for a resampler's or an encoder's padding, far less than any
# misplaced file.
MAX_TRIM_SAMPLES = 320

# Keeps the SI-SDR of a perfect estimate (zero error energy) finite: over 200 dB at any level.
_ENERGY_EPS = 1e-20

INTRUSIVE = ("pesq_wb", "stoi", "si_sdr")
DNSMOS_KEYS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")


def _as_mono(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{what} must be 1-D mono audio, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{what} must be float audio in [-1, 1], got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains NaN or infinity")
    return x.astype(np.float64)


def check_pair(
    ref: np.ndarray, est: np.ndarray, fs: int = SAMPLE_RATE
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (reference, estimate) pair and return both as float64 of equal length."""
    if fs != SAMPLE_RATE:
        raise ValueError(f"metrics are computed at {SAMPLE_RATE} Hz, got {fs} Hz; resample first")
    ref = _as_mono(ref, "reference")
    est = _as_mono(est, "estimate")
    diff = abs(len(ref) - len(est))
    if diff > MAX_TRIM_SAMPLES:
        raise ValueError(
            f"reference has {len(ref)} samples, estimate {len(est)}: they differ by more than "
            f"{MAX_TRIM_SAMPLES} samples, so they are not the same recording"
        )
    n = min(len(ref), len(est))
    return ref[:n], est[:n]


def si_sdr(ref: np.ndarray, est: np.ndarray, fs: int = SAMPLE_RATE) -> float:
    """Scale-invariant SDR in dB (Le Roux et al., "SDR - half-baked or well done?", 2019).

    Both signals are made zero-mean first, so a DC offset does not count as distortion.
    The reference is scaled by the least-squares gain alpha = <est, ref> / <ref, ref>; the
    target is alpha * ref and everything else in the estimate is error:
        SI-SDR = 10 log10(|alpha ref|^2 / |est - alpha ref|^2).
    Scaling the estimate by any non-zero factor leaves it unchanged. A silent reference has no
    defined SI-SDR and gives NaN.
    """
    ref, est = check_pair(ref, est, fs)
    ref = ref - ref.mean()
    est = est - est.mean()
    ref_energy = float(np.dot(ref, ref))
    if ref_energy <= _ENERGY_EPS:
        return math.nan
    alpha = float(np.dot(est, ref)) / ref_energy
    target = alpha * ref
    error = est - target
    return 10.0 * math.log10(
        (float(np.dot(target, target)) + _ENERGY_EPS) / (float(np.dot(error, error)) + _ENERGY_EPS)
    )


def pesq_wb(ref: np.ndarray, est: np.ndarray, fs: int = SAMPLE_RATE) -> float:
    """Wideband PESQ (MOS-LQO). NaN when PESQ finds no utterance in the reference."""
    from pesq import NoUtterancesError, pesq

    ref, est = check_pair(ref, est, fs)
    try:
        return float(pesq(fs, ref, est, mode="wb"))
    except NoUtterancesError:
        return math.nan


def stoi(ref: np.ndarray, est: np.ndarray, fs: int = SAMPLE_RATE) -> float:
    """Classic (not extended) STOI; pystoi resamples to its internal 10 kHz itself."""
    from pystoi import stoi as _stoi

    ref, est = check_pair(ref, est, fs)
    return float(_stoi(ref, est, fs, extended=False))


class Dnsmos:
    """DNSMOS P.835 scorer; `available` is False (and `note` says why) when it cannot run."""

    def __init__(self) -> None:
        self.note: str | None = None
        self._run: Any = None
        try:
            from speechmos import dnsmos
        except Exception as exc:  # any import failure only disables DNSMOS
            self.note = f"DNSMOS skipped: speechmos unavailable ({exc})"
            return
        self._run = dnsmos.run

    @property
    def available(self) -> bool:
        return self._run is not None

    def __call__(self, audio: np.ndarray, fs: int = SAMPLE_RATE) -> dict[str, float]:
        """SIG / BAK / OVRL of one clip, or NaNs once the model has failed (see `note`)."""
        if not self.available:
            return dict.fromkeys(DNSMOS_KEYS, math.nan)
        if fs != SAMPLE_RATE:
            raise ValueError(f"DNSMOS runs at {SAMPLE_RATE} Hz, got {fs} Hz")
        # The models expect samples in [-1, 1]; an enhancer may overshoot slightly.
        clip = np.clip(_as_mono(audio, "audio"), -1.0, 1.0).astype(np.float32)
        try:
            out = self._run(clip, fs)
        except Exception as exc:  # onnxruntime error types vary by version
            self.note = f"DNSMOS skipped: the model failed to run ({exc})"
            self._run = None
            return dict.fromkeys(DNSMOS_KEYS, math.nan)
        return {
            "dnsmos_sig": float(out["sig_mos"]),
            "dnsmos_bak": float(out["bak_mos"]),
            "dnsmos_ovrl": float(out["ovrl_mos"]),
        }


@dataclasses.dataclass
class Scorer:
    """Scores (reference, estimate) pairs and counts the clips PESQ could not score."""

    dnsmos: bool = True
    fs: int = SAMPLE_RATE
    pesq_no_utterance: int = 0
    _dnsmos: Dnsmos | None = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.dnsmos:
            self._dnsmos = Dnsmos()

    @property
    def metric_names(self) -> tuple[str, ...]:
        return INTRUSIVE + (DNSMOS_KEYS if self.dnsmos_available else ())

    @property
    def dnsmos_available(self) -> bool:
        return self._dnsmos is not None and self._dnsmos.available

    @property
    def notes(self) -> list[str]:
        notes = []
        if self._dnsmos is not None and self._dnsmos.note:
            notes.append(self._dnsmos.note)
        if self.pesq_no_utterance:
            notes.append(
                f"PESQ found no utterance in {self.pesq_no_utterance} clip(s): scored NaN and "
                "left out of the PESQ means"
            )
        return notes

    def __call__(self, ref: np.ndarray, est: np.ndarray) -> dict[str, float]:
        ref, est = check_pair(ref, est, self.fs)
        scores = {
            "pesq_wb": pesq_wb(ref, est, self.fs),
            "stoi": stoi(ref, est, self.fs),
            "si_sdr": si_sdr(ref, est, self.fs),
        }
        if math.isnan(scores["pesq_wb"]):
            self.pesq_no_utterance += 1
        if self.dnsmos_available:
            scores |= self._dnsmos(est, self.fs)
        return scores
