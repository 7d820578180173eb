"""Float vs int8 parity report: what quantization costs, measured on held-out mixtures.

Systems: the float PyTorch checkpoint, the int8 model on LiteRT (desktop kernels) and on
TFLite Micro (the microcontroller kernels), both streamed hop by hop (host_int8.py).
Scores: PESQ-WB, STOI and SI-SDR (hushkit.training.metrics) per clip, their means, and the
int8 deltas against float. Tensor errors: per hop, the dequantized int8 `mask` and
`state_out` against the float model streaming the same audio (free-running: includes the
drift of the int8 state over time) and against one float step from the int8 model's own
dequantized inputs (one hop: the error a single invocation adds).

The bar: int8 on TFLite Micro loses at most MAX_PESQ_LOSS PESQ-WB and MAX_SI_SDR_LOSS_DB dB
SI-SDR against float, on average.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

MAX_PESQ_LOSS = 0.05
MAX_SI_SDR_LOSS_DB = 0.3
METRICS = ("pesq_wb", "stoi", "si_sdr")
SYSTEMS = ("noisy", "float", "int8_litert", "int8_tflm")


def _pairs(eval_dir: Path, max_clips: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    from hushkit.training import datasets, sources

    pairs = sources.paired_clips(eval_dir)[:max_clips]
    out = []
    for clip, noisy_path in pairs:
        clean = datasets.read_audio(clip.path)[0]
        noisy = datasets.read_audio(noisy_path)[0]
        n = min(len(clean), len(noisy))
        out.append((clip.path.name, clean[:n], noisy[:n]))
    return out


def _scores(clean: np.ndarray, est: np.ndarray) -> dict[str, float]:
    from hushkit.training import metrics

    return {
        "pesq_wb": metrics.pesq_wb(clean, est),
        "stoi": metrics.stoi(clean, est),
        "si_sdr": metrics.si_sdr(clean, est),
    }


def _error(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"max_abs": float(d.max()), "mean_abs": float(d.mean())}


def tensor_errors(float_model, int8_model, audio: np.ndarray) -> dict[str, dict]:
    """Dequantized int8 outputs vs float, per hop, over one clip (see the module doc)."""
    import torch

    from hushkit.quantize import host_int8
    from hushkit.training.model import STFT, input_features

    _, dump = host_int8.stream(int8_model, audio)
    p = int8_model.params
    mask_q = p["mask"].dequantize(dump.mask)
    state_q = p["state_out"].dequantize(dump.state_out)
    with torch.no_grad():
        spec = STFT(float_model.args.dsp_config)(torch.from_numpy(audio)[None])
        feats = input_features(float_model.args, spec)[0][0]
        state = float_model.initial_state(1)
        masks, states = [], []
        for t in range(len(dump.mask)):
            m, state = float_model.step(feats[t : t + 1], state)
            masks.append(m[0].numpy())
            states.append(state[0].numpy())
        one_mask, one_state = float_model.step(
            torch.from_numpy(p["features"].dequantize(dump.features)),
            torch.from_numpy(p["state_in"].dequantize(dump.state_in)),
        )
    return {
        "mask": _error(mask_q, np.stack(masks)),
        "state": _error(state_q, np.stack(states)),
        "mask_one_hop": _error(mask_q, one_mask.numpy()),
        "state_one_hop": _error(state_q, one_state.numpy()),
    }


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def run(
    checkpoint: str | Path, tflite_path: str | Path, eval_dir: str | Path, max_clips: int = 8
) -> dict:
    """Score float and int8 on up to max_clips pairs of eval_dir (clean/ + noisy/)."""
    import torch

    from hushkit.quantize import host_int8
    from hushkit.training.checkpoint import load_model
    from hushkit.training.model import enhance_waveform

    float_model = load_model(checkpoint)
    data = Path(tflite_path).read_bytes()
    int8 = {rt: host_int8.Int8Model(data, rt) for rt in ("litert", "tflm")}
    pairs = _pairs(Path(eval_dir), max_clips)
    if not pairs:
        raise ValueError(f"{eval_dir}: no clips to score")
    per_clip = []
    errors = []
    lsb_mismatch = []
    for name, clean, noisy in pairs:
        with torch.no_grad():
            y_float = enhance_waveform(float_model, torch.from_numpy(noisy)[None])[0].numpy()
        outputs = {
            "noisy": noisy,
            "float": y_float,
            "int8_litert": host_int8.enhance(int8["litert"], noisy),
            "int8_tflm": host_int8.enhance(int8["tflm"], noisy),
        }
        per_clip.append({"clip": name} | {s: _scores(clean, y) for s, y in outputs.items()})
        errors.append(tensor_errors(float_model, int8["tflm"], noisy))
        _, d_tflm = host_int8.stream(int8["tflm"], noisy)
        _, d_lite = host_int8.stream(int8["litert"], noisy)
        lsb_mismatch.append(float(np.mean(d_tflm.mask != d_lite.mask)))
    mean = {s: {m: _mean([c[s][m] for c in per_clip]) for m in METRICS} for s in SYSTEMS}
    delta = {
        s: {m: mean[s][m] - mean["float"][m] for m in METRICS} for s in ("int8_litert", "int8_tflm")
    }
    tensor_error = {
        k: {
            "max_abs": max(e[k]["max_abs"] for e in errors),
            "mean_abs": float(np.mean([e[k]["mean_abs"] for e in errors])),
        }
        for k in errors[0]
    }
    d = delta["int8_tflm"]
    return {
        "checkpoint": str(checkpoint),
        "model": str(tflite_path),
        "eval_dir": str(eval_dir),
        "clips": len(pairs),
        "bar": {"max_pesq_loss": MAX_PESQ_LOSS, "max_si_sdr_loss_db": MAX_SI_SDR_LOSS_DB},
        "mean": mean,
        "delta_vs_float": delta,
        "tensor_error": tensor_error,
        "mask_bytes_tflm_vs_litert_differ": float(np.mean(lsb_mismatch)),
        "per_clip": per_clip,
        "passed": bool(d["pesq_wb"] >= -MAX_PESQ_LOSS and d["si_sdr"] >= -MAX_SI_SDR_LOSS_DB),
    }


def to_markdown(report: dict) -> str:
    lines = [
        f"# int8 parity: {Path(report['model']).name} vs {Path(report['checkpoint']).name}",
        "",
        f"{report['clips']} held-out clips from `{report['eval_dir']}`; mean scores.",
        "",
        "| system | PESQ-WB | STOI | SI-SDR (dB) |",
        "|---|---|---|---|",
    ]
    for s in SYSTEMS:
        m = report["mean"][s]
        lines.append(f"| {s} | {m['pesq_wb']:.3f} | {m['stoi']:.3f} | {m['si_sdr']:.2f} |")
    lines += ["", "| int8 vs float | ΔPESQ-WB | ΔSTOI | ΔSI-SDR (dB) |", "|---|---|---|---|"]
    for s, d in report["delta_vs_float"].items():
        lines.append(f"| {s} | {d['pesq_wb']:+.3f} | {d['stoi']:+.4f} | {d['si_sdr']:+.3f} |")
    lines += [
        "",
        "| tensor (TFLM, dequantized) | max abs error | mean abs error |",
        "|---|---|---|",
    ]
    for k, e in report["tensor_error"].items():
        lines.append(f"| {k} | {e['max_abs']:.4f} | {e['mean_abs']:.5f} |")
    bar = report["bar"]
    verdict = "PASS" if report["passed"] else "FAIL"
    lines += [
        "",
        f"Mask bytes where TFLM and LiteRT differ: "
        f"{100 * report['mask_bytes_tflm_vs_litert_differ']:.2f} %.",
        "",
        f"Bar (int8 TFLM vs float): ΔPESQ-WB ≥ -{bar['max_pesq_loss']}, "
        f"ΔSI-SDR ≥ -{bar['max_si_sdr_loss_db']} dB: **{verdict}**",
    ]
    return "\n".join(lines) + "\n"


def save(report: dict, out_dir: str | Path) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "parity.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (out / "parity.md").write_text(to_markdown(report))
