"""The operators the firmware's int8 engine implements: the one list everything checks against.

The converter may emit any TFLite builtin; the quantizer and the exporter refuse a model that
uses one outside this set, so a model that would fail to load on the board fails on the host.
"""

from __future__ import annotations

from collections.abc import Iterable

# TFLite builtin operator names (schema BuiltinOperator) with int8 kernels in firmware/core.
SUPPORTED_OPS = (
    "FULLY_CONNECTED",
    "LOGISTIC",
    "TANH",
    "ADD",
    "SUB",
    "MUL",
    "RESHAPE",
    "QUANTIZE",
    "CONCATENATION",
)


class UnsupportedOpError(ValueError):
    """The model uses an operator the firmware engine has no kernel for."""


def check_ops(ops: Iterable[str], what: str = "model") -> None:
    """Raise UnsupportedOpError naming every operator outside SUPPORTED_OPS."""
    bad = sorted({op for op in ops if op not in SUPPORTED_OPS})
    if bad:
        raise UnsupportedOpError(
            f"{what} uses operator(s) the firmware engine does not implement: {', '.join(bad)} "
            f"(supported: {', '.join(SUPPORTED_OPS)})"
        )
