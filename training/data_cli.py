"""`hushkit data`: prepare speech and noise material offline.

    hushkit data --out data/                         Debian packages + synthesised noise
    hushkit data --speech-dir ~/vctk --noise-dir ~/demand --paired-dir ~/voicebank
    hushkit data --quick                             small set for tests and CI

Everything ends up 16 kHz mono 16-bit under OUT (layout in datasets.py) with a manifest. A
second run with the same arguments finds the manifest and does nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from hushkit import argtypes
from hushkit.training import data_material as material
from hushkit.training import datasets as ds
from hushkit.training import sources
from hushkit.training.data_eval_sets import eval_set
from hushkit.training.data_writer import EVAL_SET_DIRS, ClipWriter, PrepareOptions
from hushkit.training.sources import DataError

# What a fresh preparation clears first (the cache of decoded packages stays).
OUTPUT_DIRS = ("speech", "noise", "babble", "valset", "testset", "heldout")


# ---------------------------------------------------------------------------------------------
# Preparation


def prepare(opts: PrepareOptions) -> dict:
    """Prepare `opts.out`; returns the manifest (reused as is when nothing changed)."""
    opts.out.mkdir(parents=True, exist_ok=True)
    reused = _reusable_manifest(opts)
    if reused is not None:
        return reused
    for name in OUTPUT_DIRS:
        shutil.rmtree(opts.out / name, ignore_errors=True)
    cache = opts.out / "cache"
    notes: list[str] = []
    writer = ClipWriter(opts)

    raw = material.collect(opts, cache, notes)
    pairs = [] if opts.paired_dir is None else sources.paired_clips(opts.paired_dir)
    split_of = material.split_all(
        raw + [clip for clip, _ in pairs], opts.seed, opts.heldout_sources
    )
    material.process_files(raw, split_of, writer)
    material.process_pairs(pairs, split_of, writer)
    material.synthesise(opts, writer, notes)
    eval_sets = {
        EVAL_SET_DIRS[split]: eval_set(opts, writer.held[split], split, notes)
        for split in EVAL_SET_DIRS
    }

    manifest = {
        "args": opts.recorded(),
        "sample_rate": ds.SAMPLE_RATE,
        "screening": {
            "min_speech_seconds": ds.MIN_SPEECH_SECONDS,
            "min_speech_snr_db": opts.min_speech_snr_db,
            "min_speech_native_rate": ds.MIN_SPEECH_RATE,
            "snr_estimate": "95th minus 10th percentile of 20 ms frame energy, dB",
        },
        "notes": notes,
        "eval_sets": eval_sets,
        "clips": writer.clips,
        "dropped": writer.dropped,
    }
    (opts.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _reusable_manifest(opts: PrepareOptions) -> dict | None:
    path = opts.out / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if manifest.get("args") != opts.recorded():
        return None
    files = [opts.out / c["path"] for c in manifest["clips"]]
    made = [name for name, info in manifest.get("eval_sets", {}).items() if info.get("clips")]
    files += [opts.out / name / "meta.json" for name in made]
    if not all(p.exists() for p in files):
        return None
    manifest["reused"] = True
    return manifest


# ---------------------------------------------------------------------------------------------
# Report and command line


def summary(manifest: dict) -> str:
    """Minutes per source and split, and what screening dropped."""
    minutes: dict[tuple[str, str], dict[str, float]] = {}
    for c in manifest["clips"]:
        row = minutes.setdefault((c["kind"], c["source"]), dict.fromkeys(ds.SPLITS, 0.0))
        row[c["split"]] += c["duration_s"] / 60
    drops: dict[tuple[str, str], dict[str, int]] = {}
    for d in manifest["dropped"]:
        per = drops.setdefault((d["kind"], d["source"]), {})
        per[d["reason"]] = per.get(d["reason"], 0) + 1
    lines = [
        f"{'kind':<7}{'source':<18}{'train':>8}{'val':>7}{'test':>7}{'heldout':>8}  dropped (why)"
    ]
    totals = {k: dict.fromkeys(ds.SPLITS, 0.0) for k in ("speech", "babble", "noise")}
    for key in sorted(set(minutes) | set(drops)):
        row = minutes.get(key, dict.fromkeys(ds.SPLITS, 0.0))
        why = ", ".join(f"{n} {r}" for r, n in sorted(drops.get(key, {}).items()))
        lines.append(
            f"{key[0]:<7}{key[1]:<18}{row['train']:8.2f}{row['val']:7.2f}{row['test']:7.2f}"
            f"{row['heldout']:8.2f}  {why}"
        )
        for s in ds.SPLITS:
            totals[key[0]][s] += row[s]
    for kind, row in totals.items():
        lines.append(
            f"{kind:<7}{'TOTAL (min)':<18}{row['train']:8.2f}{row['val']:7.2f}{row['test']:7.2f}"
            f"{row['heldout']:8.2f}"
        )
    for name, info in manifest["eval_sets"].items():
        lines.append(f"{name} eval set: {info['clips']} mixtures")
    lines += [f"note: {n}" for n in manifest["notes"]]
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "data",
        help="prepare speech/noise material (Debian packages and your own folders)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("data"), help="output directory")
    p.add_argument(
        "--speech-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="folder of clean speech (WAV/FLAC/OGG, any rate; channels averaged)",
    )
    p.add_argument(
        "--noise-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="folder of noise recordings",
    )
    p.add_argument(
        "--paired-dir",
        type=Path,
        metavar="DIR",
        help="clean/ + noisy/ with the same names (VoiceBank+DEMAND, DNS)",
    )
    p.add_argument(
        "--packages",
        metavar="LIST",
        help=f"comma-separated Debian packages, or 'none' (default: {','.join(sources.PACKAGES)})",
    )
    p.add_argument("--quick", action="store_true", help="small set for tests and CI")
    p.add_argument(
        "--seed",
        type=argtypes.non_negative_int,
        default=0,
        help="splits, synthesis and eval mixtures",
    )
    p.add_argument(
        "--no-tts-speech",
        action="store_true",
        help="leave out espeak-ng/flite speech (extra clean targets in train/val/test)",
    )
    p.add_argument("--no-babble", action="store_true", help="skip babble and crowd noise")
    p.add_argument(
        "--min-speech-snr-db",
        type=argtypes.float_range(-100.0, 100.0),
        default=ds.MIN_SPEECH_SNR_DB,
        help="drop speech whose estimated SNR is below this (dB)",
    )
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> PrepareOptions:
    packages = None
    if args.packages is not None:
        packages = [] if args.packages == "none" else args.packages.split(",")
        unknown = sorted(set(packages) - set(sources.PACKAGES))
        if unknown:
            raise DataError(f"unknown package(s) {unknown}; known: {', '.join(sources.PACKAGES)}")
    return PrepareOptions(
        out=args.out,
        speech_dirs=args.speech_dir,
        noise_dirs=args.noise_dir,
        paired_dir=args.paired_dir,
        packages=packages,
        quick=args.quick,
        seed=args.seed,
        tts_speech=not args.no_tts_speech,
        babble=not args.no_babble,
        min_speech_snr_db=args.min_speech_snr_db,
    )


def run(args: argparse.Namespace) -> int:
    start = time.monotonic()
    try:
        manifest = prepare(options_from_args(args))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(manifest))
    state = "up to date, reused" if manifest.get("reused") else "prepared"
    print(f"{args.out}: {state} in {time.monotonic() - start:.1f} s")
    return 0
