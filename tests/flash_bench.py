"""Flashing benchmark: throughput on the emulator, protocol efficiency, re-flash time and the
full power-cut sweep (one trial per erase, write and state change of an update).

    python tests/flash_bench.py [--out build/bench/flash.json] [--stride N]

Uses the shipped model's build (`hushkit build --json` outputs, made here when missing).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flash_fixtures as ff  # noqa: E402

from hushkit import firmware_build, payloads, targets  # noqa: E402
from hushkit.flash import _CountingLink, flash  # noqa: E402
from hushkit.flash_client import FlashClient  # noqa: E402
from hushkit.transport import open_link  # noqa: E402

BAUDS = (115_200, 921_600)
BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop


def throughput(rig: ff.FlashRig) -> dict:
    path = rig.fresh_flash("bench.bin")
    with ff.Emulator(ff.TARGET, flash=path) as emu, open_link(emu.url, timeout=3) as link:
        counting = _CountingLink(link)
        client = FlashClient(counting, timeout=3)
        t0 = time.monotonic()
        first = flash(client, rig.old, progress=False)
        wire = counting.sent + counting.received
        t1 = time.monotonic()
        again = flash(client, rig.old, progress=False)
        t2 = time.monotonic()
    efficiency = first.payload_bytes / wire
    return {
        "image_bytes": first.bytes_written,
        "seconds_total": round(t1 - t0, 2),
        "kB_per_s": round(first.bytes_written / 1024 / (t1 - t0), 1),
        "wire_bytes": wire,
        "payload_over_wire": round(efficiency, 3),
        "uart_seconds": {b: round(wire * BITS_PER_BYTE / b, 1) for b in BAUDS},
        "reflash_seconds": round(t2 - t1, 2),
        "reflash_bytes_written": again.bytes_written,
        "write_chunk": payloads.FLASH_WRITE_CHUNK,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=targets.REPO_ROOT / "build/bench/flash.json")
    parser.add_argument("--stride", type=int, default=1, help="every Nth power-cut point")
    args = parser.parse_args()
    work = targets.REPO_ROOT / "build" / "bench" / "flash"
    rig = ff.make_rig(firmware_build.DEFAULT_MODEL_DIR, targets.BUILD_ROOT, work)
    report = {"throughput": throughput(rig)}
    print(json.dumps(report, indent=2), flush=True)
    base = rig.fresh_flash("base.bin")
    with rig.device(base) as (client, _):
        flash(client, rig.old, progress=False)
    sweep = ff.power_cut_sweep(rig, base, work, sample=False, stride=args.stride)
    report["power_cuts"] = sweep
    report["bootloader"] = firmware_build.memory_usage(rig.boot_bin.with_suffix(".elf"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    summary = {k: v for k, v in sweep.items() if k != "trials"}
    print(json.dumps({"power_cuts": summary, "bootloader": report["bootloader"]}, indent=2))
    return 0 if sweep["bricked"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
