"""Bad audio inside a source package: `hushkit data` skips the file with a warning that names
it and goes on; the same file given by the user (a --speech-dir) is an error naming it.

Cases: text renamed .wav, an empty file, a float WAV with NaN samples, a float WAV with an Inf
sample. A good clip of the same package is still decoded and screened.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hushkit.training import data_material, data_writer, sources

FS = 16000


def _good(path: Path) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(3 * FS) / FS
    x = 0.3 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 4 * t)) / 2
    sf.write(path, (x + 1e-3 * rng.standard_normal(x.size)).astype(np.float32), FS)
    return path


def _nan(path: Path) -> Path:
    x = np.full(FS, 0.1, np.float32)
    x[100:200] = np.nan
    sf.write(path, x, FS, subtype="FLOAT")
    return path


def _inf(path: Path) -> Path:
    x = np.full(FS, 0.1, np.float32)
    x[5] = np.inf
    sf.write(path, x, FS, subtype="FLOAT")
    return path


def _text(path: Path) -> Path:
    path.write_text("this is a text file, not audio\n")
    return path


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


BAD = {
    "text.wav": _text,
    "empty.wav": _empty,
    "nan.wav": _nan,
    "inf.wav": _inf,
}


def _writer(tmp_path: Path) -> data_writer.ClipWriter:
    opts = data_writer.PrepareOptions(out=tmp_path / "out", packages=[], quick=True, babble=False)
    return data_writer.ClipWriter(opts)


def test_package_skips_corrupt_files_naming_each(tmp_path, capsys):
    folder = tmp_path / "pkg"
    folder.mkdir()
    raw = [sources.RawClip(_good(folder / "good.wav"), "speech", "pkgx", "spk", "speech")]
    for name, make in BAD.items():
        raw.append(sources.RawClip(make(folder / name), "speech", "pkgx", "spk", "speech"))
    writer = _writer(tmp_path)
    data_material.process_files(raw, {("pkgx", "spk"): "train"}, writer)
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning: skipped" in line]
    for name in BAD:
        assert any(str(folder / name) in line for line in warnings), err
    assert "NaN or Inf" in err
    seen = [e["origin"] for e in writer.clips + writer.dropped]
    assert str(folder / "good.wav") in seen  # the good clip went through
    assert not any(name in o for o in seen for name in BAD)


@pytest.mark.parametrize("name", ["nan.wav", "inf.wav"])
def test_user_file_with_non_finite_samples_is_an_error(tmp_path, name):
    folder = tmp_path / "speech"
    folder.mkdir()
    bad = BAD[name](folder / name)
    raw = [sources.RawClip(bad, "speech", "user-speech", "spk", "speech")]
    with pytest.raises(sources.DataError, match=name):
        data_material.process_files(raw, {("user-speech", "spk"): "train"}, _writer(tmp_path))
