"""Telephone prompts as speech targets, and leaving speech sources out of a training stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from test_data import speechlike

from hushkit.training import data_writer, datasets, mixing, sources


def test_telephone_prompts_are_speech_and_tones_are_not(tmp_path: Path) -> None:
    base = tmp_path / "usr/share/asterisk/sounds/en_US_f_Allison"
    names = ["agent-pass.wav", "digits/7.wav", "beep.wav", "ascending-2tone.wav"]
    for name in names:
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(base / name), np.zeros(800, np.float32), 8000)
    clips = sources.PACKAGES["asterisk-core-sounds-en-wav"](tmp_path)
    assert sorted(c.path.name for c in clips) == ["7.wav", "agent-pass.wav"]
    assert {(c.kind, c.source, c.category) for c in clips} == {("speech", "asterisk-en", "speech")}
    assert "asterisk-en" in sources.NARROWBAND_SPEECH_SOURCES
    assert not sources.NARROWBAND_SPEECH_SOURCES & sources.HELDOUT_SOURCES



def test_ktuberling_words_are_speech_by_language_without_repeated_scripts(tmp_path: Path) -> None:
    base = tmp_path / "usr/share/ktuberling/sounds"
    names = ["en/hat.ogg", "nds/oog.wav", "nn/tv_bicycle.opus", "sr/sesir.ogg",
             "sr@latin/sesir.ogg", "en.soundtheme"]
    for name in names:
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(b"")
    clips = sources.PACKAGES["ktuberling-data"](tmp_path)
    assert sorted((c.group, c.path.name) for c in clips) == [
        ("en", "hat.ogg"), ("nds", "oog.wav"), ("nn", "tv_bicycle.opus"), ("sr", "sesir.ogg")]
    assert {(c.kind, c.source) for c in clips} == {("speech", "ktuberling")}
    menardi = tmp_path / "m/usr/share/asterisk/sounds/it_IT_f_Menardi"
    menardi.mkdir(parents=True)
    for name in ("vm-intro.wav", "beep.wav"):
        sf.write(str(menardi / name), np.zeros(800, np.float32), 8000)
    clips = sources.PACKAGES["asterisk-prompt-it-menardi-wav"](tmp_path / "m")
    assert [(c.source, c.group, c.path.name) for c in clips] == [
        ("asterisk-it-menardi", "vm", "vm-intro.wav")]
    assert {"ktuberling", "asterisk-it-menardi"} <= sources.NARROWBAND_SPEECH_SOURCES
    assert not sources.NARROWBAND_SPEECH_SOURCES & sources.HELDOUT_SOURCES

def test_narrowband_speech_is_a_target_only_from_telephone_sources(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = speechlike(3.0, rng, rate=16000).astype(np.float32)
    opts = data_writer.PrepareOptions(out=tmp_path, packages=[], quick=True)
    writer = data_writer.ClipWriter(opts)
    for source in ("asterisk-fr", "fillets-nl"):
        meta = {"kind": "speech", "source": source, "group": "g", "origin": f"{source}/a.wav",
                "category": "speech"}  # fmt: skip
        writer.add(x, meta, "train", native_rate=8000)
    assert [c["source"] for c in writer.clips] == ["asterisk-fr"]
    assert [(d["source"], d["reason"]) for d in writer.dropped] == [("fillets-nl", "narrowband")]


def test_a_stage_can_leave_speech_sources_out(monkeypatch) -> None:
    clip = np.zeros(16000, np.int16)
    by_source = {"asterisk-en": [clip], "asterisk-ru": [clip], "fillets-nl": [clip]}
    monkeypatch.setattr(datasets, "load_speech_by_source", lambda d, s: dict(by_source))
    monkeypatch.setattr(datasets, "load_noise_by_type", lambda d, s: {"pink": [clip]})
    config = mixing.MixConfig(segment_seconds=0.5)
    ds = datasets.open_mixtures("unused", "train", config, exclude_speech_sources=["asterisk-*"])
    assert set(ds.speech) == {"fillets-nl"}
    assert set(datasets.open_mixtures("unused", "train", config).speech) == set(by_source)
