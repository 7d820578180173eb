"""Representative data for int8 calibration: the float model's real streaming state.

The converter measures every tensor's range on what this yields, so it must look like what the
firmware sees: the log-power features of consecutive hops of noisy speech and the GRU state the
float model actually carries at each hop (not zeros, not random numbers). The float model runs
hop by hop (`MaskNet.step`) over mixtures and each hop's (features, state_in) pair is recorded.

Sources, in order of preference:
- a directory prepared by `hushkit data` (has manifest.json): training-split mixtures drawn
  with a fixed seed (`hushkit.training.datasets.open_mixtures`);
- a paired set (clean/ + noisy/): the noisy files;
- any folder of WAV/FLAC/OGG files, taken as noisy input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

CALIB_SEED = 20240  # fixed: the same data directory always gives the same calibration set
DEFAULT_HOPS = 600  # ~5 s of audio at the default 8 ms hop: ranges settle well before that
DEFAULT_CLIPS = 12
# Skip the first hops of each clip: the state starts at zero there, which the stream only ever
# sees once after reset, and zero is inside every calibrated range anyway.
WARMUP_HOPS = 8


def load_clips(calib_dir: str | Path, n_clips: int = DEFAULT_CLIPS) -> list[np.ndarray]:
    """Up to n_clips float32 16 kHz noisy signals from a data, paired or plain audio folder."""
    from hushkit.training import datasets, sources
    from hushkit.training.mixing import as_float

    root = Path(calib_dir)
    if (root / "manifest.json").exists():
        mixtures = datasets.open_mixtures(root, "train", length=n_clips, seed=CALIB_SEED)
        return [as_float(mixtures[i][0]) for i in range(n_clips)]
    folder = root / "noisy" if (root / "noisy").is_dir() else root
    files = sources.audio_files(folder)
    # Spread the picks over the folder: neighbouring files are often one speaker or scene.
    picks = np.linspace(0, len(files) - 1, min(n_clips, len(files))).round().astype(int)
    return [datasets.read_audio(files[i])[0] for i in sorted(set(picks.tolist()))]


def streaming_pairs(
    model, clips: Sequence[np.ndarray], n_hops: int = DEFAULT_HOPS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features [1, n_features], state_in [1, H]) float32 per hop, spread evenly over the clips."""
    import torch

    from hushkit.training.model import STFT, input_features

    if not clips:
        raise ValueError("no calibration audio")
    cfg = model.args.dsp_config
    stft = STFT(cfg)
    per_clip = -(-n_hops // len(clips))
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    with torch.no_grad():
        for clip in clips:
            spec = stft(torch.from_numpy(np.asarray(clip, np.float32))[None])
            feats = input_features(model.args, spec)[0][0]
            state = model.initial_state(1)
            taken = 0
            for t in range(feats.shape[0]):
                if t >= WARMUP_HOPS:
                    pairs.append((feats[t : t + 1].numpy().copy(), state.numpy().copy()))
                    taken += 1
                    if taken == per_clip:
                        break
                _, state = model.step(feats[t : t + 1], state)
    if len(pairs) < min(n_hops, 50):
        raise ValueError(
            f"only {len(pairs)} calibration hops from {len(clips)} clip(s): give longer audio"
        )
    return pairs[:n_hops]


def representative_dataset(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
) -> Iterator[list[np.ndarray]]:
    """The converter's representative_dataset: inputs in the graph's order (features, state)."""
    for features, state in pairs:
        yield [features, state]
