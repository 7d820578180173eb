"""Both firmware builds compile the core with the flags and sources of firmware/build_config.mk.

The host build (Make) includes the file, the ARM build (SCons) reads it with
hushkit.build_config: the parser and Make must read the same values, and each build's compile
lines must carry them.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

import pytest

from hushkit import build_config, firmware_build, targets

HOST_MAKEFILE_DIR = targets.FIRMWARE_DIR / "host"
HOST_OUT = targets.REPO_ROOT / "build" / "host"
# Flags of the ARM build that are not the core's configuration: the CPU and the ELF layout.
ARM_ONLY = ("-mthumb", "-mcpu=", "-mfpu=", "-mfloat-abi=", "-ffunction-sections",
            "-fdata-sections", "-fno-common", "-I", "-DHAL_", "-DHUSH_FW_VERSION",
            "-DHUSH_TARGET")  # fmt: skip
HOST_ONLY = ("-fPIC", "-I", "-c", "-o")

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def test_parser_reads_assignments_and_continuations(tmp_path):
    mk = tmp_path / "config.mk"
    mk.write_text("# comment\n\nA := -x -y\nSRC := a.c \\\n    b.c \\\n    c.c\n")
    assert build_config.read(mk) == {"A": ["-x", "-y"], "SRC": ["a.c", "b.c", "c.c"]}


@pytest.mark.parametrize(
    "line", ["A += b", "A = b", "A := $(B)", "A := b # why", "ifdef X", "A := b\nA := c"]
)
def test_parser_refuses_make_it_does_not_read(tmp_path, line):
    mk = tmp_path / "config.mk"
    mk.write_text(line + "\n")
    with pytest.raises(build_config.BuildConfigError):
        build_config.read(mk)


@needs_make
def test_make_reads_the_file_as_the_parser_does():
    out = subprocess.run(
        ["make", "-s", "-C", str(HOST_MAKEFILE_DIR), "print-build-config"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    seen = dict(line.split("=", 1) for line in out.splitlines())
    config = build_config.read()
    assert seen.keys() == config.keys()
    for name, words in config.items():
        assert seen[name].split() == words, name


def _host_compile_lines() -> dict[str, list[str]]:
    """The host build's compile commands (not run) for a core and a CMSIS-DSP object."""
    core = HOST_OUT / "core" / "hush_engine.o"
    cmsis = HOST_OUT / "cmsis" / build_config.read()["CMSIS_DSP_SOURCES"][0].replace(".c", ".o")
    out = subprocess.run(
        ["make", "-n", "-B", "-C", str(HOST_MAKEFILE_DIR), str(core), str(cmsis)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lines = {}
    for line in out.replace("\\\n", " ").splitlines():
        words = shlex.split(line)
        if "-c" in words and words[-1] in (str(core), str(cmsis)):
            lines["core" if words[-1] == str(core) else "cmsis"] = words[1:]
    return lines


def _config_flags(kind: str) -> set[str]:
    config = build_config.read()
    defines = {f"-D{d}" for d in config["HUSH_CMSIS_DEFINES"]}
    if kind == "core":
        return set(config["HUSH_CORE_CFLAGS"] + config["HUSH_STRICT_WARNINGS"]) | defines
    return set(config["HUSH_CORE_CFLAGS"] + config["HUSH_CMSIS_RELAXED_WARNINGS"]) | defines


def _own(words: list[str], other_build: tuple[str, ...]) -> set[str]:
    """The compiler flags of a command line, less the build's own (CPU, paths, outputs)."""
    return {w for w in words if w.startswith("-") and not w.startswith(other_build)}


@needs_make
def test_host_build_compiles_with_the_config():
    lines = _host_compile_lines()
    assert _own(lines["core"], HOST_ONLY) == _config_flags("core")
    assert _own(lines["cmsis"], HOST_ONLY) == _config_flags("cmsis") | {"-Wall"}


@pytest.mark.slow
def test_arm_build_compiles_with_the_same_flags_and_sources_as_the_host(firmware_elf):
    record = json.loads((firmware_elf("qemu-m4").parent / "build_config.json").read_text())
    host = _host_compile_lines()
    assert record["cmsis_sources"] == firmware_build.cmsis_sources()
    core = _own(record["core_flags"], ARM_ONLY)
    assert core == _own(host["core"], HOST_ONLY) == _config_flags("core")
    assert _own(record["cmsis_flags"], ARM_ONLY) == _own(host["cmsis"], HOST_ONLY)
