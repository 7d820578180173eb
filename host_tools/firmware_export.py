"""`hushkit export`: the int8 model as the C sources the firmware compiles in.

    hushkit export build/model/model.tflite --out build/model_export [--expect-dsp default]

The exporter (`hushkit.quantize.export`) checks the model and writes the files; the arena
size it writes, HUSH_ARENA_BYTES, is what the firmware's own engine plans for the model,
measured with the engine's host build (`hushkit.corelib.arena_used`). The exporter takes
that measurement as an argument, so quantize never imports the device tools; this module,
above both, joins them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hushkit import targets

if TYPE_CHECKING:
    from hushkit.quantize.export import Checked


def export(
    model_path: str | Path,
    out_dir: str | Path,
    expect_dsp: str | None = None,
    target: str | None = None,
) -> Checked:
    """Check the model and write the firmware's files into out_dir
    (`hushkit.quantize.export.export`), the arena measured by the host build of the engine."""
    from hushkit import corelib
    from hushkit.quantize import export as exporter

    return exporter.export(model_path, out_dir, corelib.arena_used, expect_dsp, target)


def register(sub: argparse._SubParsersAction) -> None:
    from hushkit.quantize.export import FIRMWARE_DSP

    p = sub.add_parser(
        "export",
        help="write the int8 model as a C array + config header for the firmware",
        description=(
            "Check an int8 .tflite (operators, types, DSP configuration) and write "
            "DIR/model_data.{c,h} and DIR/hush_model_config.h for `hushkit build --model-dir`."
        ),
    )
    p.add_argument("model", help="int8 .tflite from `hushkit quantize`")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--expect-dsp",
        choices=FIRMWARE_DSP,
        help="refuse a model built for another DSP configuration",
    )
    p.add_argument(
        "--target",
        choices=list(targets.TARGETS),
        help="refuse a model too large for this target's flash or RAM (arena)",
    )
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    try:
        model = export(args.model, args.out, args.expect_dsp, args.target)
    except (ValueError, FileNotFoundError) as exc:  # ExportError, TFLiteFormatError, op errors
        print(f"error: {args.model}: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out}: model {len(model.data)} bytes (sha256 {model.sha256[:12]}), "
        f"DSP {model.dsp.name}, state {model.info.io_tensor('state_in').shape[-1]}, "
        f"arena {model.arena_bytes} bytes ({model.arena.used} {model.arena.note})"
    )
    return 0
