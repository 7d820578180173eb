"""`hushkit latency`: delay, compute per hop, real-time deadlines and link round trip.

    hushkit latency --emulate qemu-m4 [--json out.json] [--plot out.png]
    hushkit latency --port /dev/ttyUSB0 [--clock-mhz 96]
    hushkit latency --port /dev/ttyUSB0 --loopback [--audio-device N]

1. Algorithmic delay: a maximum-length sequence goes through the device with the model
   bypassed and with it running, and the delay is found by cross-correlation (to the sample,
   a sub-sample estimate and a confidence). Over PROCESS it is the pipeline's own delay
   (n_fft - hop); through the real-time path (the virtual codec on the emulator) it adds the
   capture and playback buffers (2 hops): on the emulator both must equal the configured
   delay exactly. With --loopback a sound card plays the sequence into the board's input and
   records its output (`sounddevice`), by the same correlation code.
2. Compute per hop: the per-hop cost counter (instructions under QEMU -icount, DWT cycles on
   hardware), min / mean / p99 / max, in ms and % of the hop at the board's clock (the
   target table's, or --clock-mhz; instructions are converted at --cpi cycles each).
3. The real-time path: deadline misses, worst lateness, underruns, overruns, buffer level.
4. The serial link: round-trip percentiles of small requests.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hushkit import argtypes, targets
from hushkit import latency_device as ld
from hushkit import protocol as p
from hushkit.client import DeviceClient
from hushkit.errors import HushkitError
from hushkit.latency_signal import (
    MLS_BITS,
    estimate_delay,
    loopback_record,
    mls,
    padded_signal,
    percentiles,
)
from hushkit.ops import connect, to_int16

# Instructions -> cycles for the load figures when the counter is QEMU's (calibrate on
# hardware with the DWT counter; the same factor as `hushkit bench-firmware`).
DEFAULT_CPI = 1.5
RTT_REQUESTS = 200
# Zeros after the test sequence, in windows: room for the delay search.
TAIL_WINDOWS = 4
LINK_TIMEOUT_S = 30.0
# Longest round trip a loopback through a sound card is searched for.
LOOPBACK_SEARCH_S = 0.5


class LatencyError(HushkitError, RuntimeError):
    """A measurement that cannot be made (missing tape, no clock for the load figures)."""


def measure_delays(run, x: np.ndarray, max_lag: int) -> dict:
    """{'bypass': est, 'model': est}: `run(pcm, bypass)` returns the device's output."""
    pcm = to_int16(x)
    return {
        mode: estimate_delay(pcm / 32768.0, run(pcm, bypass) / 32768.0, max_lag)
        for mode, bypass in (("bypass", True), ("model", False))
    }


def link_round_trip(client: DeviceClient, n: int = RTT_REQUESTS) -> dict:
    """Milliseconds per STATS request/reply (a 0-byte request, a 56-byte reply)."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        client.transact(p.Opcode.STATS)
        times.append(1000.0 * (time.perf_counter() - start))
    return {"requests": n, **percentiles(np.asarray(times))}


def compute_per_hop(cost: np.ndarray, units: str, hop_s: float, clock_mhz: float,
                    cpi: float) -> dict:  # fmt: skip
    stats = percentiles(cost, (50, 99))
    cycles_per_unit = cpi if units == "instructions" else 1.0
    ms = {k: v * cycles_per_unit / (clock_mhz * 1e3) for k, v in stats.items()}
    return {
        "units": units,
        **{k: round(v, 1) for k, v in stats.items()},
        "clock_mhz": clock_mhz,
        "cycles_per_unit": cycles_per_unit,
        "ms": {k: round(v, 4) for k, v in ms.items()},
        "percent_of_hop": {k: round(100.0 * v / (1000.0 * hop_s), 2) for k, v in ms.items()},
    }


def board_clock_mhz(target: str, override: float | None) -> float:
    if override is not None:
        if not override > 0:
            raise LatencyError("--clock-mhz must be positive")
        return float(override)
    known = targets.TARGETS.get(target)
    if known is None or not known.clock_mhz:
        raise LatencyError(f"no clock known for target {target!r}: pass --clock-mhz")
    return float(known.clock_mhz)


def measure(client: DeviceClient, clock_mhz: float | None = None, cpi: float = DEFAULT_CPI,
            loopback: bool = False, audio_device: str | None = None,
            rtt_requests: int = RTT_REQUESTS, mls_bits: int = MLS_BITS) -> dict:  # fmt: skip
    info = client.info()
    if not info.model_loaded:
        raise LatencyError(f"no model loaded on the device: {info.model_message}")
    clock = board_clock_mhz(info.target, clock_mhz)
    audio = ld.audio_status(client)
    settings = client.set()
    tail = TAIL_WINDOWS * info.n_fft
    x = padded_signal(mls(mls_bits), tail, info.hop)
    max_lag = tail - info.hop
    costs: list[np.ndarray] = []

    def over_process(pcm: np.ndarray, bypass: bool) -> np.ndarray:
        client.set(bypass=bypass)
        client.reset()
        result = client.process(pcm)
        if not bypass:
            costs.append(result.cost)
        return result.pcm

    report: dict = {
        "target": info.target,
        "sample_rate": info.sample_rate,
        "n_fft": info.n_fft,
        "hop": info.hop,
        "test_signal": f"MLS, {2**mls_bits - 1} samples",
    }
    try:
        process = measure_delays(over_process, x, max_lag)
        report["process"] = _delay_block(process, info.output_delay)
        headline, configured, path = process, info.output_delay, "process"
        if audio.source == p.AudioSource.VIRTUAL_TAPE:
            runs: dict = {}

            def over_tape(pcm: np.ndarray, bypass: bool) -> np.ndarray:
                client.set(bypass=bypass)
                out, runs[bypass] = ld.run_tape(client, pcm)
                return out

            realtime = measure_delays(over_tape, x, max_lag)
            configured = audio.delay_samples(info)
            report["realtime"] = _delay_block(realtime, configured) | _run_block(runs[False])
            headline, path = realtime, "realtime"
        elif loopback:
            if audio.source == p.AudioSource.NONE:
                raise LatencyError(f"{info.target} has no real-time audio path to loop back")
            client.set(bypass=False)
            ld.start(client, 0)  # runs until stopped
            # A sound card adds its own buffering: search up to LOOPBACK_SEARCH_S.
            tail_lb = int(LOOPBACK_SEARCH_S * info.sample_rate)
            x_lb = padded_signal(mls(mls_bits), tail_lb, info.hop)
            try:
                played = loopback_record(x_lb, info.sample_rate, audio_device)
            finally:
                report["loopback_run"] = _run_block(ld.stop(client))
            est = estimate_delay(x_lb, played[: x_lb.size], tail_lb - info.hop)
            report["loopback"] = {"model": est.as_dict()}
            headline, configured, path = {"model": est, "bypass": est}, None, "loopback"
    finally:
        client.set(bypass=settings.bypass)
    model = headline["model"]
    report |= {
        "path": path,
        "configured_delay_samples": configured,
        "measured_delay_samples": model.samples,
        "measured_delay_subsample": round(model.subsample, 4),
        "confidence": round(model.confidence, 4),
        "measured_delay_ms": round(1000.0 * model.samples / info.sample_rate, 3),
        "measured_delay_bypass_samples": headline["bypass"].samples,
    }
    cost = np.concatenate(costs)
    report["compute"] = compute_per_hop(
        cost, p.COST_UNITS[info.cost_source], info.hop / info.sample_rate, clock, cpi
    )
    report["link"] = link_round_trip(client, rtt_requests)
    report["_estimates"] = headline  # for the plot; dropped from the JSON
    return report


def _delay_block(est: dict, configured: int) -> dict:
    return {"configured_delay_samples": configured} | {k: v.as_dict() for k, v in est.items()}


def _run_block(status: ld.AudioStatus) -> dict:
    return {
        "hops": status.hops_processed,
        "deadline_misses": status.deadline_misses,
        "worst_lateness_us": status.worst_lateness_us,
        "underruns": status.underruns,
        "overruns": status.overruns,
        "buffer_level_max": status.buffer_level_max,
    }


def table(r: dict) -> str:
    """The human-readable report of one measurement."""
    rate = r["sample_rate"]

    def ms(samples: float) -> str:
        return f"{1000.0 * samples / rate:.2f} ms"

    rows = [("target", f"{r['target']} ({r['sample_rate']} Hz, n_fft {r['n_fft']}, "
                       f"hop {r['hop']})")]  # fmt: skip
    for path in ("process", "realtime"):
        if path in r:
            b = r[path]
            rows.append((f"delay, {path} (bypass / model)",
                         f"{b['bypass']['samples']} / {b['model']['samples']} samples "
                         f"= {ms(b['model']['samples'])}; sub-sample "
                         f"{b['model']['subsample']:.2f}; confidence "
                         f"{b['bypass']['confidence']:.3f} / {b['model']['confidence']:.3f}; "
                         f"configured {b['configured_delay_samples']}"))  # fmt: skip
    if "loopback" in r:
        lb = r["loopback"]["model"]
        rows.append(("delay, loopback", f"{lb['samples']} samples = {ms(lb['samples'])} "
                                        f"(confidence {lb['confidence']:.3f})"))  # fmt: skip
    c = r["compute"]
    rows.append((f"compute per hop ({c['units']})",
                 f"min {c['min']:,.0f} / mean {c['mean']:,.0f} / p99 {c['p99']:,.0f} / "
                 f"max {c['max']:,.0f}"))  # fmt: skip
    at = f" at {c['cycles_per_unit']} cycles/instruction" if c["units"] == "instructions" else ""
    rows.append((f"at {c['clock_mhz']:g} MHz{at}",
                 f"mean {c['ms']['mean']:.3f} ms = {c['percent_of_hop']['mean']:.1f} % of the "
                 f"hop; max {c['ms']['max']:.3f} ms = {c['percent_of_hop']['max']:.1f} %"))
    if "realtime" in r:
        rt = r["realtime"]
        rows.append(("real-time path", f"{rt['hops']} hops, {rt['deadline_misses']} deadline "
                     f"misses (worst {rt['worst_lateness_us']} us late), {rt['underruns']} "
                     f"underruns, {rt['overruns']} overruns, buffer level max "
                     f"{rt['buffer_level_max']}"))  # fmt: skip
    lk = r["link"]
    rows.append(("link round trip", f"p50 {lk['p50']:.2f} / p90 {lk['p90']:.2f} / p99 "
                 f"{lk['p99']:.2f} / max {lk['max']:.2f} ms ({lk['requests']} requests)"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


BENCH_HEADER = (
    "| target | clock | delay configured / measured (bypass, model) | confidence (bypass, model) | "
    "compute / hop (mean, p99, max) | load at clock (mean, max) | deadline misses | "
    "link round trip p50 / p99 |\n|---|---|---|---|---|---|---|---|"
)


def bench_row(r: dict) -> str:
    """One row of the per-target latency table in BENCHMARKS.md."""
    c, lk, rate = r["compute"], r["link"], r["sample_rate"]
    rt = r.get("realtime", {})
    misses = f"{rt['deadline_misses']} / {rt['hops']} hops" if rt else "n/a (no real-time path)"
    configured = r["configured_delay_samples"]
    return (
        f"| {r['target']} | {c['clock_mhz']:g} MHz | {configured} / "
        f"{r['measured_delay_bypass_samples']}, {r['measured_delay_samples']} samples "
        f"({1000.0 * configured / rate:.0f} ms, {r['path']}) | "
        f"{r[r['path']]['bypass']['confidence']:.3f}, {r['confidence']:.3f} | "
        f"{c['mean']:,.0f}, {c['p99']:,.0f}, {c['max']:,.0f} {c['units']} | "
        f"{c['percent_of_hop']['mean']:.1f} %, {c['percent_of_hop']['max']:.1f} % | {misses} | "
        f"{lk['p50']:.2f} / {lk['p99']:.2f} ms |"
    )


def _one(args: argparse.Namespace, emulate: str | None) -> dict:
    with connect(args.port, emulate=emulate, elf=args.elf, timeout=LINK_TIMEOUT_S) as client:
        return measure(client, clock_mhz=args.clock_mhz, cpi=args.cpi, loopback=args.loopback,
                       audio_device=args.audio_device, rtt_requests=args.requests)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    names = args.emulate.split(",") if args.emulate else [None]
    reports = []
    for name in names:
        if name is not None and name not in targets.TARGETS:
            raise LatencyError(f"unknown target {name!r}; known: {', '.join(targets.TARGETS)}")
        if len(names) > 1 and args.elf:
            raise LatencyError("--elf goes with a single --emulate target")
        reports.append(_one(args, name))
    estimates = [r.pop("_estimates") for r in reports]
    for r in reports:
        print(table(r) + "\n")
    if args.bench:
        print("\n".join([BENCH_HEADER] + [bench_row(r) for r in reports]))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        data = reports[0] if len(reports) == 1 else reports
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    if args.plot:
        from hushkit.latency_plot import plot

        for r, est in zip(reports, estimates, strict=True):
            out = Path(args.plot)
            if len(reports) > 1:
                out = out.with_name(f"{out.stem}-{r['target']}{out.suffix}")
            plot(r, est, out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "latency",
        help="measure delay, compute per hop, real-time deadlines and link round trip",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="device path or pyserial URL")
    where.add_argument("--emulate", metavar="TARGET[,TARGET...]",
                       help="boot each target's firmware on QEMU in turn and measure it")
    parser.add_argument("--elf", type=Path, default=None, help="firmware for --emulate")
    positive = argtypes.float_range(0.0, None, lo_open=True)
    parser.add_argument("--clock-mhz", type=positive, default=None,
                        help="core clock for the load figures (default: the target's)")  # fmt: skip
    parser.add_argument("--cpi", type=positive, default=DEFAULT_CPI,
                        help="cycles per counted instruction (QEMU counts instructions)")
    parser.add_argument("--requests", type=argtypes.int_range(1, 100_000), default=RTT_REQUESTS,
                        help="round trips timed on the link")  # fmt: skip
    parser.add_argument("--loopback", action="store_true",
                        help="also measure through a sound card wired to the board (sounddevice)")
    parser.add_argument("--audio-device", default=None, help="sounddevice device for --loopback")
    parser.add_argument("--bench", action="store_true",
                        help="also print the BENCHMARKS.md table row of each target")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="write the report as JSON")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG of the report")
    parser.set_defaults(func=run)
