"""Firmware in the loop: stream audio through a device and hold it against the host.

The device (a board, or the firmware booted on QEMU) and the host build of the same C core
process the same int16 hops. Every hop's int8 tensors (features, state in, mask, state out)
must be equal, and the output audio equal within 1e-4 of full scale. The same run yields the
per-hop cost the device counted, and the quality of what it produced.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from hushkit.client import TAP_NAMES, DeviceClient
from hushkit.ops import to_int16

# The device and host run the same float code with the same rounding; any difference in
# output audio larger than this (1e-4 of full scale, ~3 LSB of int16) is a real divergence.
AUDIO_TOLERANCE = 1e-4


@dataclasses.dataclass
class LoopResult:
    hops: int
    mismatched_hops: int  # hops where any int8 tensor differs from the host
    mismatched_values: dict[str, int]  # per tensor, values that differ
    max_audio_error: float  # fraction of full scale
    device_out: np.ndarray  # int16, as the device sent it (lagging by the output delay)
    host_out: np.ndarray
    cost: np.ndarray  # per-hop cost in the device's units

    @property
    def bit_exact(self) -> bool:
        return self.mismatched_hops == 0 and self.max_audio_error <= AUDIO_TOLERANCE


def compare_with_host(client: DeviceClient, model: bytes, pcm: np.ndarray) -> LoopResult:
    """Reset the device, stream `pcm` (int16, whole hops) with taps, and compare every hop."""
    from hushkit.corelib import Pipeline

    info = client.info()
    if not info.model_loaded:
        raise RuntimeError(f"the device has no model loaded: {info.model_message}")
    sha = hashlib.sha256(model).hexdigest()
    if info.model_sha256 and info.model_sha256 != sha:
        raise RuntimeError(
            f"the device runs model {info.model_sha256[:12]}…, the host {sha[:12]}…: "
            "build the firmware with this model or pass the model the firmware holds"
        )
    client.reset()
    device = client.process(pcm, taps=True)
    host = Pipeline(model, n_fft=info.n_fft)
    host_out, host_taps = host.process_with_taps(pcm)

    differ = np.zeros(len(device.cost), bool)
    per_tensor = {}
    for name in TAP_NAMES:
        diff = device.taps[name] != host_taps[name]
        per_tensor[name] = int(diff.sum())
        differ |= diff.any(axis=1)
    audio_err = np.max(np.abs(device.pcm.astype(np.int32) - host_out.astype(np.int32)), initial=0)
    return LoopResult(
        hops=len(device.cost),
        mismatched_hops=int(differ.sum()),
        mismatched_values=per_tensor,
        max_audio_error=float(audio_err) / 32768.0,
        device_out=device.pcm,
        host_out=host_out,
        cost=device.cost,
    )


def testset_clip(set_dir: Path, seconds: float, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy and clean clips of a test set joined to about `seconds` (whole hops), float32."""
    from hushkit.training.evaluate import load_set

    noisy, clean, total = [], [], 0
    for clip in load_set(set_dir):
        noisy.append(clip.noisy)
        clean.append(clip.clean)
        total += len(clip.noisy)
        if total >= seconds * 16000:
            break
    n = (min(total, int(seconds * 16000)) // hop) * hop
    return np.concatenate(noisy)[:n], np.concatenate(clean)[:n]


def run_firmware_check(
    target: str,
    model_path: Path,
    export_dir: Path,
    testset: Path,
    seconds: float,
    out_dir: Path,
    checkpoint: Path | None = None,
) -> dict:
    """Boot `target` on QEMU, stream a test clip, and gather quality, cost and bit-exactness."""
    from hushkit import firmware_build
    from hushkit.enhancers import load_enhancer
    from hushkit.ops import connect
    from hushkit.training import dsp
    from hushkit.training.metrics import pesq_wb, si_sdr, stoi

    model = Path(model_path).read_bytes()
    elf = firmware_build.elf_path(target)
    with connect(None, emulate=target, elf=elf, timeout=30.0) as client:
        info = client.info()
        cfg = dsp.get({"name": "device", "sample_rate": info.sample_rate,
                       "n_fft": info.n_fft, "hop": info.hop})
        noisy, clean = testset_clip(Path(testset), seconds, cfg.hop)
        result = compare_with_host(client, model, to_int16(noisy))
        stats = client.stats()

    delay = cfg.output_delay
    firmware_out = np.concatenate([result.device_out[delay:], np.zeros(delay, np.int16)])
    signals = {"noisy": noisy}
    if checkpoint is not None:
        signals["float"] = load_enhancer(checkpoint)(noisy)
    signals["int8 host (TFLite Micro)"] = load_enhancer(model_path)(noisy)
    signals["firmware"] = firmware_out.astype(np.float32) / 32768.0
    quality = {
        name: {"pesq": pesq_wb(clean, y), "stoi": stoi(clean, y), "si_sdr": si_sdr(clean, y)}
        for name, y in signals.items()
    }
    memory = firmware_build.memory_usage(elf)
    plots = _plots(out_dir, clean, signals, result.cost, stats.cost_units)
    return {
        "quality": quality,
        "firmware": {
            "target": target,
            "cost_units": stats.cost_units,
            "instructions_per_hop": {
                "mean": float(np.mean(result.cost)),
                "min": int(np.min(result.cost)),
                "max": int(np.max(result.cost)),
            },
            "flash_bytes": memory["flash_bytes"],
            "ram_bytes": memory["ram_bytes"],
            "arena_bytes": stats.arena_bytes,
            "stack_bytes": stats.stack_used,
        },
        "bit_exact": {
            "hops": result.hops,
            "mismatches": result.mismatched_hops,
            "mismatched_values": result.mismatched_values,
            "max_audio_error": result.max_audio_error,
        },
        "plots": plots,
    }


def _plots(out_dir: Path, clean, signals: dict, cost: np.ndarray, units: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = {"clean": clean, **signals}
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.0 * len(rows)), sharex=True)
    for ax, (name, y) in zip(axes, rows.items(), strict=True):
        ax.specgram(y + 1e-7, NFFT=512, Fs=16000, noverlap=384, cmap="magma", vmin=-130)
        ax.set_ylabel("Hz")
        ax.set_title(name, fontsize=9, loc="left")
    axes[-1].set_xlabel("s")
    fig.tight_layout()
    spec = out_dir / "spectrograms.png"
    fig.savefig(spec, dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 2.8))
    ax.plot(cost, lw=0.8)
    ax.axhline(np.mean(cost), color="k", ls="--", lw=0.8, label=f"mean {np.mean(cost):.0f}")
    ax.set_xlabel("hop")
    ax.set_ylabel(f"{units} per hop")
    ax.legend(loc="upper right")
    fig.tight_layout()
    cost_png = out_dir / "cost_per_hop.png"
    fig.savefig(cost_png, dpi=90)
    plt.close(fig)
    return [str(spec), str(cost_png)]
