"""The operator list the quantizer and exporter check against is the one the C engine has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hushkit.quantize import opset

CORE = Path(__file__).resolve().parent.parent / "firmware" / "core"
TFLITE_H = CORE / "include" / "hush_tflite.h"


def _engine_ops() -> dict[str, int]:
    return {name: int(code) for name, code in
            re.findall(r"HUSH_TFLITE_OP_(\w+) = (\d+),", TFLITE_H.read_text())}


def test_python_op_list_equals_the_engines():
    assert set(_engine_ops()) == set(opset.SUPPORTED_OPS)
    # and the engine prepares each of them
    engine_c = (CORE / "src" / "hush_engine.c").read_text()
    assert set(re.findall(r"case HUSH_TFLITE_OP_(\w+):", engine_c)) == set(opset.SUPPORTED_OPS)


def test_engine_op_codes_are_tflites():
    schema = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    for name, code in _engine_ops().items():
        assert getattr(schema.BuiltinOperator, name) == code, name
