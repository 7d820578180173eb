"""Quantization-aware fine-tuning: teach a float network to live on the int8 grids.

Used by `hushkit quantize --qat` when post-training quantization alone loses too much. The
network runs its own one-hop step (`StreamNet.trace_sequence`) on `FakeQuantOps`, so every
value the int8 graph holds as a tensor is fake-quantized (rounded to its grid and clamped;
gradients pass straight through inside the range, TFLite's scheme), with no second copy of the
network:

- dense weights: symmetric int8 per output channel (scale = max|w| / 127), the first layer's
  after the feature normalisation is folded into it, as the converter sees it;
- the features input and every dense / add / sub / mul result: asymmetric int8 over a running
  min/max (what the converter's calibration measures), one range per operation name;
- outputs whose grid the converter fixes: tanh 1/128 zero point 0, sigmoid 1/256 zero point
  -128, the recurrent state 1/128 zero point 0 (hushkit.contract).

Biases stay float (int32 in the model: their rounding is far below one output step). After
fine-tuning the float weights are converted as usual; the converter recalibrates its ranges.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Iterator

import torch

from hushkit import contract
from hushkit.quantize.qat_config import QATConfig
from hushkit.training.config import TrainConfig
from hushkit.training.layers import StreamNet, activate
from hushkit.training.model import STFT, OperatingPoint, input_features

RANGE_MOMENTUM = 0.99  # running min/max of observed ranges, per observation
ACTIVATION_GRIDS = {"tanh": contract.TANH_GRID, "sigmoid": contract.SIGMOID_GRID}


def fake_quant(x: torch.Tensor, grid: tuple[float, int]) -> torch.Tensor:
    scale, zero_point = grid
    return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, -128, 127)


def fake_quant_weight(w: torch.Tensor) -> torch.Tensor:
    """[out, in] weight on TFLite's per-channel symmetric int8 grid (-127..127)."""
    scale = (w.detach().abs().amax(dim=1) / 127.0).clamp_min(1e-12).float()
    zero = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -127, 127)


class RangeQuant(torch.nn.Module):
    """Asymmetric int8 fake-quant over a running (min, max) that always contains 0."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))
        self.seen = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self._observe(x.detach().min().clamp_max(0.0), x.detach().max().clamp_min(0.0))
        scale = max(float(self.hi - self.lo) / 255.0, 1e-8)
        zero_point = int(max(-128, min(127, round(-128 - float(self.lo) / scale))))
        return fake_quant(x, (scale, zero_point))

    def _observe(self, lo: torch.Tensor, hi: torch.Tensor) -> None:
        if not bool(torch.isfinite(lo) & torch.isfinite(hi)):
            return  # a non-finite batch (finetune skips its step) leaves the range as it was
        if self.seen:
            lo = RANGE_MOMENTUM * self.lo + (1 - RANGE_MOMENTUM) * lo
            hi = RANGE_MOMENTUM * self.hi + (1 - RANGE_MOMENTUM) * hi
        self.lo.copy_(lo)
        self.hi.copy_(hi)
        self.seen = True


class FakeQuantOps(torch.nn.Module):
    """The `hushkit.training.layers.Ops` backend of quantization-aware training."""

    fold_normalization = True

    def __init__(self) -> None:
        super().__init__()
        self.ranges = torch.nn.ModuleDict()

    def _range(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if name not in self.ranges:
            self.ranges[name] = RangeQuant().train(self.training)
        return self.ranges[name](x)

    def input(self, name, x):
        return self._range(name, x)

    def dense(self, name, x, weight, bias):
        return self._range(name, x @ fake_quant_weight(weight).T + bias)

    def add(self, name, a, b):
        return self._range(name, a + b)

    def sub(self, name, a, b):
        return self._range(name, a - b)

    def mul(self, name, a, b):
        return self._range(name, a * b)

    def activation(self, name, kind, x):
        return fake_quant(activate(kind, x), ACTIVATION_GRIDS[kind])

    def state(self, name, x):
        return fake_quant(x, contract.STATE_GRID)

    def select(self, name, x, start, size):
        return x[..., start : start + size]  # exact in int8 (see keras_graph)

    def concat(self, name, xs):
        return torch.cat(xs, dim=-1)  # inputs and output share the state grid: exact


def mixture_batches(
    data_dir: str, cfg: QATConfig, train_cfg: TrainConfig | None = None
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless (noisy, clean) (B, L) batches of fresh training mixtures from `hushkit data`,
    mixed and augmented as `train_cfg` (the checkpoint's training stage) mixed them, in
    cfg.segment_seconds segments; default mixing without it."""
    import dataclasses

    from hushkit.training import datasets
    from hushkit.training.mixing import MixConfig

    if train_cfg is None:
        mix, excluded = MixConfig(segment_seconds=cfg.segment_seconds), []
    else:
        mix = dataclasses.replace(train_cfg.mix_config(), segment_seconds=cfg.segment_seconds)
        excluded = train_cfg.excluded_speech_sources()
    dataset = datasets.open_mixtures(
        data_dir,
        split="train",
        config=mix,
        length=cfg.steps * cfg.batch_size,
        seed=cfg.seed,
        exclude_speech_sources=excluded,
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size)
    for epoch in itertools.count():
        dataset.set_epoch(epoch)
        yield from loader


def finetune(
    model: StreamNet,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    cfg: QATConfig,
    log_every: int = 50,
) -> StreamNet:
    """Fine-tune `model` in place with fake quantization for cfg.steps; returns it in eval mode."""
    from hushkit.training.losses import enhancement_loss
    from hushkit.training.train import optimizer_step

    torch.manual_seed(cfg.seed)
    point = OperatingPoint.of(dataclasses.asdict(cfg))
    point.apply(model, sign=-1.0)
    ops = FakeQuantOps().train()
    stft = STFT(model.args.dsp_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    losses: list[float] = []
    skipped = 0
    for step in range(cfg.steps):
        noisy, clean = next(batches)
        noisy_spec, clean_spec = stft(noisy.float()), stft(clean.float())
        with torch.no_grad():
            feats, _ = input_features(model.args, noisy_spec)
        mask = model.trace_sequence(ops, feats)
        loss = enhancement_loss(mask * noisy_spec, clean_spec, stft.inverse, cfg)
        if not optimizer_step(model.parameters(), optimizer, loss, cfg.grad_clip):
            skipped += 1
            continue
        losses.append(loss.item())
        if log_every and ((step + 1) % log_every == 0 or step + 1 == cfg.steps):
            recent = losses[-log_every:]
            print(
                f"qat step {step + 1}/{cfg.steps}: loss {sum(recent) / len(recent):.4f}"
                + (f" ({skipped} non-finite batches skipped)" if skipped else ""),
                file=sys.stderr,
            )
    point.apply(model)
    return model.eval()
