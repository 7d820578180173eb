"""`hushkit enhance`: denoise a file with a float checkpoint or an int8 TFLite model.

Any sample rate and length: the audio is resampled to the model's 16 kHz, enhanced, and
written back at the input's rate. A multichannel file needs `--channel`, because mixing the
channels of a binaural or mic-array recording down is a choice the user should make.

The file is streamed: read, resampled, enhanced and written block by block, carrying the
STFT history, the overlap-add tail and the recurrent state from one block to the next, so a
one-hour file needs no more memory than a one-second one. Input that is not finite is
replaced by silence before the model sees it (with a warning), the recurrent state is checked
after every block, and the output is written under a temporary name and renamed into place,
so a failure never leaves a half-written file or destroys an existing one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from hushkit import argtypes
from hushkit.audiofile import (
    AtomicWriter,
    AudioSource,
    check_input,
    check_output,
    resampled_blocks,
    warn,
)
from hushkit.errors import InputError

Enhancer = Callable[[np.ndarray], np.ndarray]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enhance",
        help="denoise a WAV/FLAC/OGG file with a checkpoint (.pt) or int8 model (.tflite)",
        description=(
            "Denoise one file. A .pt checkpoint runs the float PyTorch model; a .tflite model "
            "runs hop by hop on the host, exactly as the firmware streams it (TFLite Micro "
            "runtime by default)."
        ),
    )
    p.add_argument("--model", required=True, help="checkpoint (.pt) or int8 model (.tflite)")
    p.add_argument("input", help="noisy audio file (any rate)")
    p.add_argument("output", help="enhanced audio, written at the input's sample rate")
    p.add_argument(
        "--channel",
        type=argtypes.non_negative_int,
        help="channel to use from a multichannel file (0-based)",
    )
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.add_argument(
        "--runtime",
        choices=("tflm", "litert"),
        default="tflm",
        help="interpreter for .tflite models (default: %(default)s, the microcontroller one)",
    )
    p.set_defaults(func=_cli)


# ---- streaming enhancers: process(hops of 16 kHz audio) -> the same number of samples,
# lagging the input by cfg.output_delay, with every state carried across calls.


class FloatStreamer:
    """The float MaskNet over consecutive blocks; equals `enhance_waveform` on the whole clip."""

    def __init__(self, model) -> None:
        import torch

        from hushkit.training.model import STFT

        self.torch = torch
        self.model = model
        self.cfg = model.args.dsp_config
        self.stft = STFT(self.cfg)
        keep = self.cfg.n_fft - self.cfg.hop
        self.history = torch.zeros(keep)  # input samples before this block
        self.tail = torch.zeros(keep)  # overlap-add tail not yet output
        self.state = model.initial_state()
        self.state_resets = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        from hushkit.training.model import log_power

        cfg = self.cfg
        n_frames = len(x) // cfg.hop
        wav = torch.cat([self.history, torch.from_numpy(np.asarray(x, np.float32))])
        frames = wav.unfold(-1, cfg.n_fft, cfg.hop)[:n_frames]
        with torch.no_grad():
            spec = torch.fft.rfft(frames * self.stft.window, dim=-1)[None]
            mask, state = self.model(log_power(spec), self.state)
            out = torch.fft.irfft(spec * mask, n=cfg.n_fft, dim=-1)[0] * self.stft.window
        if not bool(torch.isfinite(state).all()) or not bool(torch.isfinite(out).all()):
            # A diverged network: silence this block and restart from the initial state.
            self.state_resets += 1
            state = self.model.initial_state()
            out = torch.zeros_like(out)
        self.state = state
        self.history = wav[len(wav) - len(self.history) :].clone()
        ola = torch.nn.functional.fold(
            out.T[None], output_size=(1, (n_frames + 1) * cfg.hop),
            kernel_size=(1, cfg.n_fft), stride=(1, cfg.hop),
        ).reshape(-1)
        ola[: len(self.tail)] += self.tail
        self.tail = ola[n_frames * cfg.hop :].clone()
        return ola[: n_frames * cfg.hop].numpy().copy()

    def report(self, name: str) -> None:
        if self.state_resets:
            warn(f"{name}: the model diverged {self.state_resets} time(s); those blocks were "
                 "silenced and the state restarted")


class Int8Streamer:
    """The int8 model hop by hop, as the firmware runs it; equals host_int8.enhance."""

    def __init__(self, model) -> None:
        self.model = model
        self.cfg = cfg = model.dsp
        self.window = cfg.window().astype(np.float32)
        self.buf = np.zeros(cfg.n_fft, np.float32)
        self.carry = np.zeros(cfg.hop, np.float32)  # hop = n_fft / 2: one frame's tail
        self.state = model.initial_state()

    def process(self, x: np.ndarray) -> np.ndarray:
        from hushkit.quantize.host_int8 import log_power_features

        cfg, hop = self.cfg, self.cfg.hop
        pf, pm = self.model.params["features"], self.model.params["mask"]
        out = np.zeros(len(x), np.float32)
        for t in range(len(x) // hop):
            self.buf[:-hop] = self.buf[hop:]
            self.buf[-hop:] = x[t * hop : (t + 1) * hop]
            spec = np.fft.rfft(self.buf * self.window).astype(np.complex64)
            mask_q, self.state = self.model.invoke(pf.quantize(log_power_features(spec))[None],
                                                   self.state)
            gain = np.clip(pm.dequantize(mask_q[0]), 0.0, 1.0)  # a mask never amplifies
            y = np.fft.irfft(spec * gain, cfg.n_fft).astype(np.float32) * self.window
            out[t * hop : (t + 1) * hop] = y[:hop] + self.carry
            self.carry = y[hop:].copy()
        return out

    def report(self, name: str) -> None:
        pass


def load_streamer(path: str | Path, runtime: str = "tflm"):
    """A fresh streaming enhancer for a .pt checkpoint or an int8 .tflite model."""
    path = check_input(path, "model")
    if path.suffix == ".tflite":
        from hushkit.quantize.host_int8 import Int8Model

        try:
            model = Int8Model(path.read_bytes(), runtime)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise InputError(f"{path} is not a usable hushkit int8 model: {exc}") from None
        return lambda: Int8Streamer(model), model.dsp
    from hushkit.training.checkpoint import load_model

    model = load_model(path)
    return lambda: FloatStreamer(model), model.args.dsp_config


def stream_enhance(streamer, blocks: Iterator[np.ndarray], cfg) -> Iterator[np.ndarray]:
    """Time-aligned enhanced blocks: the output delay dropped, the tail flushed with zeros.

    The streamer's output lags its input by cfg.output_delay samples; of that lagged stream,
    samples [delay, delay + total input) are the aligned output.
    """
    hop, delay = cfg.hop, cfg.output_delay
    produced = 0  # lagged samples the streamer has returned
    total = 0  # input samples seen

    def take(y: np.ndarray, limit: int | None) -> np.ndarray:
        nonlocal produced
        first = min(len(y), max(0, delay - produced))
        last = len(y) if limit is None else max(first, min(len(y), delay + limit - produced))
        produced += len(y)
        return y[first:last]

    pending = np.zeros(0, np.float32)
    for x in blocks:
        total += len(x)
        pending = np.concatenate([pending, np.asarray(x, np.float32)])
        usable = len(pending) // hop * hop
        if usable:
            yield take(streamer.process(pending[:usable]), None)
            pending = pending[usable:]
    need = delay + total - produced  # lagged samples still missing (>= len(pending))
    flush = np.zeros(-(-need // hop) * hop, np.float32)
    flush[: len(pending)] = pending
    yield take(streamer.process(flush), total)


def load_enhancer(path: str | Path, runtime: str = "tflm") -> Enhancer:
    """A function float32 16 kHz audio -> enhanced audio of the same length, time-aligned."""
    make, cfg = load_streamer(path, runtime)

    def enhance(audio: np.ndarray) -> np.ndarray:
        x = np.asarray(audio, np.float32)
        return np.concatenate(list(stream_enhance(make(), iter([x]), cfg)))[: len(x)]

    return enhance


def _write_resampled(writer: AtomicWriter, enhanced: Iterator[np.ndarray], rate_in: int,
                     rate_out: int, frames: int) -> None:
    """Resample the enhanced stream to `frames` samples at rate_out through a temporary file:
    chunked resampling reads with context on both sides, and the file keeps memory flat."""
    import tempfile

    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "enhanced.wav"
        with sf.SoundFile(str(path), "w", rate_in, 1, "FLOAT", format="WAV") as f:
            for y in enhanced:
                f.write(y)
        with AudioSource.open(path) as src:
            left = frames
            for y in resampled_blocks(src.read, src.frames, rate_in, rate_out):
                writer.write(y[:left])
                left -= min(left, len(y))


def enhance_file(model: str | Path, src_path: str | Path, out_path: str | Path,
                 channel: int | None = None, runtime: str = "tflm", force: bool = False) -> float:
    """Denoise a file in bounded memory; returns its duration in seconds.

    Paths are checked before the model is loaded; the output appears only on success."""
    out_path = check_output(out_path, [src_path, model], force)
    with AudioSource.open(src_path, channel) as src:
        make, cfg = load_streamer(model, runtime)
        streamer = make()
        enhanced = stream_enhance(streamer, src.blocks(rate=cfg.sample_rate), cfg)
        with AtomicWriter(out_path, src.rate) as writer:
            if src.rate == cfg.sample_rate:
                for y in enhanced:
                    writer.write(y)
            else:
                _write_resampled(writer, enhanced, cfg.sample_rate, src.rate, src.frames)
            src.sanitizer.report(str(src_path))  # may refuse: the output is then not kept
            streamer.report(str(src_path))
            if writer.samples != src.frames:
                raise RuntimeError(f"wrote {writer.samples} samples for {src.frames} in")
        return src.seconds


def _cli(args: argparse.Namespace) -> int:
    seconds = enhance_file(args.model, args.input, args.output, channel=args.channel,
                           runtime=args.runtime, force=args.force)
    print(f"wrote {args.output} ({seconds:.1f} s)", file=sys.stderr)
    return 0
