"""`hushkit operating-point`: choose a float model's operating point on a held-out set.

The operating point is mainly a constant added to every mask logit (`train.shift_output_bias`),
so the model keeps more of what it is unsure about; it is folded into the output layer and
costs nothing on the device. This command scores a checkpoint at several shifts on a test set
(float model, whole clips) against the unprocessed input, per input-SNR bucket, plus what
each shift does to clean speech, and names the smallest shift whose worst bucket does not
fall below the input by more than the given float margins. The margins are tighter than the
do-no-harm bar (`hushkit eval`) on purpose: int8 loses a little more, and the int8 model is
what has to pass.

Shifts are absolute: a checkpoint that already carries an operating point (as the shipped ones
do) has it taken off first. `--outside-offset` adds a further constant to the logits of the
bins outside the speech band (`--speech-band`) at every shift: a negative one takes hum,
rumble and hiss down harder where little speech is lost. `--logit-scale` multiplies the
logits before the shift: below 1 the mask is softer (gains stay away from 0 and 1), which
can keep more speech at the same noise removal. `--quality` adds PESQ-WB and DNSMOS
OVRL, and the report ends with the bound of an operating point that follows the input SNR:
each SNR bucket at its own smallest shift within the margins, as if the SNR were known
exactly. No SNR estimator on the device can do better than that row, so it says whether such
a stage is worth building.
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
from hushkit.training.config import SPEECH_BAND_HZ

# Worst-bucket margins (float model) that leave room for the int8 cost under the do-no-harm
# bar of 0.005 STOI and 0.5 dB SI-SDR.
DEFAULT_STOI_MARGIN = 0.001
DEFAULT_SI_SDR_MARGIN = 0.0


def _scorer(quality: bool):
    """clip -> the metrics of one output: STOI and SI-SDR, plus PESQ-WB and DNSMOS OVRL."""
    from hushkit.training import metrics

    dnsmos = metrics.Dnsmos() if quality else None

    def score(clean: np.ndarray, out: np.ndarray) -> dict[str, float]:
        s = {"stoi": metrics.stoi(clean, out), "si_sdr": metrics.si_sdr(clean, out)}
        if dnsmos is not None:
            s["pesq_wb"] = metrics.pesq_wb(clean, out)
            s["dnsmos_ovrl"] = dnsmos(out)["dnsmos_ovrl"]
        return s

    return score


def sweep(
    checkpoint_path: str | Path,
    set_dir: str | Path,
    shifts: list[float],
    limit: int | None = None,
    quality: bool = False,
    outside_offset: float = 0.0,
    speech_band_hz: tuple[float, float] = SPEECH_BAND_HZ,
    logit_scale: float = 1.0,
) -> list[dict]:
    """One row per shift: mean scores, their change against the input per SNR bucket
    (`d_<metric>`), clean-input STOI on every fourth clip, and each clip's own scores
    (`clips`, for `snr_following_bound`)."""
    import torch
    from tqdm import tqdm

    from hushkit.training import checkpoint, evaluate, metrics
    from hushkit.training.model import OperatingPoint, enhance_waveform

    clips = evaluate.load_set(set_dir, limit)
    base = checkpoint.load_model(checkpoint_path).eval()
    OperatingPoint.of(checkpoint.load(checkpoint_path)).apply(base, sign=-1.0)
    score = _scorer(quality)
    ref = {c.name: score(c.clean, c.noisy) for c in clips}

    def run(model, x: np.ndarray) -> np.ndarray:
        return enhance_waveform(model, torch.from_numpy(x)[None])[0].numpy()

    rows = []
    for shift in shifts:
        model = copy.deepcopy(base)
        OperatingPoint(shift, outside_offset, speech_band_hz, logit_scale).apply(model)
        per_clip = {}
        with torch.no_grad():
            for c in tqdm(clips, desc=f"shift {shift:+g}", unit="clip", leave=False):
                s = score(c.clean, run(model, c.noisy))
                per_clip[c.name] = {
                    "snr": "all" if c.snr_db is None else evaluate._snr_label(c.snr_db),
                    **s,
                    **{f"d_{m}": v - ref[c.name][m] for m, v in s.items()},
                }
            clean_stoi = [metrics.stoi(c.clean, run(model, c.clean)) for c in clips[::4]]
        rows.append({"shift": shift, "outside_offset": outside_offset, "logit_scale": logit_scale,
                     "clean_stoi": float(np.mean(clean_stoi)),
                     **_summarise(per_clip), "clips": per_clip})  # fmt: skip
    return rows


def _summarise(per_clip: dict[str, dict]) -> dict:
    """Means over clips, per-SNR-bucket mean changes, and the worst bucket's changes."""
    scores = list(per_clip.values())
    names = [k for k in scores[0] if k != "snr" and not k.startswith("d_")]
    buckets: dict[str, list[dict]] = defaultdict(list)
    for s in scores:
        buckets[s["snr"]].append(s)
    per_snr = {
        k: {f"d_{m}": float(np.mean([s[f"d_{m}"] for s in v])) for m in names}
        for k, v in sorted(buckets.items(), key=lambda kv: float(kv[0]) if kv[0] != "all" else 0)
    }
    out = {m: float(np.mean([s[m] for s in scores])) for m in names}
    out["per_snr"] = per_snr
    out["worst_d_stoi"] = min(b["d_stoi"] for b in per_snr.values())
    out["worst_d_si_sdr"] = min(b["d_si_sdr"] for b in per_snr.values())
    return out


def _within(d: dict, stoi_margin: float, si_sdr_margin: float) -> bool:
    return d["d_stoi"] >= -stoi_margin and d["d_si_sdr"] >= -si_sdr_margin


def snr_following_bound(
    rows: list[dict],
    stoi_margin: float = DEFAULT_STOI_MARGIN,
    si_sdr_margin: float = DEFAULT_SI_SDR_MARGIN,
) -> dict | None:
    """Each SNR bucket at the smallest swept shift that keeps that bucket within the margins
    (the SNR known exactly): the best an SNR-following operating point could score with these
    shifts. None when some bucket has no such shift."""
    chosen = {}
    for snr in rows[0]["per_snr"]:
        ok = [r for r in rows if _within(r["per_snr"][snr], stoi_margin, si_sdr_margin)]
        if not ok:
            return None
        chosen[snr] = min(ok, key=lambda r: r["shift"])
    per_clip = {name: chosen[s["snr"]]["clips"][name] for name, s in rows[0]["clips"].items()}
    return {"shift_per_snr": {k: r["shift"] for k, r in chosen.items()}, **_summarise(per_clip)}


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


def _label(row: dict) -> str:
    off = row.get("outside_offset") or 0.0
    scale = row.get("logit_scale") or 1.0
    label = f"{row['shift']:+g}" + (f" (outside the band {row['shift'] + off:+g})" if off else "")
    return (f"logits ×{scale:g}, " if scale != 1.0 else "") + label


def markdown(rows: list[dict], bound: dict | None = None) -> str:
    """The sweep as a table; the SNR-following bound (if given) as its last row."""
    snrs = list(rows[0]["per_snr"]) if rows else []
    quality = bool(rows) and "pesq_wb" in rows[0]
    head = ["shift", "STOI", "SI-SDR (dB)"] + (["PESQ-WB", "DNSMOS OVRL"] if quality else [])
    head += ["clean in: STOI", "worst ΔSTOI", "worst ΔSI-SDR (dB)"]
    head += [f"{s} dB ΔSTOI / ΔSI-SDR" for s in snrs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cells(label: str, r: dict, clean: str) -> list[str]:
        c = [label, f"{r['stoi']:.3f}", f"{r['si_sdr']:.2f}"]
        c += [f"{r['pesq_wb']:.3f}", f"{r['dnsmos_ovrl']:.3f}"] if quality else []
        c += [clean, f"{r['worst_d_stoi']:+.3f}", f"{r['worst_d_si_sdr']:+.2f}"]
        return c + [f"{b['d_stoi']:+.3f} / {b['d_si_sdr']:+.2f}" for b in r["per_snr"].values()]

    for r in rows:
        lines.append(
            "| " + " | ".join(cells(_label(r), r, f"{r['clean_stoi']:.3f}")) + " |"
        )
    if bound is not None:
        label = "per SNR (" + ", ".join(f"{k}: {v:+g}" for k, v in bound["shift_per_snr"].items())
        lines.append("| " + " | ".join(cells(label + ")", bound, "–")) + " |")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "operating-point",
        help="choose a model's operating point (mask-logit shift) on a held-out set",
        description=__doc__.split("\n\n", 1)[1],
        epilog="example: hushkit operating-point runs/default_ft/best.pt --set data/heldout "
        "--shifts 1,1.5,2 --outside-offset -1 --quality   (then set output_bias_shift, "
        "outside_band_offset and mask_logit_scale in the training config)",
    )
    p.add_argument(
        "checkpoint",
        help="float checkpoint (.pt); an operating point of its own is taken off first",
    )
    p.add_argument("--set", required=True, dest="set_dir", help="folder with clean/ and noisy/")
    p.add_argument(
        "--shifts", default="0,1,1.5,2,2.5,3", help="comma-separated (default: %(default)s)"
    )
    p.add_argument("--outside-offset", type=float, default=0.0,
                   help="added at every shift to the bins outside the speech band "
                   "(default: %(default)s)")  # fmt: skip
    p.add_argument("--logit-scale", type=argtypes.float_range(0.05, 10.0), default=1.0,
                   help="multiplies the mask logits before the shift; < 1 softens the mask "
                   "(default: %(default)s)")  # fmt: skip
    lo, hi = SPEECH_BAND_HZ
    p.add_argument("--speech-band", type=_band, default=SPEECH_BAND_HZ, metavar="LO,HI",
                   help=f"the speech band in Hz (default: {lo:g},{hi:g})")  # fmt: skip
    p.add_argument("--limit", type=argtypes.positive_int, help="only the first N clips")
    p.add_argument("--stoi-margin", type=argtypes.float_range(0.0), default=DEFAULT_STOI_MARGIN,
                   help="worst-bucket STOI drop allowed (default: %(default)s)")  # fmt: skip
    p.add_argument("--si-sdr-margin", type=argtypes.float_range(0.0), default=DEFAULT_SI_SDR_MARGIN,
                   help="worst-bucket SI-SDR drop allowed, dB (default: %(default)s)")  # fmt: skip
    p.add_argument("--quality", action="store_true",
                   help="also score PESQ-WB and DNSMOS OVRL (slower)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=_cli)


def _band(text: str) -> tuple[float, float]:
    """'150,4500' -> (150.0, 4500.0), for --speech-band."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give LO,HI in Hz, e.g. 150,4500") from None
    if not 0.0 <= lo < hi:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 <= LO < HI")
    return lo, hi


def _cli(args: argparse.Namespace) -> int:
    from hushkit.errors import InputError

    try:
        shifts = [float(s) for s in args.shifts.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--shifts {args.shifts!r}: give numbers separated by commas") from None
    if not shifts:
        raise InputError("--shifts: give at least one shift")
    rows = sweep(args.checkpoint, args.set_dir, sorted(shifts), args.limit, args.quality,
                 args.outside_offset, args.speech_band, args.logit_scale)  # fmt: skip
    best = recommend(rows, args.stoi_margin, args.si_sdr_margin)
    bound = snr_following_bound(rows, args.stoi_margin, args.si_sdr_margin)
    if args.json:
        out = {"rows": rows, "recommended_shift": best, "snr_following_bound": bound}
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    print(markdown(rows, bound))
    if best is None:
        print(
            "no shift keeps every SNR bucket within the margins: try larger shifts", file=sys.stderr
        )
        return 1
    print(f"recommended output_bias_shift = {best:g}", file=sys.stderr)
    return 0
