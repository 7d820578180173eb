"""The streaming mask network and the STFT features it sees.

Per hop the network takes the log power spectrum of one windowed frame (n_bins values),
carries a GRU state, and returns a ratio mask in [0, 1] per bin:

    x   = tanh(W_in · norm(log(|X|^2 + eps)) + b_in)        n_bins -> hidden
    h   = GRU(x, h)                                          hidden -> hidden (PyTorch gates)
    m   = sigmoid(W_out · h + b_out)                         hidden -> n_bins

Everything is causal and per-hop: the same computation runs over a whole clip (`forward`,
fast for training) or one hop at a time with the state passed explicitly (`step`, what the
int8 model and the firmware do). Every op maps onto int8 TFLite Micro kernels
(FULLY_CONNECTED, TANH, LOGISTIC, ADD, SUB, MUL).

The feature normalisation (`feat_mean`, `feat_std`) is measured on training data before the
first step and folded into W_in at export, so the deployed model has no extra op for it.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from hushkit.training import dsp


@dataclasses.dataclass
class ModelArgs:
    """Everything needed to rebuild the network; stored in every checkpoint."""

    dsp: str = "default"  # a name in hushkit.training.dsp.CONFIGS
    hidden: int = 64

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


class MaskNet(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        cfg = args.dsp_config
        n_bins, hidden = cfg.n_bins, args.hidden
        self.register_buffer("feat_mean", torch.zeros(n_bins))
        self.register_buffer("feat_std", torch.ones(n_bins))
        self.fc_in = nn.Linear(n_bins, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.fc_out = nn.Linear(hidden, n_bins)

    @property
    def state_size(self) -> int:
        return self.args.hidden

    def initial_state(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, self.args.hidden)

    def forward(
        self, feats: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, n_bins) features -> (B, T, n_bins) mask, (B, hidden) final state."""
        x = torch.tanh(self.fc_in((feats - self.feat_mean) / self.feat_std))
        h0 = None if state is None else state.unsqueeze(0).contiguous()
        y, h = self.gru(x, h0)
        return torch.sigmoid(self.fc_out(y)), h.squeeze(0)

    def step(self, feat: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One hop with the GRU cell written out, as the int8 graph computes it.

        (B, n_bins), (B, hidden) -> (B, n_bins) mask, (B, hidden) new state.
        """
        x = torch.tanh(self.fc_in((feat - self.feat_mean) / self.feat_std))
        w_ir, w_iz, w_in = self.gru.weight_ih_l0.chunk(3)
        w_hr, w_hz, w_hn = self.gru.weight_hh_l0.chunk(3)
        b_ir, b_iz, b_in = self.gru.bias_ih_l0.chunk(3)
        b_hr, b_hz, b_hn = self.gru.bias_hh_l0.chunk(3)
        r = torch.sigmoid(x @ w_ir.T + b_ir + state @ w_hr.T + b_hr)
        z = torch.sigmoid(x @ w_iz.T + b_iz + state @ w_hz.T + b_hz)
        n = torch.tanh(x @ w_in.T + b_in + r * (state @ w_hn.T + b_hn))
        h = n + z * (state - n)  # = (1 - z) * n + z * state
        return torch.sigmoid(self.fc_out(h)), h

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def macs_per_hop(self) -> int:
        """Multiply-accumulates of one hop (weights only; elementwise ops are not MACs)."""
        n_bins, hidden = self.args.dsp_config.n_bins, self.args.hidden
        return n_bins * hidden + 6 * hidden * hidden + hidden * n_bins

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


def enhance_waveform(model: MaskNet, wav: torch.Tensor) -> torch.Tensor:
    """Float model over whole clips: (B, L) -> (B, L), time-aligned with the input."""
    cfg = model.args.dsp_config
    stft = STFT(cfg).to(wav.device)
    length = wav.shape[-1]
    # Pad so the last input sample still leaves the OLA tail; then undo the stream delay.
    padded = torch.nn.functional.pad(wav, (0, cfg.output_delay + cfg.hop))
    spec = stft(padded)
    mask, _ = model(log_power(spec))
    out = stft.inverse(spec * mask)
    return out[:, cfg.output_delay : cfg.output_delay + length]
