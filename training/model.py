"""The streaming mask network and the STFT features it sees.

Per hop the network takes the log power spectrum of one windowed frame (n_bins values),
carries a GRU state, and returns a ratio mask in [0, 1] per bin:

    x   = tanh(W_in · norm(log(|X|^2 + eps)) + b_in)        n_bins -> hidden
    h   = GRU(x, h)                                          hidden -> hidden (PyTorch gates)
    m   = sigmoid(W_out · h + b_out)                         hidden -> n_bins

With `floor_feature` the first layer also reads each bin's height above a running noise
floor (`track_floor`: it falls quickly into pauses and rises slowly through speech), so
[x, x - floor] with x the log power: a level- and colour-free view of where speech stands
out, which the firmware tracks in integers on the quantized features (hushkit.contract).

`gru_layers` stacks more GRUs; with `skip` each passes its input on beside its state, so the
mask layer reads [x, h1, h2, ...] (RNNoise's skip connections, exact in int8: every part is
on the tanh/state grid).

The networks are stacks of the layers in `hushkit.training.layers`, and this is their only
definition: the whole-clip training graph (`forward`), the one-hop step with explicit state
(`step`), quantization-aware training and the int8 TFLite graph all come from the layers.
Everything is causal and per-hop; every op maps onto the firmware's int8 kernels.

The feature normalisation (`feat_mean`, `feat_std`) is measured on training data before the
first step and folded into the first layer at export, so the deployed model has no op for it.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from hushkit.training import dsp
from hushkit.training.config import SPEECH_BAND_HZ
from hushkit.training.layers import GRU, BandDense, Conv, Dense, SkipGRU, StreamNet


@dataclasses.dataclass
class ModelArgs:
    """Everything needed to rebuild the network; stored in every checkpoint."""

    dsp: str = "default"  # a name in hushkit.training.dsp.CONFIGS
    hidden: int = 64
    # 0: one mask logit per bin. N > 0: N logits on an ERB-spaced band scale, interpolated
    # to the bins (`layers.BandDense`); same device cost, a mask smooth across frequency.
    out_bands: int = 0
    # Stacked GRUs (each `hidden` wide), the first named `gru`, the next `gru2`, ...
    gru_layers: int = 1
    # True: each GRU passes its input on beside its state ([x, h], `layers.SkipGRU`), so the
    # mask layer sees this hop's embedding as well as every GRU's state.
    skip: bool = False
    # True: the network also reads each bin's log power above a running noise floor
    # (`floor_features`), so it sees [x, x - floor]: 2 * n_bins inputs.
    floor_feature: bool = False

    @property
    def dsp_config(self) -> dsp.DSPConfig:
        return dsp.get(self.dsp)


class STFT(nn.Module):
    """sqrt-Hann STFT / inverse with the framing of `hushkit.training.dsp`.

    Frames are aligned like the firmware's: frame t holds input samples
    [(t+1)*hop - n_fft, (t+1)*hop), zero before the start, so frame t is ready as soon as
    hop t has arrived. `inverse` overlap-adds and returns the signal delayed by
    `cfg.output_delay` samples, exactly as the streaming device outputs it.
    """

    def __init__(self, cfg: dsp.DSPConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.from_numpy(cfg.window()), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, L) float -> (B, T, n_bins) complex, T = L // hop."""
        n_fft, hop = self.cfg.n_fft, self.cfg.hop
        padded = torch.nn.functional.pad(wav, (n_fft - hop, 0))
        n_frames = wav.shape[-1] // hop
        frames = padded.unfold(-1, n_fft, hop)[..., :n_frames, :]
        return torch.fft.rfft(frames * self.window, dim=-1)

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, T, n_bins) complex -> (B, T*hop) float, delayed by n_fft - hop samples."""
        n_fft, hop = self.cfg.n_fft, self.cfg.hop
        frames = torch.fft.irfft(spec, n=n_fft, dim=-1) * self.window  # (B, T, n_fft)
        batch, n_frames, _ = frames.shape
        out = torch.nn.functional.fold(
            frames.transpose(1, 2),
            output_size=(1, (n_frames + 1) * hop),
            kernel_size=(1, n_fft),
            stride=(1, hop),
        ).reshape(batch, -1)
        return out[:, : n_frames * hop]


def log_power(spec: torch.Tensor) -> torch.Tensor:
    """The network's input feature: natural log of the power spectrum."""
    return torch.log(spec.real.square() + spec.imag.square() + dsp.LOG_POWER_EPS)


def track_floor(
    lp: torch.Tensor, shifts: tuple[int, int], floor: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A running noise floor per bin of the log power `lp` (B, T, F): each hop it moves
    2**-down of the way to a lower value and 2**-up of the way to a higher one, so it
    follows pauses and ignores speech. Starts at the first hop unless `floor` (B, F) carries
    it over. Returns the floor after each hop (B, T, F) and the last one (B, F)."""
    down, up = 2.0 ** -shifts[0], 2.0 ** -shifts[1]
    m = lp[:, 0] if floor is None else floor
    out = []
    for t in range(lp.shape[1]):
        x = lp[:, t]
        m = m + torch.where(x < m, down, up) * (x - m)
        out.append(m)
    return torch.stack(out, dim=1), m


def input_features(
    args, spec: torch.Tensor, floor: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What the network `args` describe reads per hop from the STFT `spec` (B, T, n_bins):
    the log power, and with `floor_feature` also its height above the running floor.
    Returns the features and the floor to carry into the next call (None without one)."""
    lp = log_power(spec)
    if not getattr(args, "floor_feature", False):
        return lp, None
    track, last = track_floor(lp, dsp.floor_shifts(args.dsp_config), floor)
    return torch.cat([lp, lp - track], dim=-1), last


class MaskNet(StreamNet):
    """The shipped network: Dense+tanh -> GRU(s) -> Dense+sigmoid (module docstring)."""

    arch = "masknet"

    def __init__(self, args: ModelArgs):
        cfg = args.dsp_config
        n_bins, hidden = cfg.n_bins, args.hidden
        n_inputs = 2 * n_bins if args.floor_feature else n_bins
        super().__init__(args, n_inputs)
        if args.gru_layers < 1:
            raise ValueError(f"gru_layers must be at least 1, got {args.gru_layers}")
        self.fc_in = Dense(n_inputs, hidden, "tanh")
        width = hidden
        for i in range(args.gru_layers):
            gru = SkipGRU(width, hidden) if args.skip else GRU(width, hidden)
            setattr(self, "gru" if i == 0 else f"gru{i + 1}", gru)
            width = gru.out_features
        if args.out_bands:
            bands = dsp.erb_interpolation(n_bins, args.out_bands)
            self.fc_out = BandDense(width, bands, "sigmoid")
        else:
            self.fc_out = Dense(width, n_bins, "sigmoid")


@dataclasses.dataclass
class ConvGRUArgs:
    """A structurally different small network: a strided convolution across frequency, a
    grouped convolution, two stacked GRUs, a Dense mask. Nothing outside its module
    definition knows it: stepping, QAT and the int8 graph come from its layers."""

    arch: str = "convgru"
    dsp: str = "default"
    channels: int = 4  # per convolution; the grouped one splits them in two groups
    hidden: int = 32  # each GRU

    @property
    def dsp_config(self) -> dsp.DSPConfig:
        return dsp.get(self.dsp)


class ConvGRUNet(StreamNet):
    arch = "convgru"

    def __init__(self, args: ConvGRUArgs):
        n_bins, c, hidden = args.dsp_config.n_bins, args.channels, args.hidden
        super().__init__(args, n_bins)
        self.conv_in = Conv(1, n_bins, c, kernel_size=5, stride=4, padding=2, activation="tanh")
        self.conv_group = Conv(
            c, self.conv_in.out_length, c, 3, stride=2, padding=1, groups=2, activation="tanh"
        )
        self.gru1 = GRU(self.conv_group.out_features, hidden)
        self.gru2 = GRU(hidden, hidden)
        self.fc_out = Dense(hidden, n_bins, "sigmoid")


# arch name -> (argument dataclass, network); a checkpoint's model_args name one ("masknet"
# when they carry no `arch`, as every MaskNet checkpoint does).
ARCHITECTURES: dict[str, tuple[type, type[StreamNet]]] = {
    "masknet": (ModelArgs, MaskNet),
    "convgru": (ConvGRUArgs, ConvGRUNet),
}


def build_model(model_args: dict) -> StreamNet:
    """The network a checkpoint's `model_args` describe."""
    args = dict(model_args)
    arch = args.get("arch", "masknet")
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    args_cls, net_cls = ARCHITECTURES[arch]
    if "arch" not in {f.name for f in dataclasses.fields(args_cls)}:
        args.pop("arch", None)
    return net_cls(args_cls(**args))


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """What `train.shift_output_bias` does to the mask logits, folded into the output layer
    (so it costs nothing on the device): z -> `scale` * z + `shift` on every bin, plus
    `outside_offset` on the bins outside `band_hz`. A scale below 1 softens the mask (fewer
    gains near 0 or 1). Checkpoints carry it as `output_bias_shift`, `outside_band_offset`,
    `speech_band_hz` and `mask_logit_scale`."""

    shift: float = 0.0
    outside_offset: float = 0.0
    band_hz: tuple[float, float] = SPEECH_BAND_HZ
    scale: float = 1.0

    def __post_init__(self):
        lo, hi = self.band_hz
        if not 0.0 <= lo < hi:
            raise ValueError(f"speech band {lo:g}-{hi:g} Hz: give 0 <= low < high")
        if not 0.0 < self.scale <= 10.0:
            raise ValueError(f"mask logit scale {self.scale:g}: give a value in (0, 10]")

    @classmethod
    def of(cls, payload: dict) -> OperatingPoint:
        """The operating point stored in a checkpoint dict (none: all zero)."""
        band = payload.get("speech_band_hz") or SPEECH_BAND_HZ
        return cls(
            float(payload.get("output_bias_shift") or 0.0),
            float(payload.get("outside_band_offset") or 0.0),
            (float(band[0]), float(band[1])),
            float(payload.get("mask_logit_scale") or 1.0),
        )

    @classmethod
    def of_config(cls, cfg) -> OperatingPoint:
        """The operating point a training config names (`TrainConfig`)."""
        band = (cfg.speech_band_low_hz, cfg.speech_band_high_hz)
        return cls(cfg.output_bias_shift, cfg.outside_band_offset, band, cfg.mask_logit_scale)

    def as_extra(self) -> dict:
        """The checkpoint keys that record it."""
        return {
            "output_bias_shift": self.shift,
            "outside_band_offset": self.outside_offset,
            "speech_band_hz": list(self.band_hz),
            "mask_logit_scale": self.scale,
        }

    def __bool__(self) -> bool:
        return bool(self.shift or self.outside_offset or self.scale != 1.0)

    def logit_offsets(self, model: StreamNet) -> torch.Tensor:
        """One value per mask logit of `model`."""
        bias = model.fc_out.bias
        cfg = model.args.dsp_config
        if not self.outside_offset:
            return torch.full_like(bias, self.shift)
        if bias.numel() != cfg.n_bins:
            raise ValueError(
                "an outside-band offset needs one mask logit per bin; this model has "
                f"{bias.numel()} logits for {cfg.n_bins} bins (out_bands)"
            )
        freqs = torch.arange(cfg.n_bins, dtype=bias.dtype) * cfg.sample_rate / cfg.n_fft
        inside = (freqs >= self.band_hz[0]) & (freqs < self.band_hz[1])
        return torch.where(inside, self.shift, self.shift + self.outside_offset).to(bias)

    def apply(self, model: StreamNet, sign: float = 1.0) -> None:
        """Put the operating point on `model`'s output layer in place (`sign=-1` takes it
        off): scale its weights and bias, then add the offsets to the bias."""
        out = model.fc_out
        with torch.no_grad():
            if sign > 0:
                out.weight *= self.scale
                out.bias *= self.scale
                out.bias += self.logit_offsets(model)
            else:
                out.bias -= self.logit_offsets(model)
                out.bias /= self.scale
                out.weight /= self.scale


def enhance_waveform(model: StreamNet, wav: torch.Tensor) -> torch.Tensor:
    """Float model over whole clips: (B, L) -> (B, L), time-aligned with the input."""
    cfg = model.args.dsp_config
    stft = STFT(cfg).to(wav.device)
    length = wav.shape[-1]
    # Pad so the last input sample still leaves the OLA tail; then undo the stream delay.
    padded = torch.nn.functional.pad(wav, (0, cfg.output_delay + cfg.hop))
    spec = stft(padded)
    mask, _ = model(input_features(model.args, spec)[0])
    out = stft.inverse(spec * mask)
    return out[:, cfg.output_delay : cfg.output_delay + length]
