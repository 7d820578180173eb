"""`hushkit operating-point`: choose a float model's operating point on a held-out set.

The operating point is a constant added to every mask logit (`train.shift_output_bias`), so
the model keeps more of what it is unsure about; it is folded into the output bias and costs
nothing on the device. This command scores a checkpoint at several shifts on a test set
(float model, whole clips) against the unprocessed input, per input-SNR bucket, plus what
each shift does to clean speech, and names the smallest shift whose worst bucket does not
fall below the input by more than the given float margins. The margins are tighter than the
do-no-harm bar (`hushkit eval`) on purpose: int8 loses a little more, and the int8 model is
what has to pass.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from hushkit import argtypes

# Worst-bucket margins (float model) that leave room for the int8 cost under the do-no-harm
# bar of 0.005 STOI and 0.5 dB SI-SDR.
DEFAULT_STOI_MARGIN = 0.001
DEFAULT_SI_SDR_MARGIN = 0.0


def sweep(
    checkpoint_path: str | Path, set_dir: str | Path, shifts: list[float], limit: int | None = None
) -> list[dict]:
    """One row per shift: mean STOI / SI-SDR, their change against the input per SNR bucket,
    and clean-input STOI on every fourth clip."""
    import torch
    from tqdm import tqdm

    from hushkit.training import checkpoint, evaluate, metrics
    from hushkit.training.model import enhance_waveform

    clips = evaluate.load_set(set_dir, limit)
    base = checkpoint.load_model(checkpoint_path).eval()
    ref = {
        c.name: (metrics.stoi(c.clean, c.noisy), metrics.si_sdr(c.clean, c.noisy)) for c in clips
    }

    def run(model, x: np.ndarray) -> np.ndarray:
        return enhance_waveform(model, torch.from_numpy(x)[None])[0].numpy()

    rows = []
    for shift in shifts:
        model = copy.deepcopy(base)
        buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
        scores = []
        with torch.no_grad():
            model.fc_out.bias += shift
            for c in tqdm(clips, desc=f"shift {shift:+g}", unit="clip", leave=False):
                out = run(model, c.noisy)
                s = (metrics.stoi(c.clean, out), metrics.si_sdr(c.clean, out))
                scores.append(s)
                key = "all" if c.snr_db is None else evaluate._snr_label(c.snr_db)
                buckets[key].append((s[0] - ref[c.name][0], s[1] - ref[c.name][1]))
            clean_stoi = [metrics.stoi(c.clean, run(model, c.clean)) for c in clips[::4]]
        per_snr = {
            k: {
                "d_stoi": float(np.mean([d[0] for d in v])),
                "d_si_sdr": float(np.mean([d[1] for d in v])),
            }
            for k, v in sorted(
                buckets.items(), key=lambda kv: float(kv[0]) if kv[0] != "all" else 0
            )
        }
        rows.append({
            "shift": shift,
            "stoi": float(np.mean([s[0] for s in scores])),
            "si_sdr": float(np.mean([s[1] for s in scores])),
            "clean_stoi": float(np.mean(clean_stoi)),
            "per_snr": per_snr,
            "worst_d_stoi": min(b["d_stoi"] for b in per_snr.values()),
            "worst_d_si_sdr": min(b["d_si_sdr"] for b in per_snr.values()),
        })  # fmt: skip
    return rows


def recommend(
    rows: list[dict],
    stoi_margin: float = DEFAULT_STOI_MARGIN,
    si_sdr_margin: float = DEFAULT_SI_SDR_MARGIN,
) -> float | None:
    """The smallest shift whose worst bucket stays within the margins, or None."""
    ok = [
        r["shift"]
        for r in rows
        if r["worst_d_stoi"] >= -stoi_margin and r["worst_d_si_sdr"] >= -si_sdr_margin
    ]
    return min(ok) if ok else None


def markdown(rows: list[dict]) -> str:
    snrs = list(rows[0]["per_snr"]) if rows else []
    head = ["shift", "STOI", "SI-SDR (dB)", "clean in: STOI", "worst ΔSTOI", "worst ΔSI-SDR (dB)"]
    head += [f"{s} dB ΔSTOI / ΔSI-SDR" for s in snrs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            f"{r['shift']:+g}",
            f"{r['stoi']:.3f}",
            f"{r['si_sdr']:.2f}",
            f"{r['clean_stoi']:.3f}",
            f"{r['worst_d_stoi']:+.3f}",
            f"{r['worst_d_si_sdr']:+.2f}",
        ]
        cells += [f"{b['d_stoi']:+.3f} / {b['d_si_sdr']:+.2f}" for b in r["per_snr"].values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "operating-point",
        help="choose a model's operating point (mask-logit shift) on a held-out set",
        description=__doc__.split("\n\n", 1)[1],
        epilog="example: hushkit operating-point runs/default_ft/best_unshifted.pt "
        "--set data/heldout --shifts 1,1.5,2,3   (then set output_bias_shift in the config)",
    )
    p.add_argument("checkpoint", help="float checkpoint (.pt), without a shift of its own")
    p.add_argument("--set", required=True, dest="set_dir", help="folder with clean/ and noisy/")
    p.add_argument(
        "--shifts", default="0,1,1.5,2,2.5,3", help="comma-separated (default: %(default)s)"
    )
    p.add_argument("--limit", type=argtypes.positive_int, help="only the first N clips")
    p.add_argument("--stoi-margin", type=argtypes.float_range(0.0), default=DEFAULT_STOI_MARGIN,
                   help="worst-bucket STOI drop allowed (default: %(default)s)")  # fmt: skip
    p.add_argument("--si-sdr-margin", type=argtypes.float_range(0.0), default=DEFAULT_SI_SDR_MARGIN,
                   help="worst-bucket SI-SDR drop allowed, dB (default: %(default)s)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    from hushkit.errors import InputError

    try:
        shifts = [float(s) for s in args.shifts.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--shifts {args.shifts!r}: give numbers separated by commas") from None
    if not shifts:
        raise InputError("--shifts: give at least one shift")
    rows = sweep(args.checkpoint, args.set_dir, sorted(shifts), args.limit)
    best = recommend(rows, args.stoi_margin, args.si_sdr_margin)
    if args.json:
        json.dump({"rows": rows, "recommended_shift": best}, sys.stdout, indent=2)
        print()
        return 0
    print(markdown(rows))
    if best is None:
        print(
            "no shift keeps every SNR bucket within the margins: try larger shifts", file=sys.stderr
        )
        return 1
    print(f"recommended output_bias_shift = {best:g}", file=sys.stderr)
    return 0
