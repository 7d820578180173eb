"""Training material on disk: audio I/O, screening, group splits, and loaders for the trainer.

Layout of a prepared data directory (`hushkit data --out DIR`):

    DIR/speech/{train,val,test}/<source>/*.wav   16 kHz mono 16-bit clean speech
    DIR/noise/{train,val,test}/<source>/*.wav    16 kHz mono 16-bit noise
    DIR/valset/, DIR/testset/                    fixed mixtures: clean/*.wav, noisy/*.wav,
                                                 meta.json
    DIR/manifest.json                            every clip, every dropped clip and why
    DIR/cache/                                   downloaded .debs, unpacked packages, renders

Splits are made per source over *groups* (speaker, scene or source file; see sources.py), so
no validation or test recording is ever in training. Long files are cut into segments after
the split, so the segments of one file share its split.
"""

from __future__ import annotations

import functools
import json
import math
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from hushkit import audiofile
from hushkit.errors import InputError
from hushkit.training.dsp import SAMPLE_RATE
from hushkit.training.mixing import MixConfig, MixtureDataset
from hushkit.training.sources import DataError

__all__ = [
    "DataError",
    "MixConfig",
    "MixtureDataset",
    "assign_splits",
    "load_entries",
    "load_noise_by_type",
    "load_split",
    "open_mixtures",
    "read_audio",
    "screen",
]

SPLITS = ("train", "val", "test", "heldout")  # heldout: whole sources never trained on
SPLIT_FRACTIONS = {"test": 0.1, "val": 0.1}  # of each source's duration; the rest trains

# Screening. Frame energies over 20 ms frames; the SNR estimate is the 95th percentile frame
# energy (speech) over the 10th (the floor between words and at the ends), in dB. Clean
# studio speech measures > 40 dB; read speech with audible hiss or room noise 15-25 dB.
SCREEN_FRAME_SECONDS = 0.02
MIN_SPEECH_SECONDS = 1.0
MIN_SPEECH_SNR_DB = 25.0
MIN_SPEECH_RATE = 16000  # narrower-band recordings would teach the model that highs are noise
MAX_CLIPPED_FRACTION = 1e-3  # samples at full scale
MIN_NOISE_SECONDS = 0.5
MIN_NOISE_RMS_DBFS = -60.0

# Long recordings are cut into pieces of at most this length (after the split).
MAX_SEGMENT_SECONDS = {"speech": 12.0, "babble": 12.0, "noise": 30.0}


# ---------------------------------------------------------------------------------------------
# Audio I/O


def read_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, dict]:
    """Decode `path` to mono float32 at `sample_rate`.

    Channels are averaged. Formats libsndfile cannot read are converted with sox first.
    Returns (audio, {"native_rate", "channels"}); raises DataError if it cannot be read or
    holds non-finite samples.
    """
    try:
        data, rate = audiofile.decode(path)
    except InputError as exc:
        raise DataError(str(exc)) from None
    if not np.isfinite(data).all():
        raise DataError(f"{path}: NaN or Inf samples (a corrupt float WAV?)")
    info = {"native_rate": rate, "channels": int(data.shape[1])}
    x = audiofile.resample(data.mean(axis=1), rate, sample_rate)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0.999:  # resampling overshoot; keep 16-bit output from wrapping
        x *= 0.999 / peak
    return x, info


def write_wav(path: Path, x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(x, -1.0, 32767 / 32768), sample_rate, subtype="PCM_16")


def rms_dbfs(x: np.ndarray) -> float:
    if len(x) == 0:
        return -120.0
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-12))


# ---------------------------------------------------------------------------------------------
# Screening


def frame_energies_db(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    frame = int(SCREEN_FRAME_SECONDS * sample_rate)
    n = len(x) // frame
    if n == 0:
        return np.array([rms_dbfs(x)])
    frames = np.asarray(x[: n * frame], np.float64).reshape(n, frame)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def estimate_snr_db(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Speech level over noise floor: 95th minus 10th percentile of 20 ms frame energy, dB."""
    e = frame_energies_db(x, sample_rate)
    return float(np.percentile(e, 95) - np.percentile(e, 10))


def screen(
    x: np.ndarray,
    kind: str,
    native_rate: int,
    sample_rate: int = SAMPLE_RATE,
    min_speech_snr_db: float = MIN_SPEECH_SNR_DB,
) -> tuple[str | None, dict]:
    """(reason to drop or None, stats). Reasons: too_short, narrowband, noisy, clipped, silent."""
    duration = len(x) / sample_rate
    stats = {
        "duration_s": round(duration, 3),
        "rms_dbfs": round(rms_dbfs(x), 2),
        "snr_est_db": round(estimate_snr_db(x, sample_rate), 2),
        "clipped": round(float(np.mean(np.abs(x) >= 0.998)) if len(x) else 0.0, 5),
    }
    if kind == "speech":
        if duration < MIN_SPEECH_SECONDS:
            return "too_short", stats
        if native_rate < MIN_SPEECH_RATE:
            return "narrowband", stats
        if stats["clipped"] > MAX_CLIPPED_FRACTION:
            return "clipped", stats
        if stats["snr_est_db"] < min_speech_snr_db:
            return "noisy", stats
    else:
        if duration < MIN_NOISE_SECONDS:
            return "too_short", stats
        if stats["rms_dbfs"] < MIN_NOISE_RMS_DBFS:
            return "silent", stats
    return None, stats


# ---------------------------------------------------------------------------------------------
# Splits and segments


def assign_splits(durations: dict[str, float], seed: int, source: str) -> dict[str, str]:
    """Map each group of one source to a split.

    Groups are shuffled by (seed, source); test then val take groups until each holds its
    fraction of the source's duration (at least one group each), the rest train. A source with
    fewer than three groups cannot be held out and goes to train entirely.
    """
    groups = sorted(durations)
    if len(groups) < 3:
        return dict.fromkeys(groups, "train")
    rng = np.random.default_rng([seed, zlib.crc32(source.encode())])
    order = [groups[i] for i in rng.permutation(len(groups))]
    total = sum(durations.values())
    result: dict[str, str] = {}
    pos = 0
    for split in ("test", "val"):
        taken = 0.0
        while pos < len(order) - 1 and (taken == 0.0 or taken < SPLIT_FRACTIONS[split] * total):
            if split == "test" and pos >= len(order) - 2:
                break  # leave at least one group each for val and train
            result[order[pos]] = split
            taken += max(durations[order[pos]], 1e-9)
            pos += 1
    for g in order[pos:]:
        result[g] = "train"
    return result


def segments(x: np.ndarray, max_seconds: float, sample_rate: int = SAMPLE_RATE) -> list:
    """Cut `x` into equal pieces no longer than `max_seconds`."""
    n = max(1, math.ceil(len(x) / (max_seconds * sample_rate)))
    edges = np.linspace(0, len(x), n + 1).astype(int)
    return [x[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


# ---------------------------------------------------------------------------------------------
# Loading a prepared directory


def read_manifest(data_dir: str | Path) -> dict:
    path = Path(data_dir) / "manifest.json"
    if not path.exists():
        raise DataError(f"{path} not found: run `hushkit data --out {data_dir}` first")
    return json.loads(path.read_text())


def load_entries(data_dir: str | Path, kind: str, split: str) -> list[dict]:
    """Manifest entries of one kind ("speech"/"noise") and split."""
    clips = read_manifest(data_dir)["clips"]
    return [c for c in clips if c["kind"] == kind and c["split"] == split]


@functools.lru_cache(maxsize=16)
def _load(
    data_dir: str, kind: str, split: str
) -> tuple[tuple[np.ndarray, ...], tuple[str, ...], tuple[str, ...]]:
    entries = load_entries(data_dir, kind, split)
    audio = tuple(audiofile.decode(Path(data_dir) / e["path"], "int16")[0][:, 0] for e in entries)
    return audio, tuple(e["category"] for e in entries), tuple(e["source"] for e in entries)


def load_split(data_dir: str | Path, kind: str, split: str) -> list[np.ndarray]:
    """All clips of a kind and split as int16 arrays at 16 kHz (cached per process)."""
    return list(_load(str(Path(data_dir).resolve()), kind, split)[0])


def _grouped(data_dir: str | Path, kind: str, split: str, by: str) -> dict[str, list[np.ndarray]]:
    """The clips of a kind and split, grouped by their "category" or "source", in manifest order."""
    audio, categories, sources = _load(str(Path(data_dir).resolve()), kind, split)
    groups: dict[str, list[np.ndarray]] = {}
    for x, key in zip(audio, {"category": categories, "source": sources}[by], strict=True):
        groups.setdefault(key, []).append(x)
    return groups


def load_speech_by_source(data_dir: str | Path, split: str) -> dict[str, list[np.ndarray]]:
    """Speech clips of a split, grouped by source (package, "tts", a user folder ...)."""
    return _grouped(data_dir, "speech", split, by="source")


def load_noise_by_type(data_dir: str | Path, split: str) -> dict[str, list[np.ndarray]]:
    """Noise clips of a split, grouped by type ("ambient", "music", "pink", "babble" ...)."""
    return _grouped(data_dir, "noise", split, by="category")


def open_mixtures(
    data_dir: str | Path,
    split: str = "train",
    config: MixConfig | None = None,
    length: int = 1000,
    seed: int = 0,
    noise_types: Sequence[str] | None = None,
    exclude_speech_sources: Sequence[str] = (),
) -> MixtureDataset:
    """A `MixtureDataset` over a prepared directory's split (optionally only some noise types,
    and without the speech sources matching the shell patterns `exclude_speech_sources`).

    Speech is drawn source by source (see `mixing.make_mixture`)."""
    import fnmatch

    speech = {
        source: clips
        for source, clips in load_speech_by_source(data_dir, split).items()
        if not any(fnmatch.fnmatchcase(source, pat) for pat in exclude_speech_sources)
    }
    noise = load_noise_by_type(data_dir, split)
    if noise_types is not None:
        noise = {k: v for k, v in noise.items() if k in noise_types}
    if not speech or not noise:
        raise DataError(f"{data_dir}: no speech or no noise in split {split!r}")
    return MixtureDataset(speech, noise, config, length, seed)
