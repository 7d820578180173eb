"""Range-checked argparse types: a numeric option out of range fails before any work starts.

    p.add_argument("--timeout", type=argtypes.positive_float, ...)
    p.add_argument("--block-hops", type=argtypes.int_range(0, 1000), ...)

argparse turns the ArgumentTypeError into its usual one-line usage error (exit status 2).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {'an integer' if kind is int else 'a number'}"
        ) from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An int in [lo, hi] (either end open when None)."""

    def parse(text: str) -> int:
        value = int(_number(text, int))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{value} is out of range ({_span(lo, hi)})")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(
    lo: float | None = None, hi: float | None = None, lo_open: bool = False
) -> Callable[[str], float]:
    """A finite float in [lo, hi] ((lo, hi] with lo_open)."""

    def parse(text: str) -> float:
        value = float(_number(text, float))
        low_bad = lo is not None and (value <= lo if lo_open else value < lo)
        if low_bad or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(
                f"{value:g} is out of range ({_span(lo, hi, lo_open)})"
            )
        return value

    parse.__name__ = "number"
    return parse


def _span(lo, hi, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"{lo}{' <' if lo_open else ' <='} value <= {hi}"
    if lo is not None:
        return f"must be {'>' if lo_open else '>='} {lo}"
    return f"must be <= {hi}"


non_negative_int = int_range(0)
positive_int = int_range(1)
positive_float = float_range(0.0, lo_open=True)
