"""Where recorded training audio comes from: Debian packages and the user's folders.

Every source yields `RawClip`s: a file to decode, whether it is speech or noise, and the
*group* that is the unit of the train/val/test split (a speaker, a scene, or a source file),
so that no held-out recording ever leaks into training. Synthesised material (`synth`: coloured
noise, hum, fan, babble, rendered music; `tts`: synthetic voices) is generated separately for
each split from split-specific seeds and voices, so it cannot leak either.

Debian packages are only downloaded (`apt-get download`) and unpacked (`dpkg-deb -x`) into a
cache; nothing is installed.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class DataError(RuntimeError):
    """A problem with the input material that the user has to fix (message says how)."""


@dataclasses.dataclass(frozen=True)
class RawClip:
    path: Path
    kind: str  # "speech", "noise", or "babble" (speech of talkers kept for babble only)
    source: str  # short source name: the package, or "user-speech" / "user-noise" / ...
    group: str  # split unit: speaker, scene or source file
    category: str  # "speech", or the noise type ("ambient", "music", "effects", ...)


# ---------------------------------------------------------------------------------------------
# Debian packages


def fetch_package(name: str, cache_dir: Path) -> Path:
    """Download and unpack one Debian package into `cache_dir/pkgs/NAME`; reuse it if there."""
    root = cache_dir / "pkgs" / name
    marker = root / ".unpacked"
    if marker.exists():
        return root
    debs = cache_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = _find_deb(debs, name)
    if deb is None:
        _apt_download(name, debs)
        deb = _find_deb(debs, name)
        if deb is None:
            raise DataError(f"apt-get download {name} produced no .deb in {debs}")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    run_tool(["dpkg-deb", "-x", str(deb), str(root)], f"unpacking {deb.name}")
    marker.touch()
    return root


def _find_deb(debs: Path, name: str) -> Path | None:
    found = sorted(debs.glob(f"{name}_*.deb"))
    return found[-1] if found else None


def _apt_download(name: str, dest: Path) -> None:
    if shutil.which("apt-get") is None:
        raise DataError(f"package {name}: apt-get is not available (Debian/Ubuntu only)")
    cmd = ["apt-get", "download", "-q", name]
    result = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    if result.returncode != 0:
        # Fresh containers ship without package lists; fetch them once and retry.
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True)
        result = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    if result.returncode != 0:
        raise DataError(f"apt-get download {name} failed:\n{result.stderr.strip()}")


def run_tool(cmd: list[str], what: str) -> None:
    """Run an external tool; a failure is one DataError naming `what`."""
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise DataError(f"{what} failed ({' '.join(cmd)}):\n{result.stderr.strip()}")


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file())


def _fillets_speech(root: Path) -> list[RawClip]:
    # sound/<scene>/nl/<speaker>-<line>.ogg: one scene is one dialogue, so it is the group.
    # Every third scene (in name order) is kept for babble, so no babble talker is a target.
    files = _files(root, "usr/share/games/fillets-ng/sound/*/nl/*.ogg")
    scenes = sorted({p.parent.parent.name for p in files})
    clips = []
    for p in files:
        scene = p.parent.parent.name
        kind = "babble" if scenes.index(scene) % 3 == 2 else "speech"
        clips.append(RawClip(p, kind, "fillets-nl", scene, "speech"))
    return clips


_TUXPAINT_DESC = re.compile(r"_desc(?:_(?P<lang>[A-Za-z_]+))?$")


def _tuxpaint(root: Path) -> list[RawClip]:
    # <stamp>_desc_<lang>.ogg are spoken descriptions, one reader per language (the group);
    # <stamp>_desc.ogg and the spoken letters/numbers under symbols/ are English. Other
    # un-suffixed sounds are the stamps' sound effects (animals, household machines): noise.
    clips = []
    base = root / "usr/share/tuxpaint/stamps"
    for p in sorted(base.rglob("*")):
        if p.suffix not in (".ogg", ".wav") or not p.is_file():
            continue
        m = _TUXPAINT_DESC.search(p.stem)
        rel = p.relative_to(base)
        if m:
            lang = m.group("lang") or "en"
            clips.append(RawClip(p, "speech", "tuxpaint", lang, "speech"))
        elif rel.parts[0] == "symbols":
            clips.append(RawClip(p, "speech", "tuxpaint", "en", "speech"))
        else:
            clips.append(RawClip(p, "noise", "tuxpaint-fx", str(rel.with_suffix("")), "effects"))
    return clips


def _qabcs(root: Path) -> list[RawClip]:
    # abcs/<lang>/sounds/{alpha,words}/*.ogg: one reader per language, all kept for babble
    # (words in many languages); abcs/all/noises: effects.
    base = root / "usr/share/qabcs/abcs"
    clips = []
    for p in _files(base, "*/sounds/*/*.ogg"):
        lang = p.relative_to(base).parts[0]
        if lang != "all":
            clips.append(RawClip(p, "babble", "qabcs", lang, "speech"))
    for p in _files(base, "all/noises/*.ogg"):
        clips.append(RawClip(p, "noise", "qabcs-noises", p.stem, "effects"))
    return clips


def _pocketsphinx(root: Path) -> list[RawClip]:
    # LibriVox excerpts (one reader) and the "cards" prompts: each file is its own group.
    base = root / "usr/share/pocketsphinx/test/data"
    return [
        RawClip(p, "speech", "pocketsphinx", f"{p.parent.name}-{p.stem}", "speech")
        for p in _files(base, "**/*.wav")
    ]


def _alsa(root: Path) -> list[RawClip]:
    clips = []
    for p in _files(root, "usr/share/sounds/alsa/*.wav"):
        if p.stem == "Noise":
            clips.append(RawClip(p, "noise", "alsa-utils", p.stem, "white"))
        else:
            clips.append(RawClip(p, "speech", "alsa-utils", p.stem, "speech"))
    return clips


def _lincity(root: Path) -> list[RawClip]:
    # sounds/MarketLow1.wav, MarketLow2.wav ... are takes of one scene: strip the digit so
    # variants of a recording stay in one split.
    base = root / "usr/share/games/lincity-ng"
    clips = []
    for p in _files(base, "sounds/*.wav"):
        group = re.sub(r"\d+$", "", p.stem)
        clips.append(RawClip(p, "noise", "lincity-ambient", group, "ambient"))
    for p in _files(base, "music/**/*.ogg"):
        clips.append(RawClip(p, "noise", "lincity-music", p.stem, "music"))
    return clips


def _fillets_music(root: Path) -> list[RawClip]:
    return [
        RawClip(p, "noise", "fillets-music", p.stem, "music")
        for p in _files(root, "usr/share/games/fillets-ng/music/*.ogg")
    ]


def _klettres(root: Path) -> list[RawClip]:
    # klettres/<lang>/{alpha,syllab}/*.ogg: letters and syllables, one reader per language.
    base = root / "usr/share/klettres"
    return [
        RawClip(p, "speech", "klettres", p.relative_to(base).parts[0], "speech")
        for p in _files(base, "*/*/*.ogg")
    ]


# Languages of the telephone prompt packages (asterisk-core-sounds-LANG-wav).
TELEPHONE_LANGUAGES = ("en", "es", "fr", "it", "ru")

# Prompt files that are tones, not speech.
_NOT_SPEECH = re.compile(r"tone|beep|dial|ring|silence|busy-signal", re.IGNORECASE)


def _asterisk_prompts(source: str) -> Callable[[Path], list[RawClip]]:
    def clips(root: Path) -> list[RawClip]:
        # sounds/<voice>/[<topic>/]<prompt>.wav: studio prompts read by one professional voice
        # per package, delivered at 8 kHz for telephony (a narrowband recording chain). The
        # prompt family (the name up to its first dash) is the group.
        base = root / "usr/share/asterisk/sounds"
        return [
            RawClip(p, "speech", source, p.stem.split("-")[0], "speech")
            for p in _files(base, "**/*.wav")
            if not _NOT_SPEECH.search(p.stem)
        ]

    return clips


def _ktuberling(root: Path) -> list[RawClip]:
    # sounds/<lang>/<word>.{ogg,opus,wav}: the toy's spoken words, one volunteer reader per
    # language (the group), each recorded at home on their own microphone (8 to 48 kHz).
    # The sr@* folders repeat the Serbian recordings under other scripts' names.
    base = root / "usr/share/ktuberling/sounds"
    return [
        RawClip(p, "speech", "ktuberling", p.parent.name, "speech")
        for p in _files(base, "*/*")
        if p.suffix in (".ogg", ".opus", ".wav") and "@" not in p.parent.name
    ]


def _frozen_bubble(root: Path) -> list[RawClip]:
    base = root / "usr/share/games/frozen-bubble/snd"
    clips = []
    for p in _files(base, "*.ogg"):
        category = "music" if "zik" in p.stem else "effects"
        clips.append(RawClip(p, "noise", "frozen-bubble", p.stem, category))
    return clips


def _archive_members(root: Path, archive: str, prefixes: tuple[str, ...]) -> list[Path]:
    """Audio members of a game's zip archive (.wz, .pk3) whose names start with `prefixes`,
    extracted once next to the unpacked package."""
    import zipfile

    out = root / "extracted" / Path(archive).stem
    marker = out / ".extracted"
    if not marker.exists():
        with zipfile.ZipFile(root / archive) as zf:
            for name in zf.namelist():
                if name.startswith(prefixes) and name.lower().endswith((".ogg", ".wav")):
                    zf.extract(name, out)
        marker.touch()
    return sorted(p for p in out.rglob("*") if p.suffix.lower() in (".ogg", ".wav"))


def _hedgewars(root: Path) -> list[RawClip]:
    # Data/Sounds/voices/<character>/*.ogg: one voice actor per character (British, Pirate,
    # Russian, Default_es ...), the group. Odd-numbered characters (in name order) are kept for
    # babble, so no babble talker is also a target. Data/Sounds/*.ogg are game effects.
    base = root / "usr/share/games/hedgewars/Data/Sounds"
    characters = sorted(p.name for p in (base / "voices").iterdir() if p.is_dir())
    clips = []
    for p in _files(base, "voices/*/*.ogg"):
        who = p.parent.name
        kind = "babble" if characters.index(who) % 2 else "speech"
        clips.append(RawClip(p, kind, "hedgewars-voices", who, "speech"))
    for p in _files(base, "*.ogg"):
        clips.append(RawClip(p, "noise", "hedgewars-fx", p.stem, "effects"))
    return clips


def _warzone2100(root: Path) -> list[RawClip]:
    # base.wz: radio-style mission messages and taunts (English voice actors; one folder of
    # messages is one group), and weapon/vehicle effects.
    files = _archive_members(
        root, "usr/share/games/warzone2100/base.wz", ("audio/memressp/", "audio/sfx/")
    )
    clips = []
    for p in files:
        parts = p.parts
        folder = parts[-2]
        if "memressp" in parts:
            clips.append(RawClip(p, "speech", "warzone-voices", folder, "speech"))
        else:
            clips.append(RawClip(p, "noise", "warzone-fx", f"{folder}-{p.stem}", "effects"))
    return clips


def _openarena(root: Path) -> list[RawClip]:
    # Announcer voices of the mission pack (a Festival-synthesised male voice and a recorded
    # one) and the base game's footsteps, weapons and ambient loops.
    speech = _archive_members(
        root, "usr/share/games/openarena/missionpack/mp-pak0.pk3", ("sound/voices/",)
    )
    fx = _archive_members(
        root,
        "usr/share/games/openarena/baseoa/pak0.pk3",
        ("sound/world/", "sound/player/footsteps/", "sound/weapons/"),
    )
    clips = [RawClip(p, "speech", "openarena-voices", p.parent.name, "speech") for p in speech]
    for p in fx:
        category = "ambient" if "world" in p.parts else "effects"
        clips.append(RawClip(p, "noise", "openarena-fx", f"{p.parent.name}-{p.stem}", category))
    return clips


def _colobot(root: Path) -> list[RawClip]:
    base = root / "usr/share/games/colobot"
    clips = [RawClip(p, "noise", "colobot-music", p.stem, "music") for p in _files(base, "music/*")]
    clips += [
        RawClip(p, "noise", "colobot-fx", p.stem, "effects") for p in _files(base, "sounds/*")
    ]
    return clips


def _bucklespring(root: Path) -> list[RawClip]:
    # Recorded key presses and releases of an IBM Model M keyboard: typing clatter.
    files = _files(root / "usr/share/buckle/wav", "*.wav")
    return [RawClip(p, "noise", "bucklespring", "keyboard", "keyboard") for p in files]


def _freeciv(root: Path) -> list[RawClip]:
    base = root / "usr/share/games/freeciv"
    clips = [
        RawClip(p, "noise", "freeciv-fx", p.stem, "effects") for p in _files(base, "stdsounds/*")
    ]
    clips += [
        RawClip(p, "noise", "freeciv-music", p.stem, "music") for p in _files(base, "stdmusic/*")
    ]
    return clips


# Package name -> function listing its clips. The order is the order of preparation.
PACKAGES: dict[str, Callable[[Path], list[RawClip]]] = {
    "pocketsphinx-testdata": _pocketsphinx,
    "alsa-utils": _alsa,
    "qabcs-data": _qabcs,
    "fillets-ng-data-nl": _fillets_speech,
    "tuxpaint-stamps-default": _tuxpaint,
    "klettres-data": _klettres,
    "lincity-ng-data": _lincity,
    "fillets-ng-data": _fillets_music,
    "frozen-bubble-data": _frozen_bubble,
    "hedgewars-data": _hedgewars,
    "warzone2100-data": _warzone2100,
    "openarena-data": _openarena,
    "colobot-common-sounds": _colobot,
    "bucklespring-data": _bucklespring,
    "freeciv-data": _freeciv,
    **{
        f"asterisk-core-sounds-{lang}-wav": _asterisk_prompts(f"asterisk-{lang}")
        for lang in TELEPHONE_LANGUAGES
    },
    "asterisk-prompt-it-menardi-wav": _asterisk_prompts("asterisk-it-menardi"),
    "ktuberling-data": _ktuberling,
}

# Speech sources recorded (some or all) at 8 kHz, through a telephone chain or a home
# microphone: their narrowband speech is a target too.
NARROWBAND_SPEECH_SOURCES = frozenset(
    {f"asterisk-{lang}" for lang in TELEPHONE_LANGUAGES} | {"asterisk-it-menardi", "ktuberling"}
)

# Whole sources kept out of training and validation: they make the held-out-source test set
# (`DIR/heldout/`), which measures how the model does on voices, languages, recording chains
# and noises it has never heard. Held-out files of a training source would not measure that.
HELDOUT_SOURCES = frozenset({
    "pocketsphinx",  # LibriVox read English
    "hedgewars-voices",  # character voice actors, several languages
    "warzone-voices",  # radio-style English voice actors
    "openarena-voices",  # a Festival voice and a recorded announcer
    "hedgewars-fx", "warzone-fx", "openarena-fx", "colobot-music", "colobot-fx",
    "bucklespring", "freeciv-fx", "freeciv-music",
})  # fmt: skip

# `--quick`: the two smallest packages (about 2 MB of .deb); noise is synthesised.
QUICK_PACKAGES = ("pocketsphinx-testdata", "alsa-utils")


def package_clips(names: Iterable[str], cache_dir: Path) -> list[RawClip]:
    clips: list[RawClip] = []
    for name in names:
        clips.extend(PACKAGES[name](fetch_package(name, cache_dir)))
    return clips


# ---------------------------------------------------------------------------------------------
# The user's folders


def audio_files(folder: Path) -> list[Path]:
    """WAV/FLAC/OGG files under `folder`, recursively; a clear error if there are none."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a directory")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no {'/'.join(AUDIO_SUFFIXES)} files found")
    return files


def user_group(root: Path, path: Path) -> str:
    """Split group of a user file.

    Files in sub-folders (LibriSpeech/VCTK style `speaker/...`) are grouped by the first folder;
    loose files by the name's prefix before the first `_` or `-` (VoiceBank `p226_001.wav`
    -> `p226`, DNS `clean_fileid_3.wav` -> `clean`, so a flat DNS folder is one group: put
    speakers in sub-folders to split them).
    """
    rel = path.relative_to(root)
    if len(rel.parts) > 1:
        return rel.parts[0]
    return re.split(r"[_\-]", rel.stem, maxsplit=1)[0]


def user_clips(folder: Path, kind: str, index: int) -> list[RawClip]:
    source = f"user-{kind}{index}" if index else f"user-{kind}"
    category = "speech" if kind == "speech" else "user"
    return [RawClip(p, kind, source, user_group(folder, p), category) for p in audio_files(folder)]


def paired_clips(folder: Path) -> list[tuple[RawClip, Path]]:
    """`clean/` + `noisy/` with the same file names: (clean clip, matching noisy file)."""
    clean_dir, noisy_dir = folder / "clean", folder / "noisy"
    if not clean_dir.is_dir() or not noisy_dir.is_dir():
        raise DataError(f"{folder}: a paired folder needs clean/ and noisy/ sub-folders")
    pairs = []
    for p in audio_files(clean_dir):
        rel = p.relative_to(clean_dir)
        noisy = noisy_dir / rel
        if not noisy.exists():
            raise DataError(f"{noisy}: missing (every clean/ file needs a noisy/ twin)")
        pairs.append((RawClip(p, "speech", "paired", user_group(clean_dir, p), "speech"), noisy))
    return pairs
