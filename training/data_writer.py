"""Screening and writing of the material `hushkit data` prepares, and its options.

`ClipWriter` screens each clip (datasets.screen), cuts it into segments, writes them under
OUT/<kind>/<split>/<source>/ and collects the manifest entries; it also keeps the audio that
later stages draw on (held-out clips for the fixed evaluation mixtures, babble talkers, music,
key clicks). `PrepareOptions.recorded()` is what the manifest records to decide reuse.
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from pathlib import Path

import numpy as np

from hushkit.training import datasets as ds
from hushkit.training import sources

RECIPE_VERSION = 3  # bump when the preparation changes what it writes
# Fixed mixtures made per split: the in-distribution val/test sets and the held-out-source set.
EVAL_SET_DIRS = {"val": "valset", "test": "testset", "heldout": "heldout"}


@dataclasses.dataclass
class Sizes:
    """How much to synthesise and how many fixed evaluation mixtures to make."""

    synth_seconds: float = 20.0  # per synthesised noise clip
    synth_clips: dict = dataclasses.field(
        default_factory=lambda: {"train": 12, "val": 3, "test": 3, "heldout": 4}
    )
    babble_talkers: tuple[int, int] = (3, 8)  # range of talkers in one babble clip
    eval_clips: dict = dataclasses.field(
        default_factory=lambda: {"val": 40, "test": 50, "heldout": 100}
    )
    tts_utterances: int = 40  # per voice, when TTS speech is on
    midi_pieces: dict = dataclasses.field(
        default_factory=lambda: {"train": 40, "val": 6, "test": 6, "heldout": 0}
    )
    midi_seconds: float = 30.0


QUICK_SIZES = Sizes(
    synth_seconds=5.0,
    synth_clips={"train": 2, "val": 1, "test": 1, "heldout": 1},
    babble_talkers=(3, 3),
    eval_clips={"val": 10, "test": 10, "heldout": 10},
    tts_utterances=3,
    midi_pieces={"train": 1, "val": 0, "test": 0, "heldout": 0},
    midi_seconds=8.0,
)


@dataclasses.dataclass
class PrepareOptions:
    out: Path
    speech_dirs: list[Path] = dataclasses.field(default_factory=list)
    noise_dirs: list[Path] = dataclasses.field(default_factory=list)
    paired_dir: Path | None = None
    packages: list[str] | None = None  # None: all (or the quick pair with `quick`)
    quick: bool = False
    seed: int = 0
    tts_speech: bool = True
    babble: bool = True
    heldout: bool = True  # keep sources.HELDOUT_SOURCES out of training (full preparation only)
    min_speech_snr_db: float = ds.MIN_SPEECH_SNR_DB

    @property
    def sizes(self) -> Sizes:
        return QUICK_SIZES if self.quick else Sizes()

    @property
    def heldout_sources(self) -> frozenset[str]:
        return sources.HELDOUT_SOURCES if self.heldout and not self.quick else frozenset()

    def package_list(self) -> list[str]:
        if self.packages is not None:
            return list(self.packages)
        return list(sources.QUICK_PACKAGES if self.quick else sources.PACKAGES)

    def recorded(self) -> dict:
        """What the manifest records to decide whether a later run can reuse the output."""
        return {
            "recipe": RECIPE_VERSION,
            "speech_dirs": [str(p.resolve()) for p in self.speech_dirs],
            "noise_dirs": [str(p.resolve()) for p in self.noise_dirs],
            "paired_dir": str(self.paired_dir.resolve()) if self.paired_dir else None,
            "packages": self.package_list(),
            "quick": self.quick,
            "seed": self.seed,
            "tts_speech": self.tts_speech,
            "babble": self.babble,
            "heldout": sorted(self.heldout_sources),
            "min_speech_snr_db": self.min_speech_snr_db,
        }


class ClipWriter:
    """Screens, segments and writes clips; collects manifest entries and held-out audio."""

    def __init__(self, opts: PrepareOptions) -> None:
        self.opts = opts
        self.clips: list[dict] = []
        self.dropped: list[dict] = []
        self.held: dict[str, list[tuple[dict, np.ndarray]]] = {s: [] for s in EVAL_SET_DIRS}
        # Audio that later synthesis draws on, per split: babble talkers (by speaker), music
        # (for hold music) and recorded key clicks (for clatter).
        self.babble: dict[str, dict[str, list[np.ndarray]]] = {s: {} for s in ds.SPLITS}
        self.music: dict[str, list[np.ndarray]] = {s: [] for s in ds.SPLITS}
        self.clicks: dict[str, list[np.ndarray]] = {s: [] for s in ds.SPLITS}

    def add(self, x: np.ndarray, meta: dict, split: str, native_rate: int = ds.SAMPLE_RATE):
        screen_as = "speech" if meta["kind"] == "babble" else meta["kind"]
        reason, stats = ds.screen(
            x, screen_as, native_rate, min_speech_snr_db=self.opts.min_speech_snr_db
        )
        # The held-out set tests telephone-band speech too, telephone prompts are narrowband
        # by nature, and so are key clicks short.
        narrowband_ok = split == "heldout" or meta["source"] in sources.NARROWBAND_SPEECH_SOURCES
        if (reason == "narrowband" and narrowband_ok) or (
            reason == "too_short" and meta.get("category") == "keyboard"
        ):
            reason = None
        if reason:
            self.dropped.append(meta | stats | {"split": split, "reason": reason})
            return
        pieces = ds.segments(x, ds.MAX_SEGMENT_SECONDS[meta["kind"]])
        tag = f"{zlib.crc32(meta['origin'].encode()):08x}"[:6]
        for k, piece in enumerate(pieces):
            suffix = f"_s{k:02d}" if len(pieces) > 1 else ""
            name = f"{slug(meta['group'])}__{slug(Path(meta['origin']).stem)}-{tag}{suffix}"
            rel = Path(meta["kind"], split, meta["source"], name + ".wav")
            ds.write_wav(self.opts.out / rel, piece)
            entry = meta | stats | {"path": str(rel), "split": split, "segment": k}
            entry["duration_s"] = round(len(piece) / ds.SAMPLE_RATE, 3)
            entry["rms_dbfs"] = round(ds.rms_dbfs(piece), 2)
            self.clips.append(entry)
            if split in self.held and meta["kind"] != "babble":
                self.held[split].append((entry, piece))
            if meta["kind"] == "babble":
                self.babble[split].setdefault(f"{meta['source']}/{meta['group']}", []).append(piece)
            elif meta.get("category") == "music":
                self.music[split].append(piece)
            elif meta.get("category") == "keyboard":
                self.clicks[split].append(piece)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")[:60] or "x"
