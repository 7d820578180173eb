"""Training configuration: a dataclass, loaded from TOML, every key overridable on the command line.

    hushkit train --config training/configs/default.toml epochs=30 hidden=96 data_dir=/data

The resolved configuration (file + overrides) is written next to the run as `config.toml` and
stored in every checkpoint; the dataclass defaults are the only defaults.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

# Bins outside this band carry little of what speech intelligibility rests on (STOI reads
# 150 Hz to 4.5 kHz) and much of the noise that PESQ and listeners hear: hum and rumble below,
# hiss above. The operating point can suppress them harder (`outside_band_offset`).
SPEECH_BAND_HZ = (150.0, 4500.0)


@dataclasses.dataclass
class TrainConfig:
    # model
    dsp: str = "default"  # DSP configuration name (hushkit.training.dsp.CONFIGS)
    hidden: int = 64  # GRU width; parameters and MACs grow with its square
    out_bands: int = 0  # mask logits on N ERB bands interpolated to the bins; 0 = per bin
    gru_layers: int = 1  # stacked GRUs, each `hidden` wide
    skip: bool = False  # each GRU passes its input on beside its state (layers.SkipGRU)
    floor_feature: bool = False  # also read the log power above a running noise floor

    # data: a directory prepared by `hushkit data`
    data_dir: str = "data"
    segment_seconds: float = 4.0
    snr_min_db: float = -5.0
    snr_max_db: float = 20.0
    band_limit_prob: float = 0.2  # chance that a mixture is low-passed (cheap mics, codecs)
    # augmentation (training/augment.py): chance of each per mixture
    reverb_prob: float = 0.0  # simulated room on speech and noise; target keeps 50 ms early
    eq_prob: float = 0.0  # random microphone colour (tilt + resonance) on input and target
    speed_prob: float = 0.0  # speech 0.9 ... 1.1 times as fast
    clip_prob: float = 0.0  # clipped microphone signal (target unclipped)
    voice_fx_prob: float = 0.0  # radio/phone-band, saturated voice, kept in the target
    # Comma-separated shell patterns of speech sources left out of this stage's mixtures.
    exclude_speech_sources: str = ""
    clean_prob: float = 0.05  # no noise at all: teaches transparency on clean speech
    high_snr_prob: float = 0.1  # SNR from 20 ... 40 dB instead of snr_min_db ... snr_max_db
    speech_level_min_dbfs: float = -40.0  # active speech level of the microphone signal
    speech_level_max_dbfs: float = -10.0

    # optimisation
    epochs: int = 20
    steps_per_epoch: int = 200
    batch_size: int = 16
    lr: float = 2e-3
    lr_min: float = 1e-4  # cosine decay floor
    weight_decay: float = 1e-5
    grad_clip: float = 1.0
    max_minutes: float = 0.0  # wall-clock budget; 0 = no limit (stops after the current step)

    # loss: MSE of power-law compressed magnitudes plus compressed complex spectra
    compress: float = 0.3
    complex_weight: float = 0.3
    distortion_weight: float = 1.0  # > 1: removing speech costs more than leaving noise
    sisdr_weight: float = 0.0  # adds -SI-SDR of the output waveform, scaled by 1/100 per dB

    # operating point: added to the mask logits of best.pt after training (see
    # train.shift_output_bias and model.OperatingPoint); chosen on the held-out-source set
    output_bias_shift: float = 0.0  # on every bin
    outside_band_offset: float = 0.0  # added on the bins outside the speech band
    speech_band_low_hz: float = SPEECH_BAND_HZ[0]
    speech_band_high_hz: float = SPEECH_BAND_HZ[1]
    mask_logit_scale: float = 1.0  # the logits are multiplied by it first; < 1: a softer mask

    # validation
    val_clips: int = 24  # clips of data_dir/valset scored each epoch

    # run
    init_from: str = ""  # checkpoint whose weights start this run (fine-tuning); "" = fresh
    run_dir: str = "runs/default"
    seed: int = 1234
    threads: int = 0  # torch intra-op threads per process; 0 = torch's choice
    num_workers: int = 0  # DataLoader workers

    def mix_config(self):
        """The mixing and augmentation knobs as a hushkit.training.mixing.MixConfig."""
        from hushkit.training.mixing import MixConfig

        return MixConfig(
            segment_seconds=self.segment_seconds,
            snr_range=(self.snr_min_db, self.snr_max_db),
            band_limit_prob=self.band_limit_prob,
            reverb_prob=self.reverb_prob,
            eq_prob=self.eq_prob,
            speed_prob=self.speed_prob,
            clip_prob=self.clip_prob,
            voice_fx_prob=self.voice_fx_prob,
            clean_prob=self.clean_prob,
            high_snr_prob=self.high_snr_prob,
            speech_level_dbfs=(self.speech_level_min_dbfs, self.speech_level_max_dbfs),
        )

    def excluded_speech_sources(self) -> list[str]:
        """`exclude_speech_sources` as a list of shell patterns."""
        return [p.strip() for p in self.exclude_speech_sources.split(",") if p.strip()]

    @classmethod
    def from_toml(cls, path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
        values: dict[str, Any] = {}
        if path is not None:
            with open(path, "rb") as f:
                values.update(tomllib.load(f))
        for item in overrides:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ValueError(f"override {item!r} is not key=value")
            values[key.strip()] = raw.strip()
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(
                f"unknown config key(s): {', '.join(unknown)}; known: {', '.join(fields)}"
            )
        kwargs = {}
        for key, value in values.items():
            kind = type(getattr(cls(), key))
            kwargs[key] = _coerce(key, value, kind)
        return cls(**kwargs)

    def to_toml(self) -> str:
        lines = []
        for key, value in dataclasses.asdict(self).items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            else:
                text = repr(value)
            lines.append(f"{key} = {text}")
        return "\n".join(lines) + "\n"


def _coerce(key: str, value: Any, kind: type) -> Any:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    try:
        if kind is bool:
            text = str(value).lower()
            if text not in ("true", "false", "1", "0"):
                raise ValueError
            return text in ("true", "1")
        if kind is int:
            return int(str(value))
        if kind is float:
            return float(value)
        return kind(value)
    except ValueError:
        raise ValueError(f"config key {key!r} needs a {kind.__name__}, got {value!r}") from None
