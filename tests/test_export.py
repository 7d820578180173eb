"""`hushkit export`: C array + config header, reproducible bytes, and clean refusals."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tflite_fixtures as fx

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")

from hushkit import firmware_export  # noqa: E402
from hushkit.quantize import convert, export, opset, tflite_model  # noqa: E402
from hushkit.training import checkpoint, dsp  # noqa: E402
from hushkit.training.model import MaskNet, ModelArgs  # noqa: E402


def _calib_dir(root: Path) -> Path:
    """Band-limited noise bursts: enough spread of levels and spectra to calibrate ranges."""
    import soundfile as sf
    from scipy.signal import butter, lfilter

    rng = np.random.default_rng(7)
    folder = root / "calib"
    folder.mkdir()
    for i in range(3):
        x = rng.standard_normal(2 * dsp.SAMPLE_RATE)
        b, a = butter(2, [0.02 + 0.1 * i, 0.3 + 0.2 * i], btype="band")
        env = np.repeat(rng.uniform(0.01, 0.3, 20), len(x) // 20)
        sf.write(folder / f"n{i}.wav", (lfilter(b, a, x) * env).astype(np.float32), dsp.SAMPLE_RATE)
    return folder


def _model(root: Path, dsp_name: str) -> Path:
    torch.manual_seed(0)
    ckpt = root / f"{dsp_name}.pt"
    checkpoint.save(ckpt, MaskNet(ModelArgs(dsp=dsp_name, hidden=16)))
    path = root / f"{dsp_name}.tflite"
    path.write_bytes(convert.quantize_checkpoint(ckpt, root / "calib", n_hops=120).tflite)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    _calib_dir(root)
    return {name: _model(root, name) for name in ("default", "lowlatency")}


def test_export_writes_exact_bytes_and_config(models, tmp_path):
    checked = firmware_export.export(models["default"], tmp_path, expect_dsp="default")
    data = models["default"].read_bytes()
    c_src = (tmp_path / "model_data.c").read_text()
    assert "alignas(16) const uint8_t hush_model_data[]" in c_src
    hex_bytes = re.findall(r"0x([0-9a-f]{2})", c_src.split("{", 1)[1])
    assert bytes(int(h, 16) for h in hex_bytes) == data
    rows = [ln for ln in c_src.splitlines() if ln.startswith("    0x")]
    assert all(r.count("0x") == 12 for r in rows[:-1])
    assert f"hush_model_data_len = {len(data)}u;" in c_src
    cfg_h = (tmp_path / "hush_model_config.h").read_text()
    sha = hashlib.sha256(data).hexdigest()
    for name in ("model_data.c", "model_data.h", "hush_model_config.h"):
        text = (tmp_path / name).read_text()
        assert "hushkit export" in text and sha in text
    macros = dict(re.findall(r"#define (HUSH_\w+) (.+?)(?: /\*.*)?$", cfg_h, re.M))
    assert macros["HUSH_N_FFT"] == str(dsp.DEFAULT.n_fft)
    assert macros["HUSH_HOP"] == str(dsp.DEFAULT.hop)
    assert macros["HUSH_N_BINS"] == str(dsp.DEFAULT.n_bins)
    assert macros["HUSH_STATE_SIZE"] == "16"
    assert macros["HUSH_MODEL_SHA256"] == f'"{sha}"'
    assert macros["HUSH_FEATURES_NAME"] == '"features"'
    info = tflite_model.describe(data)
    mask = info.io_tensor("mask")
    assert np.float32(float(macros["HUSH_MASK_SCALE"].rstrip("f"))) == np.float32(mask.scale)
    assert int(macros["HUSH_MASK_ZERO_POINT"].strip("()")) == mask.zero_point
    assert macros["HUSH_STATE_IN_SCALE"] == macros["HUSH_STATE_OUT_SCALE"]
    assert checked.arena.used <= int(macros["HUSH_ARENA_BYTES"]) == checked.arena_bytes
    assert set(macros["HUSH_MODEL_OPS"].strip('"').split(",")) <= set(opset.SUPPORTED_OPS)


def test_export_is_reproducible(models, tmp_path):
    firmware_export.export(models["default"], tmp_path / "a")
    firmware_export.export(models["default"], tmp_path / "b")
    for name in ("model_data.c", "model_data.h", "hush_model_config.h"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def _header_macros(folder: Path) -> dict[str, str]:
    text = (folder / "hush_model_config.h").read_text()
    return dict(re.findall(r"#define (HUSH_\w+) (.+?)(?: /\*.*)?$", text, re.M))


def test_arena_is_what_the_engine_plans(models, tmp_path):
    """HUSH_ARENA_BYTES is the host engine's measured plan (rounded up), on every export."""
    from hushkit import corelib

    for name, path in models.items():
        data = path.read_bytes()
        checked = firmware_export.export(path, tmp_path / name)
        arena = int(_header_macros(tmp_path / name)["HUSH_ARENA_BYTES"])
        needed = corelib.Engine(data).arena_used
        assert checked.arena.used == needed <= arena < needed + export.ENGINE_ALIGN + 16
        assert corelib.Engine(data, arena).arena_used == needed  # init succeeds at that size
        with pytest.raises(corelib.EngineError, match="needs"):
            corelib.Engine(data, needed - 1)
        # the same model exports the same header again
        firmware_export.export(path, tmp_path / f"{name}-again")
        again = (tmp_path / f"{name}-again" / "hush_model_config.h").read_text()
        assert again == (tmp_path / name / "hush_model_config.h").read_text()


def test_export_without_host_engine_fails_with_the_fix(models, tmp_path, monkeypatch, capsys):
    from hushkit import corelib
    from hushkit.cli import main

    def missing():
        raise corelib.CoreLibraryMissing("libhushcore.so not found: `make -C firmware/host`")

    monkeypatch.setattr(corelib, "load_library", missing)
    assert main(["export", str(models["default"]), "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "arena size is measured with the host engine" in err and "make -C firmware/host" in err
    assert not (tmp_path / "hush_model_config.h").exists()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
def test_generated_c_compiles_and_is_aligned(models, tmp_path):
    firmware_export.export(models["default"], tmp_path)
    (tmp_path / "main.c").write_text(
        '#include <stdint.h>\n#include <string.h>\n#include "model_data.h"\n'
        '#include "hush_model_config.h"\n'
        "int main(void) {\n"
        "  if (hush_model_data_len != HUSH_MODEL_BYTES) return 1;\n"
        "  if ((uintptr_t)hush_model_data % 16u != 0) return 2;\n"
        '  if (memcmp(hush_model_data + 4, "TFL3", 4) != 0) return 3;\n'
        "  if (HUSH_N_BINS != HUSH_N_FFT / 2 + 1 || HUSH_MASK_LEN != HUSH_N_BINS) return 4;\n"
        "  return 0;\n}\n"
    )
    exe = tmp_path / "check"
    subprocess.run(
        [
            "gcc",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-o",
            str(exe),
            str(tmp_path / "main.c"),
            str(tmp_path / "model_data.c"),
        ],
        check=True,
    )
    assert subprocess.run([str(exe)]).returncode == 0


def test_refuses_dsp_mismatch(models, tmp_path):
    with pytest.raises(export.ExportError, match="lowlatency"):
        firmware_export.export(models["lowlatency"], tmp_path, expect_dsp="default")
    checked = firmware_export.export(models["lowlatency"], tmp_path, expect_dsp="lowlatency")
    assert checked.dsp.n_fft == 128


def test_refuses_unsupported_dsp(models, tmp_path):
    data = models["default"].read_bytes()
    meta = json.loads(tflite_model.describe(data).metadata["hushkit"])
    meta["dsp"] = dict(meta["dsp"], n_fft=512, hop=256, name="custom")
    info = tflite_model.describe(data)
    bad = tflite_model.rewrite(data, {}, {"hushkit": json.dumps(meta).encode()})
    assert tflite_model.describe(bad).tensors == info.tensors
    path = tmp_path / "m.tflite"
    path.write_bytes(bad)
    with pytest.raises(export.ExportError, match="n_fft 512"):
        firmware_export.export(path, tmp_path / "out")


def test_refuses_float_model(tmp_path):
    import tensorflow as tf

    inp = tf.keras.Input(shape=(dsp.DEFAULT.n_bins,), batch_size=1)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(4, activation="sigmoid")(inp))
    path = tmp_path / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    with pytest.raises(export.ExportError, match="float32"):
        firmware_export.export(path, tmp_path / "out")


def test_refuses_unsupported_op(tmp_path):
    path = tmp_path / "softmax.tflite"
    path.write_bytes(fx.softmax_model())
    with pytest.raises(opset.UnsupportedOpError, match="SOFTMAX"):
        firmware_export.export(path, tmp_path / "out")


def test_refuses_non_tflite_and_cli_reports_cleanly(models, tmp_path, capsys):
    from hushkit.cli import main

    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"PK\x03\x04 definitely a zip, not a model" * 8)
    assert main(["export", str(junk), "--out", str(tmp_path / "o")]) == 2
    assert "not a TFLite flatbuffer" in capsys.readouterr().err
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(models["default"].read_bytes()[:300])
    assert main(["export", str(truncated), "--out", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["export", str(models["default"]), "--out", str(tmp_path / "ok")]) == 0
    assert "arena" in capsys.readouterr().out
