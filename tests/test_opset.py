"""The operator list the quantizer and exporter check against is the C engine's registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hushkit import corelib
from hushkit.quantize import opset

CORE = Path(__file__).resolve().parent.parent / "firmware" / "core"


def test_python_op_list_equals_the_engines_registry():
    ops = corelib.engine_ops()
    assert sorted(ops) == sorted(opset.SUPPORTED_OPS)
    assert len(ops) == len(opset.SUPPORTED_OPS)  # no operator listed twice


def test_engine_op_codes_are_tflites():
    schema = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    for name, code in corelib.engine_ops().items():
        assert getattr(schema.BuiltinOperator, name) == code, name


def test_nothing_else_in_the_core_switches_on_operator_codes():
    """The registry is the one place that knows the operator set: no other core source names
    an operator code (the old per-op enum is gone, and no `case` matches an op)."""
    names = "|".join(opset.SUPPORTED_OPS)
    pattern = re.compile(rf"HUSH_TFLITE_OP_|case\s+\w*({names})\b")
    hits = [
        f"{path.name}: {line.strip()}"
        for path in sorted(CORE.glob("*/*.[ch]"))
        for line in path.read_text().splitlines()
        if pattern.search(line)
    ]
    assert hits == []
