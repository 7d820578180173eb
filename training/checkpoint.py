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
import pickle
from pathlib import Path
from typing import Any

import torch

from hushkit.errors import InputError
from hushkit.training.model import StreamNet, build_model

CHECKPOINT_FORMAT = 1


def save(path: str | Path, model: StreamNet, **extra: Any) -> None:
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


class CheckpointError(InputError, ValueError):
    """A file that is not a checkpoint this hushkit can safely use."""


def load(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint without running any code it might carry.

    `weights_only=True` restricts unpickling to tensors and plain containers, so a crafted
    file cannot execute anything; it is refused instead. Weights that are not finite are
    refused too: such a network would write noise at full scale.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory, not a file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # a class or function the pickle would call
            raise CheckpointError(
                f"{path} holds Python objects, not only weights: refusing to load it "
                "(unpickling it could run code). Re-save it with hushkit, or load it "
                "yourself only if you trust where it came from"
            ) from None
        raise CheckpointError(f"{path} is not a readable hushkit checkpoint (not a torch "
                              "file, or damaged)") from None
    except Exception as exc:  # torch raises several types for a truncated or corrupt file
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} is not a readable hushkit checkpoint ({detail})") from None
    if not isinstance(payload, dict) or "format" not in payload or "state_dict" not in payload:
        raise CheckpointError(f"{path} is not a hushkit checkpoint (no format/state_dict)")
    version = payload["format"]
    if version != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is checkpoint format {version!r}; this hushkit reads format "
            f"{CHECKPOINT_FORMAT}" + (": upgrade hushkit" if isinstance(version, int)
                                      and version > CHECKPOINT_FORMAT else "")
        )
    return payload


def _check_weights(path: Path, state_dict: dict) -> None:
    for name, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: state_dict entry {name} is not a tensor")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"{path}: weights {name} hold NaN or Inf: refusing to run this model"
            )


def load_model(path: str | Path) -> StreamNet:
    """Rebuild the network stored in a checkpoint, in eval mode."""
    path = Path(path)
    payload = load(path)
    model = None
    try:
        model = build_model(payload["model_args"])
        _check_weights(path, payload["state_dict"])
        model.load_state_dict(payload["state_dict"])
    except CheckpointError:
        raise
    except (TypeError, KeyError, RuntimeError, ValueError) as exc:
        detail = str(exc).splitlines()[0]
        what = type(model).__name__ if model is not None else "a known architecture"
        raise CheckpointError(f"{path}: the stored network does not fit {what} ({detail})") \
            from None
    return model.eval()
