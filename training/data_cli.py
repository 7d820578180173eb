"""`hushkit data`: prepare speech and noise material offline.

    hushkit data --out data/                         Debian packages + synthesised noise
    hushkit data --speech-dir ~/vctk --noise-dir ~/demand --paired-dir ~/voicebank
    hushkit data --quick                             small set for tests and CI

Everything ends up 16 kHz mono 16-bit under OUT (layout in datasets.py) with a manifest. A
second run with the same arguments finds the manifest and does nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from hushkit import argtypes
from hushkit.training import datasets as ds
from hushkit.training import mixing, sources, synth, tts
from hushkit.training.sources import DataError, RawClip

RECIPE_VERSION = 3  # bump when the preparation changes what it writes
OUTPUT_DIRS = ("speech", "noise", "babble", "valset", "testset", "heldout")
# Fixed mixtures made per split: the in-distribution val/test sets and the held-out-source set.
EVAL_SET_DIRS = {"val": "valset", "test": "testset", "heldout": "heldout"}
EVAL_SNRS_DB = (-5, 0, 5, 10, 15)
EVAL_SECONDS = (4.0, 8.0)
EVAL_LEVEL_DBFS = (-32.0, -18.0)  # noisy RMS of the fixed mixtures
EVAL_MIN_SOURCE_SECONDS = 60.0  # held-out speech a source needs to feature in the eval sets
HELDOUT_MIN_SOURCE_SECONDS = 15.0  # the held-out-source set keeps even its small sources
SYNTH_TYPES = ("white", "pink", "brown", "hum", "fan", "traffic", "clatter")
JOIN_SHORT_SECONDS = 4.0  # short clips of one talker are joined into pieces at least this long


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


class _Writer:
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
            name = f"{_slug(meta['group'])}__{_slug(Path(meta['origin']).stem)}-{tag}{suffix}"
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")[:60] or "x"


# ---------------------------------------------------------------------------------------------
# Preparation


def prepare(opts: PrepareOptions) -> dict:
    """Prepare `opts.out`; returns the manifest (reused as is when nothing changed)."""
    opts.out.mkdir(parents=True, exist_ok=True)
    reused = _reusable_manifest(opts)
    if reused is not None:
        return reused
    for name in OUTPUT_DIRS:
        shutil.rmtree(opts.out / name, ignore_errors=True)
    cache = opts.out / "cache"
    notes: list[str] = []
    writer = _Writer(opts)

    raw = _collect(opts, cache, notes)
    pairs = [] if opts.paired_dir is None else sources.paired_clips(opts.paired_dir)
    split_of = _split_all(raw + [clip for clip, _ in pairs], opts.seed, opts.heldout_sources)
    _process_files(raw, split_of, writer)
    _process_pairs(pairs, split_of, writer)
    _synthesise(opts, writer, notes)
    eval_sets = {
        EVAL_SET_DIRS[split]: _eval_set(opts, writer.held[split], split, notes)
        for split in EVAL_SET_DIRS
    }

    manifest = {
        "args": opts.recorded(),
        "sample_rate": ds.SAMPLE_RATE,
        "screening": {
            "min_speech_seconds": ds.MIN_SPEECH_SECONDS,
            "min_speech_snr_db": opts.min_speech_snr_db,
            "min_speech_native_rate": ds.MIN_SPEECH_RATE,
            "snr_estimate": "95th minus 10th percentile of 20 ms frame energy, dB",
        },
        "notes": notes,
        "eval_sets": eval_sets,
        "clips": writer.clips,
        "dropped": writer.dropped,
    }
    (opts.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _reusable_manifest(opts: PrepareOptions) -> dict | None:
    path = opts.out / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if manifest.get("args") != opts.recorded():
        return None
    files = [opts.out / c["path"] for c in manifest["clips"]]
    made = [name for name, info in manifest.get("eval_sets", {}).items() if info.get("clips")]
    files += [opts.out / name / "meta.json" for name in made]
    if not all(p.exists() for p in files):
        return None
    manifest["reused"] = True
    return manifest


def _collect(opts: PrepareOptions, cache: Path, notes: list[str]) -> list[RawClip]:
    raw = sources.package_clips(opts.package_list(), cache)
    for i, folder in enumerate(opts.speech_dirs):
        raw += sources.user_clips(folder, "speech", i)
    for i, folder in enumerate(opts.noise_dirs):
        raw += sources.user_clips(folder, "noise", i)
    if not opts.quick and opts.packages is None:
        raw += _midi_music(cache, notes)
    return raw


def _midi_music(cache: Path, notes: list[str]) -> list[RawClip]:
    roots = [Path(r) for r in synth.MIDI_SEARCH_ROOTS] + [cache / "pkgs"]
    midis = synth.find_midi_files(roots)
    font = synth.soundfont()
    if not midis or font is None:
        why = "no MIDI files in installed packages" if not midis else "no fluidsynth/soundfont"
        notes.append(f"fluidsynth music skipped: {why}")
        return []
    clips = []
    for midi in midis:
        wav = cache / "midi" / f"{_slug(midi.stem)}-{zlib.crc32(str(midi).encode()):08x}.wav"
        if not wav.exists():
            wav.parent.mkdir(parents=True, exist_ok=True)
            synth.render_midi(midi, wav, ds.SAMPLE_RATE, font)
        clips.append(RawClip(wav, "noise", "midi-music", midi.stem, "music"))
    return clips


def _split_all(
    raw: list[RawClip], seed: int, heldout: frozenset[str] = frozenset()
) -> dict[tuple[str, str], str]:
    """(source, group) -> split, from the duration of each group; `heldout` sources whole go
    to the "heldout" split."""
    import soundfile as sf

    durations: dict[str, dict[str, float]] = {}
    for clip in raw:
        try:
            seconds = sf.info(str(clip.path)).duration
        except (sf.LibsndfileError, RuntimeError):
            if clip.source.startswith(("user", "paired")):
                raise DataError(f"{clip.path}: cannot read audio (not WAV/FLAC/OGG?)") from None
            seconds = 1.0  # decoded later through sox, or skipped with a warning
        per_source = durations.setdefault(clip.source, {})
        per_source[clip.group] = per_source.get(clip.group, 0.0) + seconds
    split_of = {}
    for source, groups in durations.items():
        if source in heldout:
            split_of |= {(source, group): "heldout" for group in groups}
            continue
        for group, split in ds.assign_splits(groups, seed, source).items():
            split_of[(source, group)] = split
    return split_of


def _meta(clip: RawClip, info: dict) -> dict:
    return {
        "kind": clip.kind,
        "source": clip.source,
        "group": clip.group,
        "category": clip.category,
        "origin": str(clip.path),
        "native_rate": info.get("native_rate", ds.SAMPLE_RATE),
        "channels": info.get("channels", 1),
    }


def _process_files(raw: list[RawClip], split_of: dict, writer: _Writer) -> None:
    from tqdm import tqdm

    # Words and syllables shorter than the screening minimum are joined, per talker, into
    # pieces of JOIN_SHORT_SECONDS with short pauses, instead of being dropped.
    short: dict[tuple[str, str], list] = {}
    for clip in tqdm(raw, desc="decode+screen", unit="file", disable=not raw):
        try:
            x, info = ds.read_audio(clip.path)
        except DataError as exc:
            if clip.source.startswith("user"):
                raise
            print(f"warning: skipped {exc}", file=sys.stderr)
            continue
        split = split_of[(clip.source, clip.group)]
        if (
            clip.kind != "noise"
            and 0.2 * ds.SAMPLE_RATE < len(x) < ds.MIN_SPEECH_SECONDS * ds.SAMPLE_RATE
        ):
            pending = short.setdefault((clip.source, clip.group), [])
            pending.append((x, clip, info))
            if sum(len(p[0]) for p in pending) >= JOIN_SHORT_SECONDS * ds.SAMPLE_RATE:
                _add_joined(pending, split, writer)
                pending.clear()
            continue
        writer.add(x, _meta(clip, info), split, info["native_rate"])
    for (source, group), pending in short.items():
        if pending:
            _add_joined(pending, split_of[(source, group)], writer)


def _add_joined(pending: list, split: str, writer: _Writer) -> None:
    rng = np.random.default_rng(zlib.crc32(str(pending[0][1].path).encode()))
    parts = []
    for x, _, _ in pending:
        parts += [x, np.zeros(int(rng.uniform(0.1, 0.3) * ds.SAMPLE_RATE), np.float32)]
    _, first, info = pending[0]
    meta = _meta(first, info) | {"origin": f"{first.path}+{len(pending) - 1}"}
    native = min(p[2]["native_rate"] for p in pending)
    writer.add(np.concatenate(parts), meta, split, native)


def _process_pairs(pairs: list, split_of: dict, writer: _Writer) -> None:
    """Paired clean/noisy folders: clean is speech; noisy - clean is that pair's noise."""
    for clip, noisy_path in pairs:
        clean, info = ds.read_audio(clip.path)
        noisy, _ = ds.read_audio(noisy_path)
        if len(noisy) != len(clean):
            raise DataError(f"{noisy_path}: {len(noisy)} samples but its clean twin {len(clean)}")
        split = split_of[(clip.source, clip.group)]
        writer.add(clean, _meta(clip, info), split, info["native_rate"])
        noise_meta = _meta(clip, info) | {
            "kind": "noise",
            "source": "paired-noise",
            "category": "paired",
            "origin": str(noisy_path),
        }
        writer.add(noisy - clean, noise_meta, split, info["native_rate"])


def _synthesise(opts: PrepareOptions, writer: _Writer, notes: list[str]) -> None:
    """Noise made per split from that split's seeds and recordings only.

    Generic synthetic noise (coloured, hum, fan, traffic, clatter) and composed music go to
    train/val/test; the held-out split gets only noise derived from held-out recordings
    (babble, crowd, hold music, typing from recorded key clicks), so every noise it holds comes
    from sources the model never trained on.
    """
    from tqdm import tqdm

    sizes, sr = opts.sizes, ds.SAMPLE_RATE
    n = int(sizes.synth_seconds * sr)
    jobs = []
    for split in ds.SPLITS:
        count = range(sizes.synth_clips[split])
        if split != "heldout":
            jobs += [(t, split, k) for t in SYNTH_TYPES for k in count]
        elif writer.clicks[split]:
            jobs += [("clatter", split, k) for k in count]
        if opts.babble and writer.babble[split]:
            jobs += [(t, split, k) for t in ("babble", "crowd") for k in count]
        elif opts.babble and not opts.quick:
            notes.append(f"babble skipped in {split}: no babble talkers in that split")
        if writer.music[split]:
            jobs += [("hold-music", split, k) for k in count]
    split_ids = {s: i for i, s in enumerate(ds.SPLITS)}
    for kind, split, k in tqdm(jobs, desc="synthesise noise", unit="clip"):
        rng = np.random.default_rng([opts.seed, split_ids[split], zlib.crc32(kind.encode()), k])
        pools = list(writer.babble[split].values())
        if kind == "babble":
            x = synth.babble(
                pools,
                n,
                sr,
                rng,
                int(rng.integers(sizes.babble_talkers[0], sizes.babble_talkers[1] + 1)),
            )
        elif kind == "crowd":
            x = synth.crowd(pools, n, sr, rng)
        elif kind == "hold-music":
            music = writer.music[split][int(rng.integers(len(writer.music[split])))]
            x = synth.hold_music(music, sr, rng)
        elif kind == "clatter":
            x = synth.clatter(n, sr, rng, writer.clicks[split])
        elif kind == "traffic":
            x = synth.traffic(n, sr, rng)
        elif kind in ("white", "pink", "brown"):
            x = synth.coloured_noise(n, {"white": 0, "pink": 1, "brown": 2}[kind], rng)
        else:
            x = getattr(synth, kind)(n, sr, rng)
        name = f"{kind}-{split}-{k}"
        meta = {"kind": "noise", "source": "synth", "group": name, "category": kind}
        meta["origin"] = f"synth/{name}"
        writer.add(x, meta, split)
    _composed_music(opts, writer, notes)
    if opts.tts_speech and not opts.quick:  # the quick set stays all recorded speech
        voices = _voices_by_split(opts.seed, notes)
        if voices:
            _tts_speech(opts, writer, voices)


def _composed_music(opts: PrepareOptions, writer: _Writer, notes: list[str]) -> None:
    """Pieces composed at random (GM programs, keys, tempi) and rendered by fluidsynth."""
    from tqdm import tqdm

    font = synth.soundfont()
    jobs = [(s, k) for s in ds.SPLITS for k in range(opts.sizes.midi_pieces[s])]
    if not jobs:
        return
    if font is None:
        notes.append("composed music skipped: no fluidsynth/soundfont")
        return
    cache = opts.out / "cache" / "composed"
    split_ids = {s: i for i, s in enumerate(ds.SPLITS)}
    for split, k in tqdm(jobs, desc="compose music", unit="piece"):
        rng = np.random.default_rng([opts.seed, split_ids[split], 77, k])
        midi = cache / f"{split}-{k}.mid"
        wav = midi.with_suffix(".wav")
        synth.compose_midi(midi, opts.sizes.midi_seconds, rng)
        synth.render_midi(midi, wav, ds.SAMPLE_RATE, font)
        x, _ = ds.read_audio(wav)
        meta = {"kind": "noise", "source": "composed-music", "group": midi.stem}
        meta |= {"category": "music", "origin": f"composed/{midi.stem}"}
        writer.add(x, meta, split)


def _voices_by_split(seed: int, notes: list[str]) -> dict[str, list[str]]:
    """TTS voices as extra clean speech: test and val get three voices each that training never
    hears; the held-out split gets none (its speech is all recorded)."""
    voices = tts.tts_voices()
    if not voices:
        notes.append("TTS speech skipped: neither espeak-ng nor flite is installed")
        return {}
    order = [voices[i] for i in np.random.default_rng([seed, 7]).permutation(len(voices))]
    if len(order) < 9:
        notes.append(f"only {len(order)} TTS voices: they are shared by train, val and test")
        split = dict.fromkeys(("train", "val", "test"), order)
    else:
        split = {"test": order[:3], "val": order[3:6], "train": order[6:]}
    return {s: [v for v in vs if v not in tts.NOT_RENDERED] for s, vs in split.items()}


def _tts_speech(opts: PrepareOptions, writer: _Writer, voices: dict[str, list[str]]) -> None:
    import tempfile

    from tqdm import tqdm

    per_voice = range(opts.sizes.tts_utterances)
    jobs = [(s, v, k) for s in ds.SPLITS for v in voices.get(s, []) for k in per_voice]
    with tempfile.TemporaryDirectory() as tmp:
        for split, voice, k in tqdm(jobs, desc="TTS speech", unit="utt"):
            rng = np.random.default_rng([opts.seed, zlib.crc32(voice.encode()), k])
            text = tts.TTS_TEXTS[int(rng.integers(len(tts.TTS_TEXTS)))]
            x = tts.tts(voice, text, rng, ds.SAMPLE_RATE, Path(tmp))
            meta = {"kind": "speech", "source": "tts", "group": voice, "category": "speech"}
            meta["origin"] = f"tts/{voice}/{k}"
            writer.add(x, meta, split)


# ---------------------------------------------------------------------------------------------
# Fixed evaluation mixtures


def _eval_set(
    opts: PrepareOptions, held: list[tuple[dict, np.ndarray]], split: str, notes: list[str]
) -> dict:
    """Mixtures of this split's speech and noise at EVAL_SNRS_DB into OUT/<EVAL_SET_DIRS>."""
    from tqdm import tqdm

    name = EVAL_SET_DIRS[split]
    speech: dict[str, list] = {}
    noise: dict[str, list] = {}
    for entry, x in held:
        # speech is balanced over sources, noise over types
        if entry["kind"] == "speech":
            speech.setdefault(entry["source"], []).append((entry, x))
        elif entry["category"] != "keyboard":  # single key clicks: heard through "clatter"
            noise.setdefault(entry["category"], []).append((entry, x))
    if not speech or not noise:
        notes.append(f"{name} not made: no held-out {'speech' if not speech else 'noise'}")
        return {"clips": 0}
    sr = ds.SAMPLE_RATE
    meta = {}
    # A source with under a minute held out would repeat the same few clips over and over.
    seconds = {src: sum(len(x) for _, x in pool) / ds.SAMPLE_RATE for src, pool in speech.items()}
    min_seconds = EVAL_MIN_SOURCE_SECONDS if split != "heldout" else HELDOUT_MIN_SOURCE_SECONDS
    speech_sources = sorted(s for s in speech if seconds[s] >= min_seconds)
    speech_sources = speech_sources or sorted(speech)
    noise_types = sorted(noise)
    for i in tqdm(range(opts.sizes.eval_clips[split]), desc=name, unit="clip"):
        rng = np.random.default_rng([opts.seed, 1000 + ds.SPLITS.index(split), i])
        snr = EVAL_SNRS_DB[i % len(EVAL_SNRS_DB)]
        src = speech_sources[i % len(speech_sources)]
        n = int(rng.uniform(*EVAL_SECONDS) * sr)
        clean, used = _eval_speech(speech[src], n, rng)
        ntype = noise_types[(i // len(EVAL_SNRS_DB)) % len(noise_types)]
        noise_entry, noise_seg = _noise_segment(noise[ntype], n, rng)
        noisy, _ = mixing.mix_at_snr(clean, noise_seg, snr, sr)
        level = float(rng.uniform(*EVAL_LEVEL_DBFS))
        noisy, clean, _ = mixing.set_level(noisy, clean, level)
        clip = f"{split}_{i:03d}.wav"
        ds.write_wav(opts.out / name / "clean" / clip, clean)
        ds.write_wav(opts.out / name / "noisy" / clip, noisy)
        meta[clip] = {
            "snr_db": snr,
            "level_dbfs": round(level, 2),
            "duration_s": round(n / sr, 3),
            "speech_source": src,
            "speech_files": used,
            "noise_source": noise_entry["source"],
            "noise_type": ntype,
            "noise_file": noise_entry["path"],
        }
    (opts.out / name / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return {"clips": len(meta), "snrs_db": list(EVAL_SNRS_DB)}


def _pick(pool: list, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    return pool[int(rng.integers(len(pool)))]


def _noise_segment(pool: list, n: int, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """`n` samples of one clip of `pool` that sound for most of their length: an effect that
    is mostly silence would put the whole SNR into one burst. The best of 20 draws."""
    best, best_score = None, -1.0
    for _ in range(20):
        entry, x = _pick(pool, rng)
        seg = mixing.loop_to_length(x, n, rng, ds.SAMPLE_RATE)
        energies = ds.frame_energies_db(seg)
        score = float(np.mean(energies > energies.max() - 30.0)) if np.any(seg) else 0.0
        if score > best_score:
            best, best_score = (entry, seg), score
        if score >= 0.5:
            break
    if best is None or best_score <= 0.0:
        raise DataError("a noise pool holds only silence")
    return best


def _eval_speech(pool: list, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """`n` samples of one source's held-out speech: distinct clips (while there are enough)
    from a random starting point, joined by short pauses."""
    parts, used, total = [], [], 0
    k = int(rng.integers(len(pool)))
    while total < n:
        entry, x = pool[k % len(pool)]
        k += 1
        gap = np.zeros(int(rng.uniform(0.1, 0.4) * ds.SAMPLE_RATE), np.float32)
        parts += [x, gap]
        used.append(entry["path"])
        total += len(x) + len(gap)
    return np.concatenate(parts)[:n], used


# ---------------------------------------------------------------------------------------------
# Report and command line


def summary(manifest: dict) -> str:
    """Minutes per source and split, and what screening dropped."""
    minutes: dict[tuple[str, str], dict[str, float]] = {}
    for c in manifest["clips"]:
        row = minutes.setdefault((c["kind"], c["source"]), dict.fromkeys(ds.SPLITS, 0.0))
        row[c["split"]] += c["duration_s"] / 60
    drops: dict[tuple[str, str], dict[str, int]] = {}
    for d in manifest["dropped"]:
        per = drops.setdefault((d["kind"], d["source"]), {})
        per[d["reason"]] = per.get(d["reason"], 0) + 1
    lines = [
        f"{'kind':<7}{'source':<18}{'train':>8}{'val':>7}{'test':>7}{'heldout':>8}  dropped (why)"
    ]
    totals = {k: dict.fromkeys(ds.SPLITS, 0.0) for k in ("speech", "babble", "noise")}
    for key in sorted(set(minutes) | set(drops)):
        row = minutes.get(key, dict.fromkeys(ds.SPLITS, 0.0))
        why = ", ".join(f"{n} {r}" for r, n in sorted(drops.get(key, {}).items()))
        lines.append(
            f"{key[0]:<7}{key[1]:<18}{row['train']:8.2f}{row['val']:7.2f}{row['test']:7.2f}"
            f"{row['heldout']:8.2f}  {why}"
        )
        for s in ds.SPLITS:
            totals[key[0]][s] += row[s]
    for kind, row in totals.items():
        lines.append(
            f"{kind:<7}{'TOTAL (min)':<18}{row['train']:8.2f}{row['val']:7.2f}{row['test']:7.2f}"
            f"{row['heldout']:8.2f}"
        )
    for name, info in manifest["eval_sets"].items():
        lines.append(f"{name} eval set: {info['clips']} mixtures")
    lines += [f"note: {n}" for n in manifest["notes"]]
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "data",
        help="prepare speech/noise material (Debian packages and your own folders)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("data"), help="output directory")
    p.add_argument(
        "--speech-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="folder of clean speech (WAV/FLAC/OGG, any rate; channels averaged)",
    )
    p.add_argument(
        "--noise-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="folder of noise recordings",
    )
    p.add_argument(
        "--paired-dir",
        type=Path,
        metavar="DIR",
        help="clean/ + noisy/ with the same names (VoiceBank+DEMAND, DNS)",
    )
    p.add_argument(
        "--packages",
        metavar="LIST",
        help=f"comma-separated Debian packages, or 'none' (default: {','.join(sources.PACKAGES)})",
    )
    p.add_argument("--quick", action="store_true", help="small set for tests and CI")
    p.add_argument(
        "--seed",
        type=argtypes.non_negative_int,
        default=0,
        help="splits, synthesis and eval mixtures",
    )
    p.add_argument(
        "--no-tts-speech",
        action="store_true",
        help="leave out espeak-ng/flite speech (extra clean targets in train/val/test)",
    )
    p.add_argument("--no-babble", action="store_true", help="skip babble and crowd noise")
    p.add_argument(
        "--min-speech-snr-db",
        type=argtypes.float_range(-100.0, 100.0),
        default=ds.MIN_SPEECH_SNR_DB,
        help="drop speech whose estimated SNR is below this (dB)",
    )
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> PrepareOptions:
    packages = None
    if args.packages is not None:
        packages = [] if args.packages == "none" else args.packages.split(",")
        unknown = sorted(set(packages) - set(sources.PACKAGES))
        if unknown:
            raise DataError(f"unknown package(s) {unknown}; known: {', '.join(sources.PACKAGES)}")
    return PrepareOptions(
        out=args.out,
        speech_dirs=args.speech_dir,
        noise_dirs=args.noise_dir,
        paired_dir=args.paired_dir,
        packages=packages,
        quick=args.quick,
        seed=args.seed,
        tts_speech=not args.no_tts_speech,
        babble=not args.no_babble,
        min_speech_snr_db=args.min_speech_snr_db,
    )


def run(args: argparse.Namespace) -> int:
    start = time.monotonic()
    try:
        manifest = prepare(options_from_args(args))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(manifest))
    state = "up to date, reused" if manifest.get("reused") else "prepared"
    print(f"{args.out}: {state} in {time.monotonic() - start:.1f} s")
    return 0
