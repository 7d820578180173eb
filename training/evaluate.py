"""Score a model and the baselines on a folder of (clean, noisy) pairs: what `hushkit eval`
runs (its command line is in `hushkit.enhancers`, which opens a model file of either stage).

A test set is a folder with `clean/*.wav` and `noisy/*.wav` of the same names, 16 kHz mono,
and optionally `meta.json` = {"file.wav": {"snr_db": 5.0, ...}} for a per-SNR breakdown.
Every system (the model, the baselines, or any function passed to `evaluate`) enhances each
noisy file; the output is scored against the clean file with PESQ-WB, STOI, SI-SDR and, if
installed, DNSMOS. Processing speed is reported as the real-time factor RTF = audio seconds /
processing seconds (higher is faster; 1 is just real time), timed in this process around the
enhancer call alone, single-threaded as the systems come.

Outputs in --out: results.json (per file, means, per-SNR, speed, notes), results.md (the
tables) and results.png (spectrograms of one example and the per-SNR curves).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hushkit import audiofile
from hushkit.errors import InputError
from hushkit.training.dsp import SAMPLE_RATE

log = logging.getLogger(__name__)

Enhance = Callable[[np.ndarray], np.ndarray]

METRIC_LABELS = {
    "pesq_wb": "PESQ-WB",
    "stoi": "STOI",
    "si_sdr": "SI-SDR (dB)",
    "dnsmos_sig": "DNSMOS SIG",
    "dnsmos_bak": "DNSMOS BAK",
    "dnsmos_ovrl": "DNSMOS OVRL",
}
# Metrics broken down by input SNR, in the markdown tables and the figure.
PER_SNR_METRICS = ("pesq_wb", "si_sdr")


@dataclasses.dataclass
class Clip:
    name: str
    clean: np.ndarray
    noisy: np.ndarray
    snr_db: float | None = None
    noise_type: str | None = None

    @property
    def seconds(self) -> float:
        return len(self.noisy) / SAMPLE_RATE


def _read_wav(path: Path) -> np.ndarray:
    audio, rate = audiofile.decode(path)
    if rate != SAMPLE_RATE:
        raise InputError(f"{path}: {rate} Hz; test sets must be {SAMPLE_RATE} Hz")
    if audio.shape[1] != 1:
        raise InputError(f"{path}: {audio.shape[1]} channels; test sets must be mono")
    return np.ascontiguousarray(audio[:, 0])


def load_set(set_dir: str | Path, limit: int | None = None) -> list[Clip]:
    """The set's clips in name order (the first `limit` of them)."""
    set_dir = Path(set_dir)
    clean_dir, noisy_dir = set_dir / "clean", set_dir / "noisy"
    names = sorted(p.name for p in clean_dir.glob("*.wav"))
    if not names:
        raise ValueError(f"{clean_dir} holds no .wav files")
    missing = [n for n in names if not (noisy_dir / n).is_file()]
    if missing:
        raise ValueError(f"{noisy_dir} lacks {len(missing)} file(s) of clean/: {missing[:5]}")
    meta_path = set_dir / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    clips = []
    for name in names[:limit]:
        clean, noisy = _read_wav(clean_dir / name), _read_wav(noisy_dir / name)
        if len(clean) != len(noisy):
            raise ValueError(f"{name}: clean has {len(clean)} samples, noisy {len(noisy)}")
        info = meta.get(name, {})
        snr = info.get("snr_db")
        clips.append(
            Clip(name, clean, noisy, None if snr is None else float(snr), info.get("noise_type"))
        )
    return clips


def _snr_label(snr: float) -> str:
    return f"{snr:g}"


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def evaluate(
    enhancers: Mapping[str, Enhance],
    set_dir: str | Path,
    *,
    out_dir: str | Path | None = None,
    limit: int | None = None,
    dnsmos: bool = True,
    example: str | None = None,
    progress: bool = True,
    notes: list[str] | None = None,
    transparency: bool = False,
) -> dict[str, Any]:
    """Run each enhancer on every clip of `set_dir` and score it; write reports to `out_dir`.

    With `transparency`, every system also processes each *clean* file, scored against
    itself: what the system does to speech that needs no help (`results["clean_input"]`).

    `enhancers` maps a system name to a function float32 16 kHz audio -> same-length output,
    time-aligned. Each output's lag behind the noisy input is measured by cross-correlation
    and recorded (`delay_samples`); a non-zero lag is logged, not corrected, because it is a
    bug of that system that would otherwise cost it score silently. `example` names the clip
    drawn in the figure (default: the first). `notes` (e.g. baselines skipped) go into the
    reports.
    """
    from tqdm import tqdm

    from hushkit.training.baselines import estimate_delay
    from hushkit.training.metrics import Scorer

    clips = load_set(set_dir, limit)
    example = example or clips[0].name
    if example not in {c.name for c in clips}:
        raise ValueError(f"example clip {example!r} is not among the evaluated files")
    scorer = Scorer(dnsmos=dnsmos)
    systems = list(enhancers)
    per_file: dict[str, dict[str, dict[str, float]]] = {}
    proc_s = dict.fromkeys(systems, 0.0)
    example_audio: dict[str, np.ndarray] = {}
    for clip in tqdm(clips, desc="eval", unit="file", disable=not progress):
        per_file[clip.name] = {}
        for system, enhance in enhancers.items():
            start = time.perf_counter()
            out = np.asarray(enhance(clip.noisy.copy()), np.float32)
            proc_s[system] += time.perf_counter() - start
            if out.shape != clip.noisy.shape or not np.all(np.isfinite(out)):
                raise ValueError(
                    f"{system} on {clip.name}: expected {len(clip.noisy)} finite samples, got "
                    f"shape {out.shape}"
                )
            delay = estimate_delay(clip.noisy, out) if np.any(out) else 0
            if delay:
                log.warning("%s lags its input by %d samples on %s", system, delay, clip.name)
            scores = scorer(clip.clean, out)
            per_file[clip.name][system] = scores | {"delay_samples": delay}
            if clip.name == example:
                example_audio[system] = out
    clean_input = _transparency(enhancers, clips, scorer, progress) if transparency else {}
    metrics = list(scorer.metric_names)
    results: dict[str, Any] = {
        "set": str(set_dir),
        "sample_rate": SAMPLE_RATE,
        "n_files": len(clips),
        "audio_seconds": sum(c.seconds for c in clips),
        "systems": systems,
        "metrics": metrics,
        "snr_db": {c.name: c.snr_db for c in clips},
        "per_file": per_file,
        "means": {
            s: {m: _mean([per_file[c.name][s][m] for c in clips]) for m in metrics}
            | {
                "max_abs_delay_samples": max(
                    abs(per_file[c.name][s]["delay_samples"]) for c in clips
                )
            }
            for s in systems
        },
        "per_snr": _per_snr(clips, per_file, systems, metrics),
        "per_noise_type": _per_group(clips, per_file, systems, metrics, "noise_type"),
        "clean_input": clean_input,
        "speed": {
            s: {
                "processing_seconds": proc_s[s],
                "rtf": sum(c.seconds for c in clips) / proc_s[s] if proc_s[s] > 0 else math.inf,
            }
            for s in systems
        },
        "pesq_no_utterance": scorer.pesq_no_utterance,
        "notes": list(notes or []) + scorer.notes,
        "example": example,
    }
    if "noisy" in systems:
        results["no_harm"] = {s: no_harm(results, s) for s in systems if s != "noisy"}
    if out_dir is not None:
        from hushkit.training import eval_report  # the report imports this module's tables

        example_clip = next(c for c in clips if c.name == example)
        eval_report.write_reports(results, out_dir, example_clip, example_audio)
    return results


def _per_snr(
    clips: list[Clip], per_file: dict, systems: list[str], metrics: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    return _per_group(clips, per_file, systems, metrics, "snr_db")


def _per_group(
    clips: list[Clip], per_file: dict, systems: list[str], metrics: list[str], key: str
) -> dict[str, dict[str, dict[str, float]]]:
    """system -> group label -> metric means (and "n"), grouping clips by attribute `key`."""
    values = sorted({getattr(c, key) for c in clips if getattr(c, key) is not None})
    label = _snr_label if key == "snr_db" else str
    table: dict[str, dict[str, dict[str, float]]] = {}
    for s in systems:
        table[s] = {}
        for value in values:
            group = [c for c in clips if getattr(c, key) == value]
            table[s][label(value)] = {
                m: _mean([per_file[c.name][s][m] for c in group]) for m in metrics
            }
            table[s][label(value)]["n"] = len(group)
    return table


def _transparency(
    enhancers: Mapping[str, Enhance], clips: list[Clip], scorer, progress: bool
) -> dict[str, dict[str, float]]:
    """Mean intrusive scores of each system run on the clean files, against the clean files."""
    from tqdm import tqdm

    scores: dict[str, list[dict[str, float]]] = {s: [] for s in enhancers}
    for clip in tqdm(clips, desc="clean input", unit="file", disable=not progress):
        for system, enhance in enhancers.items():
            out = np.asarray(enhance(clip.clean.copy()), np.float32)
            if out.shape != clip.clean.shape or not np.all(np.isfinite(out)):
                raise ValueError(f"{system} on clean {clip.name}: bad output shape or values")
            scores[system].append(scorer(clip.clean, out))
    return {
        s: {m: _mean([r[m] for r in rows]) for m in rows[0] if not m.startswith("dnsmos")}
        for s, rows in scores.items()
        if rows
    }


# "Do no harm": on every input-SNR bucket a system must be at least as good as the unprocessed
# input, within these margins; on clean input it must keep at least these scores.
NO_HARM_MARGINS = {"pesq_wb": 0.1, "stoi": 0.005, "si_sdr": 0.5}
CLEAN_INPUT_FLOORS = {"pesq_wb": 3.3, "stoi": 0.94}


def no_harm(results: Mapping[str, Any], system: str, reference: str = "noisy") -> dict:
    """Per SNR bucket and metric: the system's score minus the reference's, and whether the
    bar holds; plus the clean-input floors when a transparency run was made."""
    rows = {}
    ok = True
    for snr, row in results["per_snr"].get(system, {}).items():
        ref = results["per_snr"][reference][snr]
        rows[snr] = {}
        for m, margin in NO_HARM_MARGINS.items():
            if m not in row:
                continue
            delta = row[m] - ref[m]
            passed = bool(delta >= -margin)
            ok &= passed
            rows[snr][m] = {"delta": delta, "pass": passed}
    clean = results.get("clean_input", {}).get(system, {})
    floors = {}
    for m, floor in CLEAN_INPUT_FLOORS.items():
        if m in clean:
            floors[m] = {"value": clean[m], "floor": floor, "pass": bool(clean[m] >= floor)}
            ok &= floors[m]["pass"]
    return {"per_snr": rows, "clean_input": floors, "pass": ok}
