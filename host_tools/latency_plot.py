"""The PNG of `hushkit latency --plot`: correlation peaks, per-hop compute, link round trip."""

from __future__ import annotations

from pathlib import Path

# Lags shown either side of the correlation peak.
PEAK_SPAN = 64


def plot(report: dict, estimates: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_delay, ax_cost) = plt.subplots(1, 2, figsize=(11, 4))
    for mode, est in estimates.items():
        lo = max(0, est.samples - PEAK_SPAN)
        hi = min(est.lags.size, est.samples + PEAK_SPAN)
        ax_delay.plot(est.lags[lo:hi], est.correlation[lo:hi],
                      label=f"{mode}: {est.samples} samples ({est.confidence:.3f})")  # fmt: skip
    configured = report["configured_delay_samples"]
    if configured is not None:
        ax_delay.axvline(configured, color="k", linestyle=":", label=f"configured {configured}")
    ax_delay.set_xlabel("lag (samples)")
    ax_delay.set_ylabel("normalised correlation")
    ax_delay.set_title(f"{report['target']}: delay, {report['path']} path")
    ax_delay.legend(fontsize=8)

    c = report["compute"]
    names = ["min", "mean", "p99", "max"]
    ax_cost.bar(names, [c["percent_of_hop"][n] for n in names])
    ax_cost.set_ylabel(f"% of the {1000 * report['hop'] / report['sample_rate']:.0f} ms hop")
    ax_cost.set_title(f"compute per hop at {c['clock_mhz']:g} MHz; link p50 "
                      f"{report['link']['p50']:.2f} ms")  # fmt: skip
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
