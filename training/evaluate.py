"""`hushkit eval`: score a model and the baselines on a folder of (clean, noisy) pairs.

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

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hushkit import argtypes, audiofile
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
        example_clip = next(c for c in clips if c.name == example)
        write_reports(results, out_dir, example_clip, example_audio)
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


def _fmt(value: float, digits: int) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def markdown_table(results: Mapping[str, Any]) -> str:
    """The summary (system x metrics x speed) and per-SNR tables as GitHub markdown."""
    metrics = results["metrics"]
    digits = {"pesq_wb": 2, "stoi": 3, "si_sdr": 2}
    header = ["system"] + [METRIC_LABELS.get(m, m) for m in metrics] + ["RTF (× real time)"]
    lines = [
        f"{results['n_files']} files, {results['audio_seconds']:.1f} s of audio at "
        f"{results['sample_rate']} Hz.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for s in results["systems"]:
        cells = [_fmt(results["means"][s][m], digits.get(m, 2)) for m in metrics]
        rtf = results["speed"][s]["rtf"]
        cells.append("∞" if math.isinf(rtf) else f"{rtf:.1f}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    snrs = sorted({k for s in results["systems"] for k in results["per_snr"].get(s, {})}, key=float)
    for m in PER_SNR_METRICS + ("stoi",):  # STOI too: the do-no-harm bar is per bucket
        if not snrs or m not in metrics:
            continue
        lines += [
            "",
            f"{METRIC_LABELS[m]} by input SNR (dB):",
            "",
            "| system | " + " | ".join(f"{snr} dB" for snr in snrs) + " |",
            "|" + "---|" * (len(snrs) + 1),
        ]
        for s in results["systems"]:
            row = results["per_snr"][s]
            cells = [_fmt(row[snr][m], digits[m]) if snr in row else "–" for snr in snrs]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
    types = sorted(
        {k for s in results["systems"] for k in results.get("per_noise_type", {}).get(s, {})}
    )
    for m in PER_SNR_METRICS[:1] + ("stoi",):
        if not types or m not in metrics:
            continue
        lines += [
            "",
            f"{METRIC_LABELS[m]} by noise type:",
            "",
            "| system | " + " | ".join(types) + " |",
            "|" + "---|" * (len(types) + 1),
        ]
        for s in results["systems"]:
            row = results["per_noise_type"][s]
            cells = [_fmt(row[t][m], digits[m]) if t in row else "–" for t in types]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
    clean = results.get("clean_input") or {}
    if clean:
        cols = [m for m in ("pesq_wb", "stoi", "si_sdr") if m in next(iter(clean.values()))]
        lines += [
            "",
            "Clean input (transparency: clean speech in, scored against itself):",
            "",
            "| system | " + " | ".join(METRIC_LABELS[m] for m in cols) + " |",
            "|" + "---|" * (len(cols) + 1),
        ]
        for s, row in clean.items():
            lines.append(f"| {s} | " + " | ".join(_fmt(row[m], digits[m]) for m in cols) + " |")
    if "noisy" in results["systems"] and results["per_snr"].get("noisy"):
        lines += [
            "",
            "Do no harm (vs the unprocessed input, every SNR bucket"
            f" within {NO_HARM_MARGINS}; clean input ≥ {CLEAN_INPUT_FLOORS}):",
            "",
        ]
        for s in results["systems"]:
            if s == "noisy":
                continue
            verdict = no_harm(results, s)
            worst = {
                m: min(r[m]["delta"] for r in verdict["per_snr"].values() if m in r)
                for m in NO_HARM_MARGINS
                if any(m in r for r in verdict["per_snr"].values())
            }
            text = ", ".join(f"worst Δ{METRIC_LABELS[m]} {v:+.3f}" for m, v in worst.items())
            lines.append(f"- {s}: {'PASS' if verdict['pass'] else 'FAIL'} ({text})")
    if results.get("notes"):
        lines += ["", *[f"- {note}" for note in results["notes"]]]
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    """NaN and infinity are not JSON: write them as null."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_reports(
    results: Mapping[str, Any],
    out_dir: str | Path,
    example: Clip | None = None,
    example_audio: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write results.json, results.md and (with an example) results.png; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "md": out_dir / "results.md"}
    paths["json"].write_text(json.dumps(_json_safe(dict(results)), indent=1) + "\n")
    paths["md"].write_text(markdown_table(results))
    if example is not None and example_audio:
        paths["png"] = out_dir / "results.png"
        plot_results(results, example, example_audio, paths["png"])
    return paths


def plot_results(
    results: Mapping[str, Any],
    example: Clip,
    example_audio: Mapping[str, np.ndarray],
    path: str | Path,
) -> None:
    """Spectrograms of clean / noisy / each system for one clip, and metric-vs-SNR curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import stft

    panels = {"clean": example.clean, "noisy input": example.noisy} | {
        s: a for s, a in example_audio.items() if s != "noisy"
    }
    snrs = sorted({k for s in results["systems"] for k in results["per_snr"].get(s, {})}, key=float)
    n_rows = max(len(panels), 2)
    fig = plt.figure(figsize=(13, 1.9 * n_rows + 0.6))
    grid = fig.add_gridspec(n_rows, 2, width_ratios=(2.2, 1.0), hspace=0.5, wspace=0.25)
    # 32 ms Hann window, 8 ms hop; the colour scale is shared so the panels compare directly.
    specs = {}
    for label, audio in panels.items():
        freqs, times, z = stft(audio, fs=SAMPLE_RATE, nperseg=512, noverlap=384)
        specs[label] = 20.0 * np.log10(np.abs(z) + 1e-8)
    top = max(float(s.max()) for s in specs.values())
    for row, (label, db) in enumerate(specs.items()):
        ax = fig.add_subplot(grid[row, 0])
        ax.pcolormesh(times, freqs / 1000.0, db, vmin=top - 80.0, vmax=top, shading="auto")
        ax.set_ylabel("kHz")
        ax.set_title(label, fontsize=9, loc="left")
        if row < len(specs) - 1:
            ax.set_xticklabels([])
        else:
            ax.set_xlabel(f"time (s), {example.name}")
    # The right column: one curve panel per metric, splitting the rows between them.
    half = n_rows // 2
    for metric, (first, last) in zip(PER_SNR_METRICS, ((0, half), (half, n_rows)), strict=True):
        ax = fig.add_subplot(grid[first:last, 1])
        ax.set_title(f"{METRIC_LABELS[metric]} vs input SNR", fontsize=9)
        if not snrs or metric not in results["metrics"]:
            ax.text(0.5, 0.5, "no SNR in meta.json", ha="center", va="center")
            ax.set_axis_off()
            continue
        for s in results["systems"]:
            row = results["per_snr"][s]
            ys = [row[k][metric] if k in row else math.nan for k in snrs]
            ax.plot([float(k) for k in snrs], ys, marker="o", label=s)
        if last == n_rows:
            ax.set_xlabel("input SNR (dB)")
        ax.grid(alpha=0.3)
        if first == 0:
            ax.legend(fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def register(sub: argparse._SubParsersAction) -> None:
    from hushkit.training.baselines import BASELINES

    p = sub.add_parser(
        "eval",
        help="score a model against classic and published baselines on a test set",
        description=(
            "Enhance every noisy/*.wav of a test set with the model and the baselines and "
            "score each against clean/*.wav: PESQ-WB, STOI, SI-SDR, DNSMOS (when installed) "
            "and speed. Writes results.json, results.md and results.png."
        ),
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        help="checkpoint (.pt) or int8 model (.tflite); repeat to compare several; omit: "
        "baselines only",
    )
    p.add_argument("--set", required=True, dest="set_dir", help="folder with clean/ and noisy/")
    p.add_argument("--out", default="runs/eval", help="report folder (default: %(default)s)")
    p.add_argument(
        "--baselines",
        default=",".join(BASELINES),
        help="comma-separated baselines, or 'none' (default: %(default)s)",
    )
    p.add_argument(
        "--limit",
        type=argtypes.positive_int,
        help="evaluate only the first N files (name order)",
    )
    p.add_argument(
        "--name",
        action="append",
        default=[],
        help="each model's row in the tables, in --model order (default: hushkit, or "
        "hushkit-<file stem> when several models are given)",
    )
    p.add_argument(
        "--runtime",
        choices=("tflm", "litert"),
        default="tflm",
        help="interpreter for .tflite models (default: %(default)s)",
    )
    p.add_argument("--no-dnsmos", action="store_true", help="skip DNSMOS (the slowest metric)")
    p.add_argument("--example", help="file drawn in the spectrogram figure (default: the first)")
    p.add_argument(
        "--transparency",
        action="store_true",
        help="also run every system on the clean files (what it does to clean speech)",
    )
    p.add_argument("--json", action="store_true", help="print results.json to stdout")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    from hushkit.training.baselines import load_baselines

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    names = (
        []
        if args.baselines.strip() == "none"
        else [n.strip() for n in args.baselines.split(",") if n.strip()]
    )
    enhancers: dict[str, Enhance] = {}
    try:
        if args.name and len(args.name) != len(args.model):
            raise ValueError(f"{len(args.name)} --name for {len(args.model)} --model")
        if args.model:
            from hushkit.training.enhance import load_enhancer

            default = (
                ["hushkit"]
                if len(args.model) == 1
                else [f"hushkit-{Path(m).stem}" for m in args.model]
            )
            for name, model in zip(args.name or default, args.model, strict=True):
                enhancers[name] = load_enhancer(model, runtime=args.runtime)
        baselines, notes = load_baselines(names)
        enhancers |= baselines
        if not enhancers:
            raise ValueError("nothing to evaluate: give --model or at least one baseline")
        results = evaluate(
            enhancers,
            args.set_dir,
            out_dir=args.out,
            limit=args.limit,
            dnsmos=not args.no_dnsmos,
            example=args.example,
            notes=notes,
            transparency=args.transparency,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_json_safe(results | {"per_file": None}), indent=1))
    else:
        print(markdown_table(results))
    print(f"reports in {args.out}/ (results.json, results.md, results.png)", file=sys.stderr)
    return 0
