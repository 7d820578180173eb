"""The reports of `hushkit eval`: results.json, the markdown tables and the figure."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hushkit.training.dsp import SAMPLE_RATE
from hushkit.training.evaluate import (
    CLEAN_INPUT_FLOORS,
    METRIC_LABELS,
    NO_HARM_MARGINS,
    PER_SNR_METRICS,
    Clip,
    no_harm,
)


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


def json_safe(value: Any) -> Any:
    """NaN and infinity are not JSON: write them as null."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
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
    paths["json"].write_text(json.dumps(json_safe(dict(results)), indent=1) + "\n")
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
