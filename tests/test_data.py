"""`hushkit data` on tiny generated folders: resampling, screening, splits, manifest, reuse."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hushkit.training import (
    data_cli,
    data_eval_sets,
    data_material,
    data_writer,
    datasets,
    mixing,
    sources,
    synth,
)

RATE_IN = 44100
SPEAKERS = [f"spk{i}" for i in range(6)]


def speechlike(seconds: float, rng: np.random.Generator, rate: int = RATE_IN) -> np.ndarray:
    """Voiced syllables with pauses over a -90 dBFS floor: screens as clean speech."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = rng.uniform(100, 200)
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 15))
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 2
    return 0.2 * x * envelope + 3e-5 * rng.standard_normal(n)


def write_stereo(path: Path, mono: np.ndarray, rate: int = RATE_IN) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # left louder than right: averaging gives 0.75 x mono
    sf.write(str(path), np.stack([mono, 0.5 * mono], axis=1), rate, subtype="PCM_16")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    for spk in SPEAKERS:
        for k in range(2):
            write_stereo(root / "speech" / spk / f"{k}.wav", speechlike(2.0, rng))
    write_stereo(root / "speech" / "long" / "dialogue.wav", speechlike(30.0, rng))
    noisy = speechlike(2.0, rng) + 0.05 * rng.standard_normal(2 * RATE_IN)
    write_stereo(root / "speech" / "hissy" / "take.wav", noisy)
    write_stereo(root / "speech" / "short" / "blip.wav", speechlike(0.5, rng))
    # 1 s of 1 kHz tone then 0.5 s of floor: its peak must stay at 1 kHz after 44.1 -> 16 kHz
    tone = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(RATE_IN) / RATE_IN)
    floor = 3e-5 * rng.standard_normal(RATE_IN // 2)
    write_stereo(root / "speech" / "tone" / "tone.wav", np.concatenate([tone, floor]))
    for k in range(4):
        write_stereo(root / "noise" / f"n{k}" / "a.wav", 0.1 * rng.standard_normal(RATE_IN * 3))
    for spk in ("p1", "p2", "p3", "p4"):
        for k in range(2):
            clean = speechlike(2.0, rng, rate=22050)
            noise = 0.02 * rng.standard_normal(len(clean))
            for sub, x in (("clean", clean), ("noisy", clean + noise)):
                (root / "paired" / sub).mkdir(parents=True, exist_ok=True)
                sf.write(str(root / "paired" / sub / f"{spk}_{k:03d}.wav"), x, 22050)
    return root


def options(root: Path, out: Path, **kw) -> data_writer.PrepareOptions:
    base = dict(
        out=out,
        speech_dirs=[root / "speech"],
        noise_dirs=[root / "noise"],
        paired_dir=root / "paired",
        packages=[],
        quick=True,
        babble=False,
        seed=0,
    )
    return data_writer.PrepareOptions(**(base | kw))


@pytest.fixture(scope="module")
def prepared(folders: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("data")
    return out, data_cli.prepare(options(folders, out))


def test_outputs_are_16k_mono_int16(prepared: tuple[Path, dict]) -> None:
    out, manifest = prepared
    assert manifest["clips"]
    for clip in manifest["clips"]:
        info = sf.info(str(out / clip["path"]))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames / 16000 == pytest.approx(clip["duration_s"], abs=1e-3)


def test_resampling_keeps_duration_frequency_and_averages_channels(
    prepared: tuple[Path, dict],
) -> None:
    out, manifest = prepared
    (tone,) = [c for c in manifest["clips"] if c["group"] == "tone"]
    x, rate = sf.read(str(out / tone["path"]))
    assert rate == 16000 and len(x) == 24000  # 1.5 s at 44.1 kHz -> 24000 samples
    assert tone["native_rate"] == RATE_IN and tone["channels"] == 2
    spectrum = np.abs(np.fft.rfft(x[:16000] * np.hanning(16000)))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=1)  # 1 Hz per bin
    mid = x[4000:12000]
    assert np.sqrt(2 * np.mean(mid**2)) == pytest.approx(0.75 * 0.3, rel=0.02)


def test_screening_drops_noisy_and_short_speech(prepared: tuple[Path, dict]) -> None:
    _, manifest = prepared
    reasons = {d["group"]: d["reason"] for d in manifest["dropped"]}
    assert reasons == {"hissy": "noisy", "short": "too_short"}
    (hissy,) = [d for d in manifest["dropped"] if d["group"] == "hissy"]
    assert hissy["snr_est_db"] < datasets.MIN_SPEECH_SNR_DB
    kept = [c for c in manifest["clips"] if c["kind"] == "speech"]
    assert min(c["snr_est_db"] for c in kept) >= datasets.MIN_SPEECH_SNR_DB
    assert not {"hissy", "short"} & {c["group"] for c in kept}


def test_splits_are_group_disjoint_and_long_files_stay_together(
    prepared: tuple[Path, dict],
) -> None:
    _, manifest = prepared
    split_of: dict[tuple[str, str], set[str]] = {}
    for c in manifest["clips"]:
        split_of.setdefault((c["source"], c["group"]), set()).add(c["split"])
        assert f"/{c['split']}/" in c["path"]
    assert all(len(s) == 1 for s in split_of.values()), split_of
    user_speech = {s for (src, _), (s,) in split_of.items() if src == "user-speech"}
    assert user_speech == {"train", "val", "test"}
    long = [c for c in manifest["clips"] if c["group"] == "long"]
    assert len(long) == 3 and sum(c["duration_s"] for c in long) == pytest.approx(30.0)
    # paired noise follows its clean speaker
    paired = {(c["group"], c["split"]) for c in manifest["clips"] if c["source"] == "paired"}
    noise = {(c["group"], c["split"]) for c in manifest["clips"] if c["source"] == "paired-noise"}
    assert paired == noise and len({g for g, _ in paired}) == 4


def test_paired_noise_is_noisy_minus_clean(prepared: tuple[Path, dict]) -> None:
    out, manifest = prepared
    noise = [c for c in manifest["clips"] if c["source"] == "paired-noise"]
    assert len(noise) == 8
    x, _ = sf.read(str(out / noise[0]["path"]))
    # white noise at 0.02 RMS: resampling 22.05 -> 16 kHz keeps 16/22.05 of its power
    assert np.sqrt(np.mean(x**2)) == pytest.approx(0.02 * np.sqrt(16 / 22.05), rel=0.05)


def test_manifest_records_everything(prepared: tuple[Path, dict]) -> None:
    out, manifest = prepared
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["args"]["seed"] == 0 and on_disk["args"]["packages"] == []
    keys = {"path", "kind", "split", "source", "group", "duration_s", "rms_dbfs", "snr_est_db"}
    for clip in on_disk["clips"]:
        assert keys <= set(clip)
        assert (out / clip["path"]).exists()
    categories = {c["category"] for c in on_disk["clips"] if c["kind"] == "noise"}
    assert set(data_material.SYNTH_TYPES) | {"user", "paired"} <= categories
    table = data_cli.summary(on_disk)
    assert "user-speech" in table and "1 noisy, 1 too_short" in table


def test_eval_sets_use_held_out_material_at_requested_snrs(prepared: tuple[Path, dict]) -> None:
    out, manifest = prepared
    by_path = {c["path"]: c for c in manifest["clips"]}
    for name, split in (("valset", "val"), ("testset", "test")):
        meta = json.loads((out / name / "meta.json").read_text())
        assert len(meta) == data_writer.QUICK_SIZES.eval_clips[split]
        clean_names = sorted(p.name for p in (out / name / "clean").glob("*.wav"))
        assert clean_names == sorted(p.name for p in (out / name / "noisy").glob("*.wav"))
        assert clean_names == sorted(meta)
        assert {m["snr_db"] for m in meta.values()} == set(data_eval_sets.EVAL_SNRS_DB)
        for clip, m in meta.items():
            assert by_path[m["noise_file"]]["split"] == split
            assert {by_path[p]["split"] for p in m["speech_files"]} == {split}
            clean, _ = sf.read(str(out / name / "clean" / clip))
            noisy, _ = sf.read(str(out / name / "noisy" / clip))
            assert 4.0 <= len(clean) / 16000 <= 8.0
            # 16-bit storage moves the SNR by far less than 0.1 dB at these levels
            snr = mixing.snr_db(clean, noisy - clean)
            assert snr == pytest.approx(m["snr_db"], abs=0.1)


def test_second_run_reuses_and_new_seed_rebuilds(
    prepared: tuple[Path, dict], folders: Path
) -> None:
    out, manifest = prepared
    first = out / manifest["clips"][0]["path"]
    stamp = first.stat().st_mtime_ns
    again = data_cli.prepare(options(folders, out))
    assert again.get("reused") is True and first.stat().st_mtime_ns == stamp
    other = out.parent / (out.name + "-seed1")
    shutil.copytree(out, other)
    rebuilt = data_cli.prepare(options(folders, other, seed=1))
    assert not rebuilt.get("reused")
    assert rebuilt["args"]["seed"] == 1
    splits0 = {(c["source"], c["group"], c["split"]) for c in manifest["clips"]}
    splits1 = {(c["source"], c["group"], c["split"]) for c in rebuilt["clips"]}
    assert splits0 != splits1


def test_loaders_feed_a_mixture_dataset(prepared: tuple[Path, dict]) -> None:
    out, manifest = prepared
    speech = datasets.load_split(out, "speech", "train")
    n_train = sum(1 for c in manifest["clips"] if c["kind"] == "speech" and c["split"] == "train")
    assert len(speech) == n_train and all(x.dtype == np.int16 for x in speech)
    by_type = datasets.load_noise_by_type(out, "train")
    assert "pink" in by_type and "user" in by_type
    ds = datasets.open_mixtures(out, "train", mixing.MixConfig(segment_seconds=1.0), length=4)
    noisy, clean = ds[0]
    assert noisy.shape == clean.shape == (16000,)


def test_assign_splits_is_deterministic_and_complete() -> None:
    groups = {f"g{i}": float(i + 1) for i in range(20)}
    a = datasets.assign_splits(groups, seed=3, source="x")
    assert a == datasets.assign_splits(groups, seed=3, source="x")
    assert set(a) == set(groups) and set(a.values()) == {"train", "val", "test"}
    assert a != datasets.assign_splits(groups, seed=4, source="x")
    assert set(datasets.assign_splits({"a": 1.0, "b": 2.0}, 0, "x").values()) == {"train"}
    three = datasets.assign_splits({"a": 1.0, "b": 1.0, "c": 1.0}, 0, "x")
    assert sorted(three.values()) == ["test", "train", "val"]


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    data_cli.register(parser.add_subparsers())
    args = parser.parse_args(["data", *argv])
    return args.func(args)


def test_unreadable_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "speech" / "spk" / "broken.wav"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"this is not audio")
    out = tmp_path / "out"
    with pytest.raises(sources.DataError, match="broken.wav"):
        data_cli.prepare(options(tmp_path, out, noise_dirs=[], paired_dir=None))
    code = run_cli(["--out", str(out), "--packages", "none", "--speech-dir", str(bad.parent)])
    assert code == 2 and "broken.wav" in capsys.readouterr().err


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(sources.DataError, match="no .wav/.flac/.ogg files"):
        data_cli.prepare(
            options(tmp_path, tmp_path / "out", speech_dirs=[tmp_path / "empty"], noise_dirs=[])
        )
    with pytest.raises(sources.DataError, match="clean/ and noisy/"):
        data_cli.prepare(
            options(
                tmp_path,
                tmp_path / "out",
                speech_dirs=[],
                noise_dirs=[],
                paired_dir=tmp_path / "empty",
            )
        )


@pytest.mark.slow
def test_debian_package_source(tmp_path: Path) -> None:
    """The package path end to end on the smallest speech package (downloads 1.8 MB)."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("needs apt-get and dpkg-deb")
    opts = data_writer.PrepareOptions(
        out=tmp_path, packages=["pocketsphinx-testdata"], quick=True, babble=False
    )
    manifest = data_cli.prepare(opts)
    clips = [c for c in manifest["clips"] if c["source"] == "pocketsphinx"]
    assert clips and {c["native_rate"] for c in clips} == {16000}
    dropped = [d for d in manifest["dropped"] if d["source"] == "pocketsphinx"]
    assert {c["split"] for c in clips + dropped} == {"train", "val", "test"}
    assert (tmp_path / "cache" / "pkgs" / "pocketsphinx-testdata" / ".unpacked").exists()


def test_heldout_sources_never_reach_training(tmp_path: Path) -> None:
    """A source named held-out goes whole to the "heldout" split; the others split by group."""
    rng = np.random.default_rng(3)
    raw = []
    for source in ("trainsrc", "pocketsphinx"):
        for spk in SPEAKERS:
            path = tmp_path / source / f"{spk}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), speechlike(2.0, rng), RATE_IN)
            raw.append(sources.RawClip(path, "speech", source, spk, "speech"))
    split_of = data_material.split_all(raw, seed=0, heldout=frozenset({"pocketsphinx"}))
    held = {s for (src, _), s in split_of.items() if src == "pocketsphinx"}
    other = {s for (src, _), s in split_of.items() if src == "trainsrc"}
    assert held == {"heldout"}
    assert other == {"train", "val", "test"}
    assert "pocketsphinx" in sources.HELDOUT_SOURCES


def test_short_clips_of_one_talker_are_joined(tmp_path: Path) -> None:
    """Syllables under the 1 s screening minimum are joined per talker, not dropped."""
    rng = np.random.default_rng(4)
    root = tmp_path / "short"
    for k in range(12):
        write_stereo(root / "spk" / f"{k}.wav", speechlike(0.5, rng))
    opts = data_writer.PrepareOptions(out=tmp_path / "out", speech_dirs=[root], packages=[],
                                   quick=True, babble=False)  # fmt: skip
    writer = data_writer.ClipWriter(opts)
    raw = sources.user_clips(root, "speech", 0)
    split_of = {(c.source, c.group): "train" for c in raw}
    data_material.process_files(raw, split_of, writer)
    assert not writer.dropped
    total = sum(c["duration_s"] for c in writer.clips)
    assert total >= 12 * 0.5  # every syllable kept, with pauses between them
    assert all(c["duration_s"] >= data_material.JOIN_SHORT_SECONDS * 0.9 or c is writer.clips[-1]
               for c in writer.clips)  # fmt: skip


def test_tts_voices_keep_their_splits_and_slt_is_never_rendered(monkeypatch) -> None:
    from hushkit.training import tts

    every = [f"espeak:{v}" for v in tts.ESPEAK_VOICES] + [f"flite:{v}" for v in tts.FLITE_VOICES]
    monkeypatch.setattr(tts, "tts_voices", lambda: every)
    for seed in range(8):
        split = data_material._voices_by_split(seed, [])
        voices = [v for vs in split.values() for v in vs]
        assert "flite:slt" not in voices
        assert len(voices) == len(set(voices)) == len(every) - 1
        assert all(split[s] for s in ("train", "val", "test"))


def test_the_same_material_makes_the_same_data_wherever_it_is_prepared(tmp_path: Path) -> None:
    from hushkit import cli

    made = []
    for out in (tmp_path / "data", tmp_path / "elsewhere/other-name"):
        argv = ["data", "--out", str(out), "--quick", "--no-babble", "--no-tts-speech"]
        assert cli.main(argv) == 0
        manifest = json.loads((out / "manifest.json").read_text())
        audio = sorted((p.relative_to(out).as_posix(), p.read_bytes())
                       for p in out.rglob("*.wav") if "cache" not in p.relative_to(out).parts)
        made.append(([c["path"] for c in manifest["clips"]], audio))
    assert made[0][0] and made[0][1]
    assert made[0] == made[1]


def _onset_band_shares(x: np.ndarray) -> tuple[float, float, float]:
    """Share of 8 ms frames 20 dB below the loudest, and the median share of energy below
    1.6 kHz and above 4 kHz in the frames where the level jumps by 15 dB (the onsets)."""
    frames = x[: len(x) // 128 * 128].reshape(-1, 128).astype(np.float64)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    onsets = np.flatnonzero(np.diff(level) > 15) + 1
    power = np.abs(np.fft.rfft(frames[onsets] * np.hanning(128), axis=1)) ** 2
    total = power.sum(axis=1)
    low = np.median(power[:, :13].sum(axis=1) / total)
    high = np.median(power[:, 32:].sum(axis=1) / total)
    return float(np.mean(level < level.max() - 20)), float(low), float(high)


@pytest.mark.parametrize("seed", range(4))
def test_synthetic_clatter_is_broadband_transients(seed: int) -> None:
    # Struck objects start with a click across the band; band-passed bursts alone had almost
    # nothing below 1.6 kHz at their onsets.
    x = synth.clatter(4 * 16000, 16000, np.random.default_rng(seed))
    quiet, low, high = _onset_band_shares(x)
    assert quiet > 0.5, "clatter is events with quiet between them"
    assert low > 0.1 and high > 0.1, (low, high)


def test_clatter_from_recorded_clicks_is_made_of_those_clicks() -> None:
    click = np.hanning(64).astype(np.float32)
    x = synth.clatter(2 * 16000, 16000, np.random.default_rng(0), clicks=[click])
    loud = np.abs(x) > 0.05 * np.abs(x).max()
    # Every loud stretch is a (scaled) Hann click: no synthetic ringing is added.
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], loud, [0]]))))[::2]
    assert len(runs) > 2 and runs.max() <= 2 * 64
