"""Denoise a file with a streaming enhancer: what `hushkit enhance` runs.

The float checkpoint's streamer is here (`FloatStreamer`); the int8 model's is
`hushkit.quantize.host_int8.Int8Streamer`, and `hushkit.enhancers` opens either by the model
file's suffix. Any sample rate and length: the audio is resampled to the model's 16 kHz,
enhanced, and written back at the input's rate. A multichannel file needs `--channel`,
because mixing the channels of a binaural or mic-array recording down is a choice the user
should make.

The file is streamed: read, resampled, enhanced and written block by block, carrying the
STFT history, the overlap-add tail and the recurrent state from one block to the next, so a
one-hour file needs no more memory than a one-second one. Input that is not finite is
replaced by silence before the model sees it (with a warning), the recurrent state is checked
after every block, and the output is written under a temporary name and renamed into place,
so a failure never leaves a half-written file or destroys an existing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from hushkit.audiofile import (
    AtomicWriter,
    AudioSource,
    check_input,
    check_output,
    resampled_blocks,
    warn,
)
from hushkit.training.dsp import DSPConfig

Enhancer = Callable[[np.ndarray], np.ndarray]


class Streamer(Protocol):
    """process(hops of 16 kHz audio) -> the same number of samples, lagging the input by
    cfg.output_delay, with every state carried across calls; report(name) warns about what
    went wrong on the way (diverged state...)."""

    def process(self, x: np.ndarray) -> np.ndarray: ...

    def report(self, name: str) -> None: ...


# A model file -> (a maker of fresh streamers, their DSP framing).
StreamerLoader = Callable[[str | Path], tuple[Callable[[], Streamer], DSPConfig]]


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
        self.floor = None  # the floor feature's running floor, when the model reads one
        self.state_resets = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        from hushkit.training.model import input_features

        cfg = self.cfg
        n_frames = len(x) // cfg.hop
        wav = torch.cat([self.history, torch.from_numpy(np.asarray(x, np.float32))])
        frames = wav.unfold(-1, cfg.n_fft, cfg.hop)[:n_frames]
        with torch.no_grad():
            spec = torch.fft.rfft(frames * self.stft.window, dim=-1)[None]
            feats, self.floor = input_features(self.model.args, spec, self.floor)
            mask, state = self.model(feats, self.state)
            out = torch.fft.irfft(spec * mask, n=cfg.n_fft, dim=-1)[0] * self.stft.window
        if not bool(torch.isfinite(state).all()) or not bool(torch.isfinite(out).all()):
            # A diverged network: silence this block and restart from the initial state.
            self.state_resets += 1
            state = self.model.initial_state()
            self.floor = None
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


def load_streamer(path: str | Path) -> tuple[Callable[[], Streamer], DSPConfig]:
    """(a maker of fresh streaming enhancers, their DSP framing) for a float checkpoint."""
    from hushkit.training.checkpoint import load_model

    model = load_model(check_input(path, "model"))
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


def clip_enhancer(make: Callable[[], Streamer], cfg: DSPConfig) -> Enhancer:
    """A function float32 16 kHz audio -> enhanced audio of the same length, time-aligned,
    each call from a fresh streamer."""

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
                 channel: int | None = None, force: bool = False,
                 load: StreamerLoader = load_streamer) -> float:
    """Denoise a file in bounded memory; returns its duration in seconds.

    `load` opens the model file (default: a float checkpoint). Paths are checked before the
    model is loaded; the output appears only on success."""
    out_path = check_output(out_path, [src_path, model], force)
    with AudioSource.open(src_path, channel) as src:
        make, cfg = load(model)
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
