"""firmware/build_config.mk: the compiler flags and CMSIS-DSP sources both firmware builds use.

The host build includes the file with Make; the ARM build (the SCons builder in
firmware/platform/builder) and the host tools read it here. The parser accepts only the subset
of Make the file uses (comments, blank lines, `NAME := words` with `\\` continuations) and
refuses anything else, so Make and this parser cannot read it differently.
"""

from __future__ import annotations

import re
from pathlib import Path

BUILD_CONFIG = Path(__file__).resolve().parent.parent / "firmware" / "build_config.mk"
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*:=\s*(.*)")


class BuildConfigError(ValueError):
    """The build configuration file uses Make syntax this parser does not read."""


def read(path: str | Path = BUILD_CONFIG) -> dict[str, list[str]]:
    """Every variable of the file as its list of words, in the order assigned."""
    text = Path(path).read_text(encoding="utf8").replace("\\\n", " ")
    values: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#") or not line.strip():
            continue
        match = _ASSIGNMENT.fullmatch(line.strip())
        if match is None or "$" in line or "#" in line:
            raise BuildConfigError(
                f"{path}:{number}: only `NAME := words` lines and whole-line comments are "
                f"read by both builds: {line.strip()!r}"
            )
        name, words = match.groups()
        if name in values:
            raise BuildConfigError(f"{path}:{number}: {name} is assigned twice")
        values[name] = words.split()
    return values
