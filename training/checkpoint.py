"""Checkpoints that carry everything needed to rebuild and continue a run.

A checkpoint is one `torch.save` dict:
    format        CHECKPOINT_FORMAT, bumped when the layout changes
    model_args    ModelArgs as a dict (so the quantizer never guesses shapes)
    dsp           the resolved DSP configuration (hushkit.training.dsp.DSPConfig.to_dict())
    config        the resolved training configuration
    state_dict    the network's weights and normalisation buffers
    optimizer     optimizer state (training checkpoints only; absent in released models)
    epoch, step   progress, for --resume
    metrics       validation metrics of this epoch
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from hushkit.training.model import MaskNet, ModelArgs

CHECKPOINT_FORMAT = 1


def save(path: str | Path, model: MaskNet, **extra: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_args": dataclasses.asdict(model.args),
        "dsp": model.args.dsp_config.to_dict(),
        "state_dict": model.state_dict(),
        **extra,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint behind


def load(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise ValueError(f"{path} is not a readable hushkit checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a hushkit checkpoint (format {CHECKPOINT_FORMAT})")
    return payload


def load_model(path: str | Path) -> MaskNet:
    """Rebuild the network stored in a checkpoint, in eval mode."""
    payload = load(path)
    model = MaskNet(ModelArgs(**payload["model_args"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval()
