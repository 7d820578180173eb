"""Settings of quantization-aware fine-tuning (`hushkit quantize --qat`).

Apart from qat.py, which imports torch, so that the command line reads its defaults from here
without loading torch.
"""

from __future__ import annotations

import dataclasses


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
    sisdr_weight: float = 0.0
    # The checkpoint's operating point (training.model.OperatingPoint, the same keys): taken off
    # the mask logits while fine-tuning and put back afterwards, so that the loss does not train
    # it away.
    output_bias_shift: float = 0.0
    outside_band_offset: float = 0.0
    speech_band_hz: tuple[float, float] | None = None  # None: the default speech band
    mask_logit_scale: float = 1.0
    seed: int = 0
