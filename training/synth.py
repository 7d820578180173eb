"""Noise made from other material or from nothing: babble and crowds of real talkers,
telephone hold music, traffic, typing clatter, coloured noise, mains hum, fans, and music
composed on the fly or read from MIDI files and rendered with fluidsynth.

Everything returns float32 at `sr`, normalised to -20 dBFS RMS; the
mixer rescales to the drawn SNR. Each function draws only from the generator it is given, so a
split's material comes from that split's seed and that split's recordings alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from hushkit.audiofile import resample
from hushkit.training.sources import run_tool


def _normalise(x: np.ndarray, dbfs: float = -20.0) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return (x * (10 ** (dbfs / 20) / max(rms, 1e-12))).astype(np.float32)


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power spectrum ~ 1/f^exponent: 0 white, 1 pink, 2 brown. DC removed."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-exponent / 2)
    spec[0] = 0.0
    return _normalise(np.fft.irfft(spec, n))


def hum(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz with decaying random harmonics (transformer/ground-loop buzz)."""
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.995, 1.005)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for k in range(1, int(min(40, (sr / 2) // f0))):
        amp = rng.uniform(0.3, 1.0) / k ** rng.uniform(0.5, 1.5)
        x += amp * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    x += 0.02 * np.std(x) * rng.standard_normal(n)
    return _normalise(x)


def fan(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Fan/HVAC: pink-brown broadband, a blade-pass tone with harmonics, slow wobble."""
    x = coloured_noise(n, rng.uniform(1.0, 2.0), rng).astype(np.float64)
    t = np.arange(n) / sr
    blade = rng.uniform(60.0, 300.0)
    tone = sum(np.sin(2 * np.pi * k * blade * t) / k**1.5 for k in range(1, 5))
    x += rng.uniform(0.05, 0.4) * tone * np.std(x)
    wobble = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 1.0) * t)
    return _normalise(x * wobble)


def talker_stream(
    pool: Sequence[np.ndarray], n: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """One talker: random clips of `pool` joined by short pauses, `n` samples."""
    parts = [np.zeros(int(rng.integers(0, sr)), np.float32)]
    total = len(parts[0])
    while total < n:
        clip = np.asarray(pool[int(rng.integers(len(pool)))], np.float32)
        gap = np.zeros(int(rng.uniform(0.05, 0.5) * sr), np.float32)
        parts += [clip, gap]
        total += len(clip) + len(gap)
    return np.concatenate(parts)[:n]


def babble(
    pools: Sequence[Sequence[np.ndarray]],
    n: int,
    sr: int,
    rng: np.random.Generator,
    talkers: int,
    level_spread_db: float = 6.0,
) -> np.ndarray:
    """`talkers` real talkers over each other, each drawn from one of `pools` (one pool per
    speaker, so a talker keeps one voice), levels spread over `level_spread_db`."""
    mix = np.zeros(n)
    for _ in range(talkers):
        pool = pools[int(rng.integers(len(pools)))]
        talker = talker_stream(pool, n, sr, rng)
        gain = 10 ** (-rng.uniform(0, level_spread_db) / 20)
        mix += gain * talker / max(float(np.std(talker)), 1e-9)
    return _normalise(mix)


def crowd(
    pools: Sequence[Sequence[np.ndarray]], n: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """A crowd or busy cafe: many distant talkers (dull, level-spread) over a broadband floor."""
    from scipy.signal import butter, sosfilt

    talkers = babble(pools, n, sr, rng, int(rng.integers(14, 30)), level_spread_db=15.0)
    sos = butter(2, rng.uniform(2000, 4500), btype="low", fs=sr, output="sos")
    floor = coloured_noise(n, rng.uniform(0.8, 1.5), rng) * 10 ** (-rng.uniform(6, 15) / 20)
    return _normalise(sosfilt(sos, talkers) + floor)


def hold_music(music: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Music as a telephone line plays it: 300-3400 Hz, 8 kHz G.711 mu-law, back at `sr`."""
    from scipy.signal import butter, sosfilt

    x = np.asarray(music, np.float64)
    x = x / max(float(np.max(np.abs(x))), 1e-9)
    sos = butter(6, (300.0, 3400.0), btype="band", fs=sr, output="sos")
    narrow = resample(sosfilt(sos, x), sr, 8000, dtype=None)
    mu = 255.0
    coded = np.sign(narrow) * np.log1p(mu * np.minimum(np.abs(narrow), 1.0)) / np.log1p(mu)
    decoded = np.sign(coded) * np.expm1(np.round(coded * 127) / 127 * np.log1p(mu)) / mu
    del rng  # deterministic: kept in the signature so every generator is called alike
    return _normalise(resample(decoded, 8000, sr, dtype=None)[: len(x)])


def traffic(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Road traffic: a low rumble floor and vehicles passing (swelling, slightly Doppler-tilted
    low-passed noise bursts of several seconds)."""
    from scipy.signal import butter, sosfilt

    t = np.arange(n) / sr
    x = 0.3 * coloured_noise(n, 2.0, rng).astype(np.float64)
    for _ in range(max(1, int(n / sr / rng.uniform(2.0, 6.0)))):
        centre, width = rng.uniform(0, n / sr), rng.uniform(0.8, 3.0)
        envelope = np.exp(-0.5 * ((t - centre) / width) ** 2)
        sos = butter(2, rng.uniform(400, 2500), btype="low", fs=sr, output="sos")
        car = sosfilt(sos, coloured_noise(n, rng.uniform(0.5, 1.5), rng))
        x += rng.uniform(0.5, 2.0) * envelope * car
    return _normalise(x)


def _impact(sr: int, rng: np.random.Generator) -> np.ndarray:
    """One struck object, as modal synthesis: a broadband click of 0.3-3 ms (decaying noise,
    brighter or darker at random) exciting one to four resonances that ring out. Short, bright
    rings are plastic keys and pen taps; long ones cups, cutlery and glass."""
    from scipy.signal import lfilter

    ring = float(np.exp(rng.uniform(np.log(0.003), np.log(0.15))))  # seconds, log-uniform
    n_click = max(int(rng.uniform(0.0003, 0.003) * sr), 2)
    click = rng.standard_normal(n_click) * np.exp(-np.arange(n_click) / (n_click / 4))
    tilt = rng.uniform(-0.7, 0.9)  # one pole: < 0 brightens, > 0 darkens
    n = n_click + int(5 * ring * sr)
    excitation = np.zeros(n)
    excitation[:n_click] = click
    ev = lfilter([1.0], [1.0, -tilt], excitation) * (1 - abs(tilt))
    t = np.arange(n) / sr
    for _ in range(int(rng.integers(1, 5))):
        f = float(np.exp(rng.uniform(np.log(300.0), np.log(min(7500.0, 0.45 * sr)))))
        tau = ring * rng.uniform(0.5, 1.5)
        phase = rng.uniform(0, 2 * np.pi)
        ev += rng.uniform(0.05, 0.6) * np.exp(-t / tau) * np.sin(2 * np.pi * f * t + phase)
    return ev


def clatter(
    n: int, sr: int, rng: np.random.Generator, clicks: Sequence[np.ndarray] = ()
) -> np.ndarray:
    """Transients: typing, dishes, a pen tapping. Recorded `clicks` (e.g. key presses) are
    scattered at a random rate; without recordings, struck objects (`_impact`, half of them a
    key's press and release) and decaying band-passed noise bursts are used."""
    from scipy.signal import butter, sosfilt

    x = np.zeros(n)
    rate = rng.uniform(2.0, 12.0)  # events per second
    for start in np.cumsum(rng.exponential(sr / rate, int(n / sr * rate * 1.5) + 1)).astype(int):
        if start >= n:
            break
        if len(clicks):
            ev = np.asarray(clicks[int(rng.integers(len(clicks)))], np.float64)
        elif rng.random() < 0.7:
            ev = _impact(sr, rng)
            if rng.random() < 0.5:  # a key's release follows its press, quieter
                release = _impact(sr, rng)
                gain = 10 ** (-rng.uniform(3, 12) / 20) * np.max(np.abs(ev))
                release *= gain / max(np.max(np.abs(release)), 1e-9)
                gap = int(rng.uniform(0.04, 0.16) * sr)
                ev = np.concatenate([ev, np.zeros(max(gap + len(release) - len(ev), 0))])
                ev[gap : gap + len(release)] += release
        else:
            m = int(rng.uniform(0.005, 0.08) * sr)
            f0 = rng.uniform(800, 6000)
            sos = butter(2, (f0 / 1.3, min(f0 * 1.3, sr / 2 - 100)), btype="band", fs=sr,
                         output="sos")  # fmt: skip
            ev = sosfilt(sos, rng.standard_normal(m)) * np.exp(-np.arange(m) / (m / 5))
        ev = ev[: n - start] * 10 ** (-rng.uniform(0, 12) / 20) / max(np.max(np.abs(ev)), 1e-9)
        x[start : start + len(ev)] += ev
    x += 1e-3 * rng.standard_normal(n)  # a room, not digital silence between events
    return _normalise(x)


# General MIDI programs grouped loosely by genre, so the composer covers piano, strings,
# guitars, organs, synths, brass and winds; channel 10 (index 9) carries the drums.
GM_PROGRAMS = {
    "piano": (0, 1, 4, 6),
    "organ": (16, 17, 19),
    "guitar": (24, 25, 26, 27, 29, 30),
    "bass": (32, 33, 34, 38),
    "strings": (40, 41, 42, 48, 49),
    "brass": (56, 57, 61),
    "reed": (64, 65, 66, 71, 73),
    "synth": (80, 81, 88, 89, 90),
}
_SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 7, 9))


def compose_midi(path: Path, seconds: float, rng: np.random.Generator) -> None:
    """Write a random piece: chords, a bass line, a melody and (often) drums, in one key."""
    import mido

    tempo_bpm = float(rng.uniform(60, 160))
    tpb = 480
    mid = mido.MidiFile(ticks_per_beat=tpb)
    scale = _SCALES[int(rng.integers(len(_SCALES)))]
    root = int(rng.integers(48, 60))
    beats = int(seconds * tempo_bpm / 60)
    families = list(GM_PROGRAMS)
    picks = [families[int(i)] for i in rng.choice(len(families), 3, replace=False)]

    def track(channel: int, program: int | None, notes: list[tuple[int, int, int, int]]) -> None:
        trk = mido.MidiTrack()
        if program is not None:
            trk.append(mido.Message("program_change", channel=channel, program=program, time=0))
        events = []
        for start, dur, pitch, vel in notes:
            events += [(start, 1, pitch, vel), (start + dur, 0, pitch, 0)]
        now = 0
        for tick, on, pitch, vel in sorted(events):
            kind = "note_on" if on else "note_off"
            trk.append(mido.Message(kind, channel=channel, note=pitch, velocity=vel,
                                    time=tick - now))  # fmt: skip
            now = tick
        mid.tracks.append(trk)

    def degree(d: int, octave: int = 0) -> int:
        return root + 12 * (octave + d // len(scale)) + scale[d % len(scale)]

    chords, bass, melody = [], [], []
    progression = [int(d) for d in rng.choice(len(scale), 4)]
    for bar in range(beats // 4 + 1):
        d = progression[bar % 4]
        for k in (0, 2, 4):
            chords.append((bar * 4 * tpb, 4 * tpb, degree(d + k), int(rng.integers(50, 80))))
        for beat in range(4):
            bass.append(((bar * 4 + beat) * tpb, tpb, degree(d, -1), int(rng.integers(60, 90))))
    tick, pos = 0, int(rng.integers(0, len(scale)))
    while tick < beats * tpb:
        dur = int(rng.choice([tpb // 2, tpb, tpb * 2]))
        pos = int(np.clip(pos + rng.integers(-2, 3), 0, 2 * len(scale)))
        if rng.random() > 0.15:
            melody.append((tick, dur, degree(pos, 1), int(rng.integers(70, 110))))
        tick += dur
    track(0, int(rng.choice(GM_PROGRAMS[picks[0]])), chords)
    track(1, int(rng.choice(GM_PROGRAMS["bass"])), bass)
    track(2, int(rng.choice(GM_PROGRAMS[picks[1]])), melody)
    if rng.random() < 0.7:
        drums = []
        for beat in range(beats):
            drums.append((beat * tpb, tpb // 4, 42, 70))  # closed hi-hat on every beat
            drums.append((beat * tpb, tpb // 4, 36 if beat % 2 == 0 else 38, 100))
        track(9, None, drums)
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm))])
    mid.tracks.insert(0, tempo)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))


# ---------------------------------------------------------------------------------------------
# Music from MIDI files with fluidsynth

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
MIDI_SEARCH_ROOTS = ("/usr/share",)


def find_midi_files(roots: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found += [p for p in root.rglob("*") if p.suffix.lower() in (".mid", ".midi")]
    return sorted(found)


def soundfont() -> Path | None:
    if shutil.which("fluidsynth") is None:
        return None
    return next((Path(p) for p in SOUNDFONTS if Path(p).exists()), None)


def render_midi(midi: Path, out_wav: Path, sr: int, font: Path) -> None:
    run_tool(
        ["fluidsynth", "-ni", "-q", "-F", str(out_wav), "-r", str(sr), str(font), str(midi)],
        f"rendering {midi.name}",
    )
