"""The layers hushkit networks are built from, each written once.

Every layer has two computations:
- `sequence(x, state)`: the float computation over whole clips, (B, T, F) at once, for
  training (the fused `nn.GRU` loop, a real `conv1d`);
- `step(ops, name, x, state)`: one hop, written with the operations of an `Ops` backend.

One step definition serves every later stage, because the backend decides what an operation
does: `FloatOps` (here) computes in float (the streaming step, calibration, parity);
`hushkit.quantize.qat.FakeQuantOps` rounds each result onto the int8 grid the converter will
give it (quantization-aware training); `hushkit.quantize.keras_graph.KerasOps` emits one Keras
layer per operation, which the TFLite converter turns into the int8 model. The operations map
one to one onto the firmware engine's int8 kernels:

    dense       FULLY_CONNECTED (per-output-channel int8 weights, int32 bias)
    add/sub/mul ADD / SUB / MUL
    activation  TANH / LOGISTIC (output grids fixed by TFLite)
    state       a value on the recurrent state's fixed int8 grid (hushkit.contract)
    select      a slice of the state vector (FULLY_CONNECTED with a 0/1 matrix: exact)
    concat      CONCATENATION

A network (`StreamNet`) is a stack of these layers: its children in registration order. The
first layer must be affine (the feature normalisation is folded into it); the recurrent
layers' states are concatenated, in layer order, into the model's one state vector; the last
layer ends in a sigmoid (the mask). Streaming hop by hop equals the whole-clip computation.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("tanh", "sigmoid")


class Ops(Protocol):
    """The operations a layer's `step` is written with (see the module docstring)."""

    fold_normalization: bool  # True: fold the feature normalisation into the first layer

    def input(self, name: str, x): ...
    def dense(self, name: str, x, weight: torch.Tensor, bias: torch.Tensor): ...
    def add(self, name: str, a, b): ...
    def sub(self, name: str, a, b): ...
    def mul(self, name: str, a, b): ...
    def activation(self, name: str, kind: str, x): ...
    def state(self, name: str, x): ...
    def select(self, name: str, x, start: int, size: int): ...
    def concat(self, name: str, xs: list): ...


class FloatOps:
    """Plain float PyTorch: every operation is what it says."""

    fold_normalization = False

    def input(self, name, x):
        return x

    def dense(self, name, x, weight, bias):
        return F.linear(x, weight, bias)

    def add(self, name, a, b):
        return a + b

    def sub(self, name, a, b):
        return a - b

    def mul(self, name, a, b):
        return a * b

    def activation(self, name, kind, x):
        return activate(kind, x)

    def state(self, name, x):
        return x

    def select(self, name, x, start, size):
        return x[..., start : start + size]

    def concat(self, name, xs):
        return torch.cat(xs, dim=-1)


def activate(kind: str | None, x: torch.Tensor) -> torch.Tensor:
    if kind is None:
        return x
    return torch.tanh(x) if kind == "tanh" else torch.sigmoid(x)


def _check_activation(kind: str | None) -> None:
    if kind is not None and kind not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS} or None, got {kind!r}")


Norm = tuple[torch.Tensor, torch.Tensor]  # (mean, std) per input feature


class StreamLayer:
    """Mixin of every layer a StreamNet is built from."""

    state_size = 0  # recurrent state values carried from hop to hop
    in_features: int
    out_features: int

    def macs(self) -> int:
        """Multiply-accumulates of one hop on the device."""
        raise NotImplementedError


class Affine(StreamLayer):
    """A layer that is y = act(W x + b) for one hop (W [out, in] from `affine()`)."""

    activation: str | None

    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def step(self, ops: Ops, name: str, x, state=None, norm: Norm | None = None):
        weight, bias = self.affine()
        if norm is not None:  # W' = W / std per input, b' = b - W' mean: no op on the input
            mean, std = norm
            weight = weight / std[None, :]
            bias = bias - weight @ mean
        y = ops.dense(name, x, weight, bias)
        if self.activation is not None:
            y = ops.activation(f"{name}_{self.activation}", self.activation, y)
        return y, None

    def macs(self) -> int:
        return self.in_features * self.out_features


class Dense(nn.Linear, Affine):
    """nn.Linear with an optional tanh/sigmoid: FULLY_CONNECTED (+ TANH/LOGISTIC)."""

    def __init__(self, in_features: int, out_features: int, activation: str | None = None):
        super().__init__(in_features, out_features)
        _check_activation(activation)
        self.activation = activation

    def affine(self):
        return self.weight, self.bias

    def sequence(self, x, state=None):
        return activate(self.activation, F.linear(x, self.weight, self.bias)), None


class BandDense(nn.Linear, Affine):
    """A Dense whose outputs are a fixed interpolation of fewer band outputs:
    y = act(B (W x + b)), B a constant (out_features, n_bands) matrix (e.g.
    `dsp.erb_interpolation`). Only W and b (n_bands rows) are trained, so the result is
    smooth across bins; per hop it is the folded product B W, one FULLY_CONNECTED the size of
    a plain Dense from in_features to out_features, so it costs the device nothing extra."""

    def __init__(self, in_features: int, interpolation, activation: str | None = None):
        interpolation = torch.as_tensor(interpolation, dtype=torch.float32)
        super().__init__(in_features, interpolation.shape[1])
        _check_activation(activation)
        self.activation = activation
        self.register_buffer("interpolation", interpolation, persistent=False)
        self.out_features = interpolation.shape[0]
        self.n_bands = interpolation.shape[1]

    def affine(self):
        return self.interpolation @ self.weight, self.interpolation @ self.bias

    def sequence(self, x, state=None):
        y = F.linear(F.linear(x, self.weight, self.bias), self.interpolation)
        return activate(self.activation, y), None


class Conv(nn.Conv1d, Affine):
    """A (grouped) 1-D convolution across one hop's feature vector, read as
    (in_channels, in_length) channel-major; the output is (out_channels, out_length) flattened
    the same way. Per hop it is a linear map, so on the device it runs as one
    FULLY_CONNECTED whose rows hold the kernel at each output position."""

    def __init__(
        self,
        in_channels: int,
        in_length: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        activation: str | None = None,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, groups=groups)
        _check_activation(activation)
        self.activation = activation
        self.in_length = in_length
        self.out_length = (in_length + 2 * padding - kernel_size) // stride + 1
        if self.out_length < 1:
            raise ValueError("convolution kernel longer than its padded input")
        self.in_features = in_channels * in_length
        self.out_features = out_channels * self.out_length

    def _conv(self, x, bias):
        return F.conv1d(x, self.weight, bias, self.stride, self.padding, 1, self.groups)

    def affine(self):
        n = self.in_features
        basis = torch.eye(n, dtype=self.weight.dtype).view(n, self.in_channels, self.in_length)
        weight = self._conv(basis, None).reshape(n, self.out_features).T
        return weight, self.bias.repeat_interleave(self.out_length)

    def sequence(self, x, state=None):
        batch, frames, _ = x.shape
        y = self._conv(x.reshape(batch * frames, self.in_channels, self.in_length), self.bias)
        return activate(self.activation, y.reshape(batch, frames, self.out_features)), None


class GRU(nn.GRU, StreamLayer):
    """One GRU layer (PyTorch gate equations); the state is its hidden vector.

    Per hop, one Dense per gate and operand (input x, state h), so no SPLIT is needed:
        r = sigmoid(W_xr x + b_xr + W_hr h + b_hr)        z likewise
        n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn))
        h' = n + z * (h - n)                              = (1 - z) n + z h
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, batch_first=True)
        self.in_features, self.out_features = input_size, hidden_size
        self.state_size = hidden_size

    def sequence(self, x, state=None):
        h0 = None if state is None else state.unsqueeze(0).contiguous()
        y, h = nn.GRU.forward(self, x, h0)
        return y, h.squeeze(0)

    def step(self, ops: Ops, name: str, x, h, norm: Norm | None = None):
        if norm is not None:
            raise ValueError("the first layer must be affine: the normalisation folds into it")
        w_xr, w_xz, w_xn = self.weight_ih_l0.chunk(3)
        w_hr, w_hz, w_hn = self.weight_hh_l0.chunk(3)
        b_xr, b_xz, b_xn = self.bias_ih_l0.chunk(3)
        b_hr, b_hz, b_hn = self.bias_hh_l0.chunk(3)

        def gate(g: str, w_x, b_x, w_h, b_h):
            pre = ops.add(
                f"{name}_{g}_sum",
                ops.dense(f"{name}_x{g}", x, w_x, b_x),
                ops.dense(f"{name}_h{g}", h, w_h, b_h),
            )
            return ops.activation(f"{name}_{g}", "sigmoid", pre)

        r = gate("r", w_xr, b_xr, w_hr, b_hr)
        z = gate("z", w_xz, b_xz, w_hz, b_hz)
        gated = ops.mul(f"{name}_rh", r, ops.dense(f"{name}_hn", h, w_hn, b_hn))
        n_pre = ops.add(f"{name}_n_sum", ops.dense(f"{name}_xn", x, w_xn, b_xn), gated)
        n = ops.activation(f"{name}_n", "tanh", n_pre)
        keep = ops.mul(f"{name}_keep", z, ops.sub(f"{name}_h_minus_n", h, n))
        h_new = ops.state(f"{name}_state", ops.add(f"{name}_h_new", n, keep))
        return h_new, h_new

    def macs(self) -> int:
        return 3 * self.hidden_size * (self.input_size + self.hidden_size)


class SkipGRU(GRU):
    """A GRU whose output is its input followed by its new state, [x, h'] (the skip
    connections of RNNoise): the next layer sees this hop's features beside the recurrent
    summary. CONCATENATION of x and h' is exact in int8 when x is on the state grid too (a
    tanh output or another GRU state: hushkit.contract.TANH_GRID == STATE_GRID)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.out_features = input_size + hidden_size

    def sequence(self, x, state=None):
        y, h = GRU.sequence(self, x, state)
        return torch.cat([x, y], dim=-1), h

    def step(self, ops: Ops, name: str, x, h, norm: Norm | None = None):
        h_new, _ = GRU.step(self, ops, name, x, h, norm)
        return ops.concat(f"{name}_skip", [x, h_new]), h_new


class StreamNet(nn.Module):
    """A stack of stream layers (the subclass's children, in registration order) behind a
    per-bin feature normalisation (`feat_mean`, `feat_std`, measured on training data)."""

    arch = "streamnet"  # the name checkpoints and the int8 model's graph carry

    def __init__(self, args, n_inputs: int):
        super().__init__()
        self.args = args
        self.register_buffer("feat_mean", torch.zeros(n_inputs))
        self.register_buffer("feat_std", torch.ones(n_inputs))

    def stream_layers(self) -> list[tuple[str, StreamLayer]]:
        layers = [(n, m) for n, m in self.named_children() if isinstance(m, StreamLayer)]
        if not layers or not isinstance(layers[0][1], Affine):
            raise ValueError(f"{type(self).__name__}: the first layer must be Dense or Conv")
        if not any(m.state_size for _, m in layers):
            raise ValueError(f"{type(self).__name__}: needs a recurrent layer (the state)")
        last = layers[-1][1]
        if not isinstance(last, Affine) or last.activation != "sigmoid":
            raise ValueError(f"{type(self).__name__}: the last layer must end in a sigmoid")
        return layers

    @property
    def state_size(self) -> int:
        return sum(m.state_size for _, m in self.stream_layers())

    def initial_state(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, self.state_size)

    def _state_slices(self) -> dict[str, tuple[int, int]]:
        offsets, at = {}, 0
        for name, layer in self.stream_layers():
            if layer.state_size:
                offsets[name] = (at, layer.state_size)
                at += layer.state_size
        return offsets

    def forward(self, feats: torch.Tensor, state: torch.Tensor | None = None):
        """(B, T, F) features -> (B, T, n_out) mask, (B, state_size) final state."""
        x = (feats - self.feat_mean) / self.feat_std
        slices, finals = self._state_slices(), []
        for name, layer in self.stream_layers():
            s = None
            if name in slices and state is not None:
                start, size = slices[name]
                s = state[:, start : start + size]
            x, s_new = layer.sequence(x, s)
            if name in slices:
                finals.append(s_new)
        return x, torch.cat(finals, dim=-1)

    def step(self, feat: torch.Tensor, state: torch.Tensor):
        """One hop in float: (B, F), (B, state_size) -> (B, n_out) mask, new state."""
        return self.trace(FloatOps(), feat, state)

    def trace(self, ops: Ops, feat, state):
        """The one-hop graph on any backend: (mask, state_out)."""
        layers = self.stream_layers()
        slices = self._state_slices()
        x = ops.input("features", feat)
        norm = None
        if ops.fold_normalization:
            norm = (self.feat_mean, self.feat_std)
        else:
            x = (x - self.feat_mean) / self.feat_std
        news = []
        for i, (name, layer) in enumerate(layers):
            h = None
            if name in slices:
                h = ops.select(f"{name}_h", state, *slices[name])
            x, h_new = layer.step(ops, name, x, h, norm if i == 0 else None)
            if h_new is not None:
                news.append(h_new)
        if len(news) == 1:
            return x, news[0]
        return x, ops.state("state_out", ops.concat("state_concat", news))

    def trace_sequence(self, ops: Ops, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T, n_out) mask from zero state through `ops`, hop by hop where a
        layer is recurrent and all hops at once where it is not (same values, faster)."""
        x = ops.input("features", feats)
        norm = (self.feat_mean, self.feat_std) if ops.fold_normalization else None
        if norm is None:
            x = (x - self.feat_mean) / self.feat_std
        for i, (name, layer) in enumerate(self.stream_layers()):
            layer_norm = norm if i == 0 else None
            if not layer.state_size:
                x, _ = layer.step(ops, name, x, None, layer_norm)
                continue
            h = torch.zeros(feats.shape[0], layer.state_size, dtype=feats.dtype)
            outs = []
            for t in range(feats.shape[1]):
                y, h = layer.step(ops, name, x[:, t], h, layer_norm)
                outs.append(y)
            x = torch.stack(outs, dim=1)
        return x

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def macs_per_hop(self) -> int:
        """Multiply-accumulates of one hop (weights only; elementwise ops are not MACs),
        including the 0/1 selection of each layer's state when there are several."""
        slices = self._state_slices()
        select = 0 if len(slices) == 1 else self.state_size * sum(s for _, s in slices.values())
        return sum(m.macs() for _, m in self.stream_layers()) + select

    def budget(self) -> dict:
        cfg = self.args.dsp_config
        macs = self.macs_per_hop()
        return {
            "dsp": cfg.name,
            "parameters": self.num_parameters(),
            "macs_per_hop": macs,
            "macs_per_second": macs * cfg.hops_per_second,
            "latency_ms": cfg.latency_ms,
            "hop_ms": cfg.hop_ms,
        }
