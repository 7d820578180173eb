"""`hushkit bench-firmware`: per-target cost of a model on the emulated boards.

For each target: build the firmware with the model, boot it on QEMU under -icount (one
instruction = 1 ns of virtual time, so the counts repeat exactly), stream noisy speech from a
test set, and read the per-hop cost, flash, RAM, arena and stack. Prints a markdown table
(the one in BENCHMARKS.md) and writes it with the raw numbers as JSON.

Instructions are not cycles: a Cortex-M4 runs DSP code at roughly 1.1-1.6 cycles per
instruction. The load column converts at 1.5, the factor to calibrate on hardware with the
DWT cycle counter, and divides by each board's own core clock (the target table's
`clock_mhz`: the emulated boards' clocks, e.g. 25 MHz for the MPS2 FPGA images, 168 MHz for
the STM32F405), so it reads as the share of that board's CPU the model takes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from hushkit import argtypes
from hushkit import targets as target_table

EMULATED = [t.name for t in target_table.TARGETS.values() if t.machine]

CYCLES_PER_INSTRUCTION = 1.5  # assumed for Cortex-M4/M7 DSP code; calibrate with DWT


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench-firmware",
        help="measure per-hop instructions, flash and RAM of a model on each QEMU target",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="quantize/pretrained/default.tflite", help="int8 .tflite")
    p.add_argument("--targets", default=",".join(EMULATED), help="comma-separated")
    p.add_argument("--set", default="data/testset", help="test set whose noisy clips stream")
    p.add_argument(
        "--seconds",
        type=argtypes.float_range(0.0, 3600.0, lo_open=True),
        default=5.0,
        help="audio streamed per target",
    )
    p.add_argument("--out", default="runs/bench_firmware.json", help="JSON with the raw numbers")
    p.set_defaults(func=_cli)


def measure(target: str, export_dir: Path, pcm: np.ndarray) -> dict:
    from hushkit import firmware_build
    from hushkit.ops import connect

    built = firmware_build.build(target, model_dir=export_dir)
    with connect(None, emulate=target, elf=built.elf, timeout=30.0) as client:
        client.reset()
        result = client.process(pcm)
        stats = client.stats()
        info = client.info()
    memory = firmware_build.memory_usage(built.elf)
    cost = result.cost.astype(np.float64)
    per_second = cost.mean() * info.sample_rate / info.hop
    clock_hz = target_table.get(target).clock_mhz * 1e6
    return {
        "target": target,
        "units": stats.cost_units,
        "hops": int(stats.hops),
        "mean": float(cost.mean()),
        "min": int(cost.min()),
        "max": int(cost.max()),
        "per_second": per_second,
        "clock_mhz": clock_hz / 1e6,
        "load_at_clock": per_second * CYCLES_PER_INSTRUCTION / clock_hz,
        "flash_bytes": memory["flash_bytes"],
        "ram_bytes": memory["ram_bytes"],
        "arena_bytes": int(stats.arena_bytes),
        "stack_bytes": int(stats.stack_used),
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "| target | clock (MHz) | instructions / hop (mean, min–max) | M instr/s "
        "| load at the board clock, 1.5 CPI | flash (B) | RAM (B) | arena (B) | stack used (B) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['clock_mhz']:g} | "
            f"{r['mean']:,.0f} ({r['min']:,}–{r['max']:,}) | "
            f"{r['per_second'] / 1e6:.2f} | {100 * r['load_at_clock']:.0f} % | "
            f"{r['flash_bytes']:,} | {r['ram_bytes']:,} | {r['arena_bytes']:,} | "
            f"{r['stack_bytes']:,} |"
        )
    return "\n".join(lines)


def _cli(args: argparse.Namespace) -> int:
    from hushkit import firmware_export
    from hushkit.firmware_loop import testset_clip
    from hushkit.ops import to_int16

    model = Path(args.model)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = Path(tmp) / "export"
        checked = firmware_export.export(model, export_dir)
        noisy, _clean = testset_clip(Path(args.set), args.seconds, hop=checked.dsp.hop)
        for target in args.targets.split(","):
            print(f"measuring {target} ...", file=sys.stderr)
            rows.append(measure(target.strip(), export_dir, to_int16(noisy)))
    table = markdown(rows)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": str(model), "rows": rows, "table": table}, indent=2))
    return 0
