"""`hushkit train`: train the streaming mask network on mixtures made on the fly.

Single process:           hushkit train --config training/configs/default.toml
Several processes (DDP):  torchrun --nproc_per_node=2 -m hushkit.training.train --config ...

Under torchrun each process draws different mixtures (seeded by rank), gradients are averaged
by DistributedDataParallel (gloo on CPU, NCCL on GPU), and rank 0 alone validates, writes
checkpoints and shows the progress bar. A run directory holds:

    config.toml   the resolved configuration
    last.pt       the latest checkpoint (model, optimizer, progress) — `--resume` continues it
    best.pt       the checkpoint with the best validation SI-SDR improvement
    history.json  per-epoch training loss and validation metrics
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hushkit.training.config import TrainConfig
from hushkit.training.losses import enhancement_loss, si_sdr

if TYPE_CHECKING:
    from hushkit.training.model import OperatingPoint

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.toml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the streaming mask network",
        description=(
            "Train the causal mask network on speech and noise mixed on the fly. Every key of "
            "the TOML config can be overridden as key=value; the resolved config is saved in "
            "the run directory. Runs unchanged under `torchrun --nproc_per_node=N`."
        ),
        epilog="example: hushkit train --config training/configs/default.toml epochs=5 hidden=48",
    )
    _add_arguments(p)
    p.set_defaults(func=_cli)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="TOML file (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys")


def _cli(args: argparse.Namespace) -> int:
    cfg = TrainConfig.from_toml(args.config, args.overrides)
    train(cfg, resume=args.resume)
    return 0


# --------------------------------------------------------------------------- distributed


def _dist_setup() -> tuple[int, int]:
    """Join the process group when launched by torchrun; (rank, world_size)."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    return dist.get_rank(), world


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- data


def _training_batches(cfg: TrainConfig, rank: int, world: int):
    """An endless iterator of (noisy, clean) float tensors (B, L) mixed on the fly.

    Each process draws its own mixtures (seed offset by rank) and fresh ones every pass.
    """
    import torch

    from hushkit.training import datasets

    dataset = datasets.open_mixtures(
        cfg.data_dir,
        split="train",
        config=cfg.mix_config(),
        length=cfg.steps_per_epoch * cfg.batch_size,
        seed=cfg.seed + 1000 * rank,
        exclude_speech_sources=cfg.excluded_speech_sources(),
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch_size, num_workers=cfg.num_workers
    )
    for epoch in itertools.count():
        dataset.set_epoch(epoch)
        yield from loader


def _validation_set(cfg: TrainConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    from hushkit.training.evaluate import load_set

    valset = Path(cfg.data_dir) / "valset"
    return [(c.noisy, c.clean) for c in load_set(valset, limit=cfg.val_clips)]


def _fit_normalisation(model, batches, n_batches: int = 8) -> None:
    """Set the per-bin feature mean/std from training mixtures (folded into W_in at export)."""
    import torch

    from hushkit.training.model import STFT, input_features

    stft = STFT(model.args.dsp_config)
    feats = []
    with torch.no_grad():
        for _ in range(n_batches):
            noisy, _clean = next(batches)
            f, _ = input_features(model.args, stft(noisy.float()))
            feats.append(f.reshape(-1, f.shape[-1]))
    feats = torch.cat(feats)
    model.feat_mean.copy_(feats.mean(0))
    model.feat_std.copy_(feats.std(0).clamp_min(1e-3))


def _load_adding_floor_feature(model, state_dict) -> None:
    """Start a network with the floor feature from one without it: the new inputs get zero
    weights and their own normalisation, so it begins as the network it came from."""
    import torch

    n_old = state_dict["feat_mean"].numel()
    weight = model.fc_in.weight.detach().clone()
    weight[:, :n_old] = state_dict["fc_in.weight"]
    weight[:, n_old:] = 0.0
    widened = dict(state_dict)
    widened["fc_in.weight"] = weight
    for key in ("feat_mean", "feat_std"):
        buffer = getattr(model, key).detach().clone()
        buffer[:n_old] = state_dict[key]
        widened[key] = buffer
    with torch.no_grad():
        model.load_state_dict(widened)


def validate(model, val_set) -> dict:
    """Mean SI-SDR of noisy and enhanced validation clips, and the improvement."""
    import torch

    from hushkit.training.model import enhance_waveform

    noisy_sdr, enh_sdr = [], []
    model.eval()
    with torch.no_grad():
        for noisy, clean in val_set:
            x = torch.from_numpy(noisy).float()[None]
            s = torch.from_numpy(clean).float()[None]
            y = enhance_waveform(model, x)
            noisy_sdr.append(si_sdr(s, x).item())
            enh_sdr.append(si_sdr(s, y).item())
    model.train()
    return {
        "si_sdr_noisy": float(np.mean(noisy_sdr)),
        "si_sdr": float(np.mean(enh_sdr)),
        "si_sdr_improvement": float(np.mean(enh_sdr) - np.mean(noisy_sdr)),
    }


# --------------------------------------------------------------------------- training loop


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train per `cfg`; returns the path of the best checkpoint."""
    import torch
    from tqdm import tqdm

    from hushkit.training import checkpoint
    from hushkit.training.model import (
        STFT,
        MaskNet,
        ModelArgs,
        OperatingPoint,
        build_model,
        input_features,
    )

    rank, world = _dist_setup()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    _seed_everything(cfg.seed)
    run_dir = Path(cfg.run_dir)
    is_main = rank == 0
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.toml").write_text(cfg.to_toml())

    # The network keys of the config are ModelArgs' fields, named alike.
    network_keys = [f.name for f in dataclasses.fields(ModelArgs)]
    model = MaskNet(ModelArgs(**{key: getattr(cfg, key) for key in network_keys}))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    batches = _training_batches(cfg, rank, world)
    start_epoch, step, history, best = 0, 0, [], -math.inf

    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    if resume:
        if not last_path.exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {last_path}")
        state = checkpoint.load(last_path)
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, step = state["epoch"] + 1, state["step"]
        history = state.get("history", [])
        best = max((h["si_sdr_improvement"] for h in history), default=-math.inf)
        if is_main:
            print(f"resuming {last_path} at epoch {start_epoch + 1}", file=sys.stderr)
    elif cfg.init_from:
        start = checkpoint.load(cfg.init_from)
        # Rebuilt from its model_args, so arguments added since it was saved take their
        # defaults (a checkpoint from before out_bands existed is a per-bin network).
        held = dataclasses.asdict(build_model(start["model_args"]).args)
        wanted = dataclasses.asdict(model.args)
        if held == wanted:
            model.load_state_dict(start["state_dict"])  # its feature normalisation included
        elif held | {"floor_feature": True} == wanted:
            _fit_normalisation(model, batches)
            _load_adding_floor_feature(model, start["state_dict"])
        else:
            raise checkpoint.CheckpointError(
                f"init_from={cfg.init_from} holds a different network {held}, this run builds "
                f"{wanted}; set the config's network keys ({', '.join(network_keys)}) to match"
            )
    else:
        _fit_normalisation(model, batches)

    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    stft = STFT(model.args.dsp_config)
    val_set = _validation_set(cfg) if is_main else []
    total_steps = cfg.epochs * cfg.steps_per_epoch
    started = time.monotonic()
    out_of_time = False

    if is_main:
        budget = model.budget()
        print(
            f"model: {budget['parameters']} parameters, {budget['macs_per_second'] / 1e6:.2f} M "
            f"MAC/s, {budget['latency_ms']:.0f} ms algorithmic latency; {world} process(es)",
            file=sys.stderr,
        )

    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        bar = tqdm(
            range(cfg.steps_per_epoch),
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not is_main,
            leave=False,
            dynamic_ncols=True,
        )
        losses, skipped = [], 0
        for _ in bar:
            progress = min(step / max(total_steps, 1), 1.0)
            lr = cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * progress))
            for group in optimizer.param_groups:
                group["lr"] = lr
            noisy, clean = next(batches)
            noisy_spec, clean_spec = stft(noisy.float()), stft(clean.float())
            with torch.no_grad():
                feats, _ = input_features(model.args, noisy_spec)
            mask, _ = net(feats)
            loss = enhancement_loss(mask * noisy_spec, clean_spec, stft.inverse, cfg)
            step += 1
            if optimizer_step(model.parameters(), optimizer, loss, cfg.grad_clip):
                losses.append(loss.item())
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", lr=f"{lr:.1e}")
            else:
                skipped += 1
            if cfg.max_minutes and time.monotonic() - started > 60 * cfg.max_minutes:
                out_of_time = True
                break
        if world > 1:  # every rank must agree to stop on the time budget
            flag = torch.tensor([float(out_of_time)])
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            out_of_time = bool(flag.item())

        if is_main:
            metrics = validate(model, val_set) if val_set else {"si_sdr_improvement": 0.0}
            train_loss = float(np.mean(losses)) if losses else math.nan
            metrics.update(epoch=epoch + 1, step=step, train_loss=train_loss)
            if skipped:
                metrics["skipped_steps"] = skipped
            history.append(metrics)
            print(
                f"epoch {epoch + 1}/{cfg.epochs}: loss {metrics['train_loss']:.4f}, "
                f"val SI-SDR {metrics.get('si_sdr', float('nan')):.2f} dB "
                f"(+{metrics['si_sdr_improvement']:.2f} dB over noisy)"
                + (f", {skipped} non-finite steps skipped" if skipped else ""),
                file=sys.stderr,
            )
            extra = dict(
                config=cfg.__dict__.copy(),
                epoch=epoch,
                step=step,
                metrics=metrics,
                history=history,
            )
            checkpoint.save(last_path, model, optimizer=optimizer.state_dict(), **extra)
            if metrics["si_sdr_improvement"] > best:
                best = metrics["si_sdr_improvement"]
                checkpoint.save(best_path, model, **extra)
            (run_dir / "history.json").write_text(json.dumps(history, indent=2))
        if out_of_time:
            if is_main:
                print(f"time budget of {cfg.max_minutes} min reached", file=sys.stderr)
            break

    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    point = OperatingPoint.of_config(cfg)
    if is_main and point and best_path.exists():
        shift_output_bias(best_path, point)
    return best_path


def optimizer_step(params, optimizer, loss, grad_clip: float) -> bool:
    """Backpropagate `loss`, clip the gradient norm to `grad_clip` and step; False, with no
    step, when the loss or the gradient is not finite (one such step would make every weight
    NaN). Under DDP every rank sees the same reduced gradient, so all skip together."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    if not (torch.isfinite(loss) and torch.isfinite(norm)):
        return False
    optimizer.step()
    return True


def shift_output_bias(path: Path, point: OperatingPoint) -> None:
    """Set the operating point of the checkpoint at `path`: scale every mask logit by
    `point.scale`, then add `point.shift` to it and `point.outside_offset` more to the bins
    outside `point.band_hz`.

    The training mixtures reward removing every trace of noise; on voices and noises from
    elsewhere that costs speech. A positive shift raises every gain (sigmoid(z + shift)), so
    the model keeps more of what it is unsure about; a negative outside-band offset then takes
    the hum, rumble and hiss outside the speech band down again, where little speech is lost;
    a scale below 1 softens the mask of a network over-confident on unfamiliar voices. All
    three are folded into the output layer's weights and bias, so the int8 graph and the
    firmware are unchanged. They are chosen on the held-out-source set. An operating point
    the checkpoint already carries is replaced, not added to; the weights without one stay
    in `<name>_unshifted.pt`.
    """
    from hushkit.training import checkpoint
    from hushkit.training.model import OperatingPoint

    payload = checkpoint.load(path)
    model = checkpoint.load_model(path)
    OperatingPoint.of(payload).apply(model, sign=-1.0)
    extra = {k: v for k, v in payload.items() if k not in ("format", "model_args", "dsp",
                                                            "state_dict")}  # fmt: skip
    checkpoint.save(path.with_name(path.stem + "_unshifted.pt"), model,
                    **{**extra, **OperatingPoint().as_extra()})  # fmt: skip
    point.apply(model)
    checkpoint.save(path, model, **{**extra, **point.as_extra()})


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m hushkit.training.train` (what torchrun launches)."""
    parser = argparse.ArgumentParser(prog="hushkit train")
    _add_arguments(parser)
    return _cli(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
