"""A model file of either pipeline stage as an enhancer, and the commands that take one.

`hushkit enhance` and `hushkit eval` accept a float checkpoint (.pt, from training) or an int8
model (.tflite, from quantize): the file's suffix picks the streamer, the float MaskNet
(`hushkit.training.enhance.FloatStreamer`) or the int8 model hop by hop, exactly as the
firmware streams it (`hushkit.quantize.host_int8.Int8Streamer`). Training and quantize do not
import each other's way up, so the choice is made here, above both.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hushkit import argtypes
from hushkit.audiofile import check_input
from hushkit.errors import InputError

RUNTIMES = ("tflm", "litert")  # interpreters for .tflite models (host_int8.RUNTIMES)


def load_streamer(path: str | Path, runtime: str = "tflm"):
    """(a maker of fresh streaming enhancers, their DSP framing) for a .pt checkpoint or an
    int8 .tflite model."""
    path = check_input(path, "model")
    if path.suffix == ".tflite":
        from hushkit.quantize.host_int8 import Int8Model, Int8Streamer

        try:
            model = Int8Model(path.read_bytes(), runtime)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise InputError(f"{path} is not a usable hushkit int8 model: {exc}") from None
        return lambda: Int8Streamer(model), model.dsp
    from hushkit.training import enhance

    return enhance.load_streamer(path)


def load_enhancer(path: str | Path, runtime: str = "tflm"):
    """A function float32 16 kHz audio -> enhanced audio of the same length, time-aligned."""
    from hushkit.training.enhance import clip_enhancer

    return clip_enhancer(*load_streamer(path, runtime))


def register(sub: argparse._SubParsersAction) -> None:
    _register_enhance(sub)
    _register_eval(sub)


def _register_enhance(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enhance",
        help="denoise a WAV/FLAC/OGG file with a checkpoint (.pt) or int8 model (.tflite)",
        description=(
            "Denoise one file. A .pt checkpoint runs the float PyTorch model; a .tflite model "
            "runs hop by hop on the host, exactly as the firmware streams it (TFLite Micro "
            "runtime by default)."
        ),
    )
    p.add_argument("--model", required=True, help="checkpoint (.pt) or int8 model (.tflite)")
    p.add_argument("input", help="noisy audio file (any rate)")
    p.add_argument("output", help="enhanced audio, written at the input's sample rate")
    p.add_argument(
        "--channel",
        type=argtypes.non_negative_int,
        help="channel to use from a multichannel file (0-based)",
    )
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="tflm",
        help="interpreter for .tflite models (default: %(default)s, the microcontroller one)",
    )
    p.set_defaults(func=_enhance_cli)


def _enhance_cli(args: argparse.Namespace) -> int:
    from hushkit.training.enhance import enhance_file

    seconds = enhance_file(
        args.model,
        args.input,
        args.output,
        channel=args.channel,
        force=args.force,
        load=lambda path: load_streamer(path, args.runtime),
    )
    print(f"wrote {args.output} ({seconds:.1f} s)", file=sys.stderr)
    return 0


def _register_eval(sub: argparse._SubParsersAction) -> None:
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
        choices=RUNTIMES,
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
    p.set_defaults(func=_eval_cli)


def _eval_cli(args: argparse.Namespace) -> int:
    from hushkit.training.baselines import load_baselines
    from hushkit.training.evaluate import Enhance, evaluate

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
    from hushkit.training import eval_report

    if args.json:
        print(json.dumps(eval_report.json_safe(results | {"per_file": None}), indent=1))
    else:
        print(eval_report.markdown_table(results))
    print(f"reports in {args.out}/ (results.json, results.md, results.png)", file=sys.stderr)
    return 0
