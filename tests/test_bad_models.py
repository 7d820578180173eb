"""Models that are valid TFLite but not usable hushkit models: one line, non-zero, no output.

`enhance` on the host and `export` for the firmware refuse an int8 model without hushkit's
I/O, a float model, a model with an operator the firmware engine lacks, and a model whose DSP
configuration does not match its tensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hushkit import cli

tf = pytest.importorskip("tensorflow")
fx = pytest.importorskip("tflite_fixtures")

FS = 16000


def _float_model(path: Path) -> Path:
    keras = tf.keras
    inp = keras.Input((129,), name="features")
    model = keras.Model(inp, keras.layers.Dense(129, activation="sigmoid", name="mask")(inp))
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def _int8_other_io(path: Path) -> Path:
    path.write_bytes(fx.model_bytes("fc_relu"))
    return path


def _unsupported_op(path: Path) -> Path:
    path.write_bytes(fx.softmax_model())
    return path


def _dsp_mismatch(path: Path) -> Path:
    path.write_bytes(fx.model_bytes("gru_small"))  # 17 features: no DSP configuration has that
    return path


CASES = {
    "float instead of int8": _float_model,
    "int8 without hushkit's I/O": _int8_other_io,
    "unsupported operator": _unsupported_op,
    "DSP mismatch": _dsp_mismatch,
}


def _one_line(capsys, code: int) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Each unusable model, converted once (TensorFlow is slow to start)."""
    root = tmp_path_factory.mktemp("bad_models")
    return {case: make(root / f"{i}.tflite") for i, (case, make) in enumerate(CASES.items())}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_enhance_refuses_unusable_tflite(case, models, tmp_path, capsys):
    model = models[case]
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, np.zeros(FS // 2, np.float32) + 0.01, FS)
    _one_line(capsys, cli.main(["enhance", "--model", str(model), str(src), str(dst)]))
    assert not dst.exists()


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_export_refuses_unusable_tflite(case, models, tmp_path, capsys):
    model = models[case]
    out = tmp_path / "export"
    _one_line(capsys, cli.main(["export", str(model), "--out", str(out)]))
    assert not (out / "model_data.c").exists()
