"""The material `hushkit data` writes, one kind at a time.

Recorded clips (Debian packages, your folders, MIDI files rendered by fluidsynth) are split by
talker/group, decoded and screened; paired clean/noisy folders give speech and their noise;
noise is synthesised per split from that split's seeds and recordings; composed music and TTS
speech are rendered. Everything goes through a `ClipWriter`.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

from hushkit.training import datasets as ds
from hushkit.training import sources, synth, tts
from hushkit.training.data_writer import ClipWriter, PrepareOptions, slug
from hushkit.training.sources import DataError, RawClip

SYNTH_TYPES = ("white", "pink", "brown", "hum", "fan", "traffic", "clatter")
JOIN_SHORT_SECONDS = 4.0  # short clips of one talker are joined into pieces at least this long


def collect(opts: PrepareOptions, cache: Path, notes: list[str]) -> list[RawClip]:
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
        wav = cache / "midi" / f"{slug(midi.stem)}-{zlib.crc32(str(midi).encode()):08x}.wav"
        if not wav.exists():
            wav.parent.mkdir(parents=True, exist_ok=True)
            synth.render_midi(midi, wav, ds.SAMPLE_RATE, font)
        clips.append(RawClip(wav, "noise", "midi-music", midi.stem, "music"))
    return clips


def split_all(
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


def origin(path: Path, out: Path) -> str:
    """`path` as the manifest records it. Inside the output folder (the package cache) it is
    spelled as if that folder were `data`, so that the same material makes the same files
    wherever it is prepared: file names and the pauses between joined words are drawn from it.
    Other paths (the user's folders) are recorded as given."""
    try:
        return str(Path("data") / path.relative_to(out))
    except ValueError:
        return str(path)


def _meta(clip: RawClip, info: dict, out: Path) -> dict:
    return {
        "kind": clip.kind,
        "source": clip.source,
        "group": clip.group,
        "category": clip.category,
        "origin": origin(clip.path, out),
        "native_rate": info.get("native_rate", ds.SAMPLE_RATE),
        "channels": info.get("channels", 1),
    }


def process_files(raw: list[RawClip], split_of: dict, writer: ClipWriter) -> None:
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
        writer.add(x, _meta(clip, info, writer.opts.out), split, info["native_rate"])
    for (source, group), pending in short.items():
        if pending:
            _add_joined(pending, split_of[(source, group)], writer)


def _add_joined(pending: list, split: str, writer: ClipWriter) -> None:
    _, first, info = pending[0]
    meta = _meta(first, info, writer.opts.out)
    rng = np.random.default_rng(zlib.crc32(meta["origin"].encode()))
    parts = []
    for x, _, _ in pending:
        parts += [x, np.zeros(int(rng.uniform(0.1, 0.3) * ds.SAMPLE_RATE), np.float32)]
    meta["origin"] += f"+{len(pending) - 1}"
    native = min(p[2]["native_rate"] for p in pending)
    writer.add(np.concatenate(parts), meta, split, native)


def process_pairs(pairs: list, split_of: dict, writer: ClipWriter) -> None:
    """Paired clean/noisy folders: clean is speech; noisy - clean is that pair's noise."""
    for clip, noisy_path in pairs:
        clean, info = ds.read_audio(clip.path)
        noisy, _ = ds.read_audio(noisy_path)
        if len(noisy) != len(clean):
            raise DataError(f"{noisy_path}: {len(noisy)} samples but its clean twin {len(clean)}")
        split = split_of[(clip.source, clip.group)]
        writer.add(clean, _meta(clip, info, writer.opts.out), split, info["native_rate"])
        noise_meta = _meta(clip, info, writer.opts.out) | {
            "kind": "noise",
            "source": "paired-noise",
            "category": "paired",
            "origin": str(noisy_path),
        }
        writer.add(noisy - clean, noise_meta, split, info["native_rate"])


def synthesise(opts: PrepareOptions, writer: ClipWriter, notes: list[str]) -> None:
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


def _composed_music(opts: PrepareOptions, writer: ClipWriter, notes: list[str]) -> None:
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


def _tts_speech(opts: PrepareOptions, writer: ClipWriter, voices: dict[str, list[str]]) -> None:
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
