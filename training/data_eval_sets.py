"""The fixed evaluation mixtures `hushkit data` makes per split (val, test, held-out sources)."""

from __future__ import annotations

import json

import numpy as np

from hushkit.training import datasets as ds
from hushkit.training import mixing
from hushkit.training.data_writer import EVAL_SET_DIRS, PrepareOptions
from hushkit.training.sources import DataError

EVAL_SNRS_DB = (-5, 0, 5, 10, 15)
EVAL_SECONDS = (4.0, 8.0)
EVAL_LEVEL_DBFS = (-32.0, -18.0)  # noisy RMS of the fixed mixtures
EVAL_MIN_SOURCE_SECONDS = 60.0  # held-out speech a source needs to feature in the eval sets
HELDOUT_MIN_SOURCE_SECONDS = 15.0  # the held-out-source set keeps even its small sources


def eval_set(
    opts: PrepareOptions, held: list[tuple[dict, np.ndarray]], split: str, notes: list[str]
) -> dict:
    """Mixtures of this split's speech and noise at EVAL_SNRS_DB into OUT/<EVAL_SET_DIRS>."""
    from tqdm import tqdm

    name = EVAL_SET_DIRS[split]
    speech: dict[str, list] = {}
    noise: dict[str, list] = {}
    for entry, x in held:
        # speech is balanced over sources, noise over types
        if entry["kind"] == "speech":
            speech.setdefault(entry["source"], []).append((entry, x))
        elif entry["category"] != "keyboard":  # single key clicks: heard through "clatter"
            noise.setdefault(entry["category"], []).append((entry, x))
    if not speech or not noise:
        notes.append(f"{name} not made: no held-out {'speech' if not speech else 'noise'}")
        return {"clips": 0}
    sr = ds.SAMPLE_RATE
    meta = {}
    # A source with under a minute held out would repeat the same few clips over and over.
    seconds = {src: sum(len(x) for _, x in pool) / ds.SAMPLE_RATE for src, pool in speech.items()}
    min_seconds = EVAL_MIN_SOURCE_SECONDS if split != "heldout" else HELDOUT_MIN_SOURCE_SECONDS
    speech_sources = sorted(s for s in speech if seconds[s] >= min_seconds)
    speech_sources = speech_sources or sorted(speech)
    noise_types = sorted(noise)
    for i in tqdm(range(opts.sizes.eval_clips[split]), desc=name, unit="clip"):
        rng = np.random.default_rng([opts.seed, 1000 + ds.SPLITS.index(split), i])
        snr = EVAL_SNRS_DB[i % len(EVAL_SNRS_DB)]
        src = speech_sources[i % len(speech_sources)]
        n = int(rng.uniform(*EVAL_SECONDS) * sr)
        clean, used = _eval_speech(speech[src], n, rng)
        ntype = noise_types[(i // len(EVAL_SNRS_DB)) % len(noise_types)]
        noise_entry, noise_seg = _noise_segment(noise[ntype], n, rng)
        noisy, _ = mixing.mix_at_snr(clean, noise_seg, snr, sr)
        level = float(rng.uniform(*EVAL_LEVEL_DBFS))
        noisy, clean, _ = mixing.set_level(noisy, clean, level)
        clip = f"{split}_{i:03d}.wav"
        ds.write_wav(opts.out / name / "clean" / clip, clean)
        ds.write_wav(opts.out / name / "noisy" / clip, noisy)
        meta[clip] = {
            "snr_db": snr,
            "level_dbfs": round(level, 2),
            "duration_s": round(n / sr, 3),
            "speech_source": src,
            "speech_files": used,
            "noise_source": noise_entry["source"],
            "noise_type": ntype,
            "noise_file": noise_entry["path"],
        }
    (opts.out / name / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return {"clips": len(meta), "snrs_db": list(EVAL_SNRS_DB)}


def _pick(pool: list, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    return pool[int(rng.integers(len(pool)))]


def _noise_segment(pool: list, n: int, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """`n` samples of one clip of `pool` that sound for most of their length: an effect that
    is mostly silence would put the whole SNR into one burst. The best of 20 draws."""
    best, best_score = None, -1.0
    for _ in range(20):
        entry, x = _pick(pool, rng)
        seg = mixing.loop_to_length(x, n, rng, ds.SAMPLE_RATE)
        energies = ds.frame_energies_db(seg)
        score = float(np.mean(energies > energies.max() - 30.0)) if np.any(seg) else 0.0
        if score > best_score:
            best, best_score = (entry, seg), score
        if score >= 0.5:
            break
    if best is None or best_score <= 0.0:
        raise DataError("a noise pool holds only silence")
    return best


def _eval_speech(pool: list, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """`n` samples of one source's held-out speech: distinct clips (while there are enough)
    from a random starting point, joined by short pauses."""
    parts, used, total = [], [], 0
    k = int(rng.integers(len(pool)))
    while total < n:
        entry, x = pool[k % len(pool)]
        k += 1
        gap = np.zeros(int(rng.uniform(0.1, 0.4) * ds.SAMPLE_RATE), np.float32)
        parts += [x, gap]
        used.append(entry["path"])
        total += len(x) + len(gap)
    return np.concatenate(parts)[:n], used
