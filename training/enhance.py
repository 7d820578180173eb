"""`hushkit enhance`: denoise a file with a float checkpoint or an int8 TFLite model.

Any sample rate and length: the audio is resampled to the model's 16 kHz, enhanced, and
written back at the input's rate. A multichannel file needs `--channel`, because mixing the
channels of a binaural or mic-array recording down is a choice the user should make.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hushkit.training import dsp

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
    p.add_argument("--channel", type=int, help="channel to use from a multichannel file (0-based)")
    p.add_argument(
        "--runtime",
        choices=("tflm", "litert"),
        default="tflm",
        help="interpreter for .tflite models (default: %(default)s, the microcontroller one)",
    )
    p.set_defaults(func=_cli)


def read_audio(path: str | Path, channel: int | None = None) -> tuple[np.ndarray, int]:
    """Read a file as float32 mono; a clear error for unreadable or multichannel input."""
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    n_channels = audio.shape[1]
    if channel is None:
        if n_channels != 1:
            raise ValueError(
                f"{path} has {n_channels} channels; choose one with --channel 0..{n_channels - 1}"
            )
        channel = 0
    if not 0 <= channel < n_channels:
        raise ValueError(f"{path} has no channel {channel} (it has {n_channels})")
    if audio.shape[0] == 0:
        raise ValueError(f"{path} holds no samples")
    return np.ascontiguousarray(audio[:, channel]), int(rate)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return audio.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(audio, rate_out // g, rate_in // g).astype(np.float32)


def load_enhancer(path: str | Path, runtime: str = "tflm") -> Enhancer:
    """A function float32 16 kHz audio -> enhanced audio of the same length, time-aligned."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path}")
    if path.suffix == ".tflite":
        from hushkit.quantize.host_int8 import load_int8_enhancer

        return load_int8_enhancer(path, runtime=runtime)

    import torch

    from hushkit.training.checkpoint import load_model
    from hushkit.training.model import enhance_waveform

    model = load_model(path)

    def enhance(audio: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = enhance_waveform(model, torch.from_numpy(np.asarray(audio, np.float32))[None])
        return out[0].numpy()

    return enhance


def _cli(args: argparse.Namespace) -> int:
    import soundfile as sf

    try:
        audio, rate = read_audio(args.input, args.channel)
        enhance = load_enhancer(args.model, runtime=args.runtime)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    enhanced = enhance(resample(audio, rate, dsp.SAMPLE_RATE))
    out = resample(enhanced, dsp.SAMPLE_RATE, rate)[: len(audio)]
    sf.write(args.output, np.clip(out, -1.0, 1.0), rate, subtype="PCM_16")
    print(f"wrote {args.output} ({len(audio) / rate:.1f} s at {rate} Hz)", file=sys.stderr)
    return 0
