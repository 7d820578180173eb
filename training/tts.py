"""Synthetic voices (espeak-ng, flite) as extra speech *targets*, never as noise."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from hushkit.training.sources import run_tool

# Neutral sentences for the TTS speech targets; intelligibility does not matter.
TTS_TEXTS = (
    "The quarterly report is due on Friday, so please send me your numbers before noon.",
    "I think the train was delayed again because of the weather up north.",
    "Could you pass me the salt and the pepper, and maybe some bread as well?",
    "We should paint the kitchen a lighter colour before the guests arrive.",
    "The children played outside in the garden until it was completely dark.",
    "Turn left at the second traffic light and the museum is on your right.",
    "She bought three apples, a loaf of bread and a bottle of milk.",
    "Nobody expected the meeting to last for more than two hours.",
    "The new bridge will open to traffic at the end of next month.",
    "Remember to water the plants while I am away on holiday.",
    "He plays the violin in a small orchestra every Sunday afternoon.",
    "The weather forecast says it will rain heavily tomorrow morning.",
    "My sister is studying chemistry at the university in the city.",
    "Please keep your tickets ready for inspection at the next station.",
    "The restaurant on the corner serves the best soup in town.",
    "We watched the boats sail slowly out of the harbour at sunrise.",
)

ESPEAK_VOICES = (
    "en-us", "en", "en-gb-x-rp", "en-029", "de", "fr", "es", "it", "nl", "pl", "pt", "sv",
    "ru", "cs", "da", "fi", "hu", "tr", "el", "ro",
)  # fmt: skip
FLITE_VOICES = ("slt", "rms", "awb", "kal16")
# flite's slt voice is built from the CMU ARCTIC "slt" recordings, a speaker that other voices
# and evaluation material are made from, so hushkit never renders it: it keeps its place in the
# split draw (no other voice changes split) and yields no speech.
NOT_RENDERED = frozenset({"flite:slt"})


def tts_voices() -> list[str]:
    """Available voices as "espeak:<voice>" / "flite:<voice>"; empty if neither is installed."""
    voices = []
    if shutil.which("espeak-ng"):
        voices += [f"espeak:{v}" for v in ESPEAK_VOICES]
    if shutil.which("flite"):
        voices += [f"flite:{v}" for v in FLITE_VOICES]
    return voices


def tts(voice: str, text: str, rng: np.random.Generator, sr: int, tmp: Path) -> np.ndarray:
    """One utterance from espeak-ng or flite, resampled to `sr` float32."""
    from hushkit.training.datasets import read_audio  # avoid a cycle at import time

    engine, name = voice.split(":", 1)
    out = tmp / "tts.wav"
    if engine == "espeak":
        speed, pitch = int(rng.integers(130, 200)), int(rng.integers(20, 80))
        cmd = ["espeak-ng", "-v", name, "-s", str(speed), "-p", str(pitch), "-w", str(out), text]
    else:
        cmd = ["flite", "-voice", name, "-t", text, "-o", str(out)]
    run_tool(cmd, f"TTS voice {voice}")
    return read_audio(out, sr)[0]
