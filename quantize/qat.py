"""Quantization-aware fine-tuning: teach the float MaskNet to live on the int8 grids.

Used by `hushkit quantize --qat` when post-training quantization alone loses too much. The
network runs hop by hop as the int8 graph does (keras_mirror.py), with every value that the
converter puts on an int8 grid fake-quantized (round to the grid, clamp; gradients pass
straight through inside the range, TFLite's scheme):

- weights: symmetric int8 per output channel (scale = max|w| / 127), fc_in after the feature
  normalisation is folded into it, as the converter sees it;
- the features input and every FULLY_CONNECTED / ADD result before an activation:
  asymmetric int8 over a running min/max (what the converter's calibration measures);
- outputs whose grid the converter fixes: tanh (fc_in, GRU candidate) 1/128 zero point 0,
  sigmoid (reset/update gates, mask) 1/256 zero point -128, the GRU state 1/128 zero point 0.

Biases stay float (int32 in the model: their rounding is far below one output step). After
fine-tuning the float weights are converted as usual; the converter recalibrates its ranges.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Iterator

import torch

from hushkit.training.model import STFT, MaskNet, log_power

TANH_GRID = (1.0 / 128.0, 0)  # (scale, zero point) TFLite fixes for int8 TANH outputs
SIGMOID_GRID = (1.0 / 256.0, -128)  # and for int8 LOGISTIC outputs
STATE_GRID = (1.0 / 128.0, 0)  # keras_mirror.STATE_MIN..STATE_MAX
RANGE_MOMENTUM = 0.99  # running min/max of observed ranges, per training step


@dataclasses.dataclass
class QATConfig:
    steps: int = 300
    lr: float = 1e-4  # small: the float model is already trained; this only nudges it
    batch_size: int = 8
    segment_seconds: float = 2.0  # 250 hops at 8 ms: enough for the GRU state to settle
    grad_clip: float = 1.0
    compress: float = 0.3  # the trainer's loss settings (TrainConfig)
    complex_weight: float = 0.3
    distortion_weight: float = 1.0
    seed: int = 0


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
            lo, hi = x.detach().min().clamp_max(0.0), x.detach().max().clamp_min(0.0)
            if self.seen:
                lo = RANGE_MOMENTUM * self.lo + (1 - RANGE_MOMENTUM) * lo
                hi = RANGE_MOMENTUM * self.hi + (1 - RANGE_MOMENTUM) * hi
            self.lo.copy_(lo)
            self.hi.copy_(hi)
            self.seen = True
        scale = max(float(self.hi - self.lo) / 255.0, 1e-8)
        zero_point = int(max(-128, min(127, round(-128 - float(self.lo) / scale))))
        return fake_quant(x, (scale, zero_point))


class QATMaskNet(torch.nn.Module):
    """The MaskNet's parameters, run as the int8 one-hop graph computes them."""

    def __init__(self, model: MaskNet):
        super().__init__()
        self.model = model
        names = ("features", "fc_in", "r", "z", "hn", "n", "fc_out")
        self.ranges = torch.nn.ModuleDict({k: RangeQuant() for k in names})

    def _gates(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(fake-quantized weight, bias) of the six GRU Dense layers: xr xz xn hr hz hn."""
        g = self.model.gru
        w = [*g.weight_ih_l0.chunk(3), *g.weight_hh_l0.chunk(3)]
        b = [*g.bias_ih_l0.chunk(3), *g.bias_hh_l0.chunk(3)]
        return [(fake_quant_weight(wi), bi) for wi, bi in zip(w, b, strict=True)]

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, n_bins) log-power features -> (B, T, n_bins) mask."""
        m, q = self.model, self.ranges
        w_in = m.fc_in.weight / m.feat_std  # normalisation folded, as in keras_mirror
        b_in = m.fc_in.bias - w_in @ m.feat_mean
        pre = q["fc_in"](q["features"](feats) @ fake_quant_weight(w_in).T + b_in)
        x = fake_quant(torch.tanh(pre), TANH_GRID)
        (wxr, bxr), (wxz, bxz), (wxn, bxn), (whr, bhr), (whz, bhz), (whn, bhn) = self._gates()
        # The input-side Dense layers do not depend on the state: all hops at once.
        xr, xz, xn = x @ wxr.T + bxr, x @ wxz.T + bxz, x @ wxn.T + bxn
        h = torch.zeros(feats.shape[0], m.args.hidden, dtype=feats.dtype)
        states = []
        for t in range(feats.shape[1]):
            r = fake_quant(torch.sigmoid(q["r"](xr[:, t] + h @ whr.T + bhr)), SIGMOID_GRID)
            z = fake_quant(torch.sigmoid(q["z"](xz[:, t] + h @ whz.T + bhz)), SIGMOID_GRID)
            n_pre = q["n"](xn[:, t] + r * q["hn"](h @ whn.T + bhn))
            n = fake_quant(torch.tanh(n_pre), TANH_GRID)
            h = fake_quant(n + z * (h - n), STATE_GRID)
            states.append(h)
        y = torch.stack(states, dim=1)
        logits = q["fc_out"](y @ fake_quant_weight(m.fc_out.weight).T + m.fc_out.bias)
        return fake_quant(torch.sigmoid(logits), SIGMOID_GRID)


def mixture_batches(data_dir: str, cfg: QATConfig) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless (noisy, clean) (B, L) batches of fresh training mixtures from `hushkit data`."""
    from hushkit.training import datasets
    from hushkit.training.mixing import MixConfig

    dataset = datasets.open_mixtures(
        data_dir,
        split="train",
        config=MixConfig(segment_seconds=cfg.segment_seconds),
        length=cfg.steps * cfg.batch_size,
        seed=cfg.seed,
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size)
    for epoch in itertools.count():
        dataset.set_epoch(epoch)
        yield from loader


def finetune(
    model: MaskNet,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    cfg: QATConfig,
    log_every: int = 50,
) -> MaskNet:
    """Fine-tune `model` in place with fake quantization for cfg.steps; returns it in eval mode."""
    from hushkit.training.losses import spectral_loss

    torch.manual_seed(cfg.seed)
    net = QATMaskNet(model).train()
    stft = STFT(model.args.dsp_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    losses: list[float] = []
    for step in range(cfg.steps):
        noisy, clean = next(batches)
        noisy_spec, clean_spec = stft(noisy.float()), stft(clean.float())
        mask = net(log_power(noisy_spec))
        loss = spectral_loss(
            mask * noisy_spec, clean_spec, cfg.compress, cfg.complex_weight, cfg.distortion_weight
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        if log_every and ((step + 1) % log_every == 0 or step + 1 == cfg.steps):
            recent = losses[-log_every:]
            print(
                f"qat step {step + 1}/{cfg.steps}: loss {sum(recent) / len(recent):.4f}",
                file=sys.stderr,
            )
    return model.eval()
