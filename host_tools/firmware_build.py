"""`hushkit build`: the firmware for one target, with PlatformIO, fully offline.

PlatformIO normally downloads its SCons package and the platform's toolchain. Here the
platform is the project-local one in firmware/platform (it uses the system's arm-none-eabi
GCC), and the SCons package is a small folder written into a project-local PlatformIO core
directory (build/pio-core) that runs the SCons installed in this Python environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

from hushkit import build_config, model_budget, targets

PIO_CORE_DIR = targets.REPO_ROOT / "build" / "pio-core"
DEFAULT_MODEL_DIR = targets.REPO_ROOT / "build" / "export"
SHIPPED_MODEL = targets.REPO_ROOT / "quantize" / "pretrained" / "default.tflite"
CMSIS_DSP_DIR = targets.FIRMWARE_DIR / "third_party" / "CMSIS-DSP"
FETCH_DEPS = targets.FIRMWARE_DIR / "fetch_deps.sh"
TOOLCHAIN_CC = "arm-none-eabi-gcc"
# What `hushkit export` writes and the firmware compiles in.
MODEL_FILES = ("model_data.c", "model_data.h", "hush_model_config.h")

# Keep PlatformIO from reaching its servers (telemetry, update checks).
PIO_OFFLINE_ENV = {
    "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
    "PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL": "3650",
    "PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD": "0",
}


class BuildError(RuntimeError):
    """A build precondition or the build itself failed; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class MemoryUsage:
    """Bytes taken by an ELF: flash = code + read-only data + .data initialisers;
    RAM = .data + .bss + the stack reservation (no heap: the firmware never allocates)."""

    flash: int
    ram: int
    stack: int


@dataclasses.dataclass(frozen=True)
class BuildResult:
    target: targets.Target
    elf: Path
    memory: MemoryUsage
    seconds: float


def scons_package_version() -> str:
    """The tool-scons version this PlatformIO requires (e.g. "~4.41101.0" -> "4.41101.0")."""
    from platformio.dependencies import get_core_dependencies

    return get_core_dependencies()["tool-scons"].lstrip("~^=<> ")


def prepare_pio_core(core_dir: Path = PIO_CORE_DIR) -> Path:
    """Write the `tool-scons` package PlatformIO looks for, pointing at the installed SCons.

    The `.piopm` owner must be "platformio", or PlatformIO treats the folder as foreign and
    downloads its own copy.
    """
    package = core_dir / "packages" / "tool-scons"
    package.mkdir(parents=True, exist_ok=True)
    version = scons_package_version()
    files = {
        "package.json": json.dumps({"name": "tool-scons", "version": version, "system": "*"}),
        ".piopm": json.dumps(
            {
                "type": "tool",
                "name": "tool-scons",
                "version": version,
                "spec": {
                    "owner": "platformio",
                    "id": None,
                    "name": "tool-scons",
                    "requirements": None,
                    "uri": None,
                },
            }
        ),
        "scons.py": "import sys\n\nfrom SCons.Script.Main import main\n\nsys.exit(main())\n",
    }
    for name, text in files.items():
        path = package / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return core_dir


def cmsis_sources() -> list[str]:
    """CMSIS_DSP_SOURCES of firmware/build_config.mk."""
    return build_config.read()["CMSIS_DSP_SOURCES"]


def check_toolchain() -> None:
    if shutil.which(TOOLCHAIN_CC) is None:
        raise BuildError(
            f"{TOOLCHAIN_CC} not found on PATH: install the ARM toolchain "
            "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
        )


def ensure_cmsis() -> None:
    """Fetch CMSIS-DSP with firmware/fetch_deps.sh when the sources the core needs are missing."""
    missing = [s for s in cmsis_sources() if not (CMSIS_DSP_DIR / s).is_file()]
    if not missing:
        return
    if not FETCH_DEPS.is_file():
        raise BuildError(f"CMSIS-DSP missing ({missing[0]}) and {FETCH_DEPS} does not exist")
    print(f"CMSIS-DSP not fetched yet: running {FETCH_DEPS.relative_to(targets.REPO_ROOT)}")
    if subprocess.run(["bash", str(FETCH_DEPS)], cwd=targets.REPO_ROOT).returncode != 0:
        raise BuildError(f"{FETCH_DEPS} failed: run it by hand to see why")
    still = [s for s in cmsis_sources() if not (CMSIS_DSP_DIR / s).is_file()]
    if still:
        raise BuildError(f"CMSIS-DSP still lacks {still[0]} after {FETCH_DEPS.name}")


def check_model_dir(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise BuildError(
            f"model directory {model_dir} not found: create it with "
            f"`hushkit export MODEL.tflite --out {model_dir}` or pass --model-dir"
        )
    missing = [f for f in MODEL_FILES if not (model_dir / f).is_file()]
    if missing:
        raise BuildError(
            f"{model_dir} lacks {', '.join(missing)}: it is not an `hushkit export` output"
        )


SHT_NOBITS = 8
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
STACK_SECTION = ".stack"


def elf_memory(elf: Path) -> MemoryUsage:
    """Flash/RAM/stack bytes from the section headers of a 32-bit little-endian ELF."""
    data = elf.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise BuildError(f"{elf} is not a 32-bit little-endian ELF")
    (shoff,) = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    headers = [struct.unpack_from("<10I", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_offset = headers[shstrndx][4]

    def name_of(index: int) -> str:
        end = data.index(b"\0", strtab_offset + index)
        return data[strtab_offset + index : end].decode()

    flash = ram = stack = 0
    for sh_name, sh_type, flags, _addr, _off, size, *_ in headers:
        if not flags & SHF_ALLOC or size == 0:
            continue
        if name_of(sh_name) == STACK_SECTION:
            stack += size
        if sh_type == SHT_NOBITS:
            ram += size  # .bss, .stack: zero-filled, no flash image
        elif flags & SHF_WRITE:
            flash += size  # .data: initial values in flash, copied to RAM at boot
            ram += size
        else:
            flash += size
    return MemoryUsage(flash=flash, ram=ram, stack=stack)


def memory_usage(elf: Path) -> dict[str, int]:
    """elf_memory() as a plain dict (for reports): flash_bytes, ram_bytes, stack_bytes."""
    mem = elf_memory(Path(elf))
    return {"flash_bytes": mem.flash, "ram_bytes": mem.ram, "stack_bytes": mem.stack}


def elf_path(target: str, selftest: bool = False) -> Path:
    """Where `hushkit build --target TARGET` leaves the ELF."""
    tgt = targets.get(target)
    return tgt.elf(tgt.selftest_env if selftest else None)


def export_shipped_model(out_dir: Path) -> None:
    """Export the model shipped with hushkit, for a build that names no model."""
    from hushkit import firmware_export

    print(f"no --model-dir: exporting the shipped model {SHIPPED_MODEL} to {out_dir}",
          file=sys.stderr)
    firmware_export.export(SHIPPED_MODEL, out_dir)


def build(
    target: str,
    model_dir: Path | None = None,
    selftest: bool = False,
    verbose: bool = False,
    build_root: Path = targets.BUILD_ROOT,
    env: str | None = None,
    extra_env: dict[str, str] | None = None,
    test_hooks: bool = False,
) -> BuildResult:
    """Build the application (or the HAL self-test image) for `target` with `pio run`.

    The ELF lands in build_root/<environment>/ (tests use their own root so they never
    replace a user's build). `test_hooks` compiles in the test suite's fault injection (the
    FAULT command): give such builds their own build_root."""
    tgt = targets.get(target)
    env_name = env or (tgt.selftest_env if selftest else tgt.name)
    check_toolchain()
    environ = os.environ | PIO_OFFLINE_ENV
    environ["PLATFORMIO_CORE_DIR"] = str(prepare_pio_core())
    environ["PLATFORMIO_BUILD_DIR"] = str(Path(build_root).resolve())
    environ.pop("HUSHKIT_BOOT_KEY_DIR", None)  # only what the caller names (extra_env)
    environ |= extra_env or {}
    environ.pop("HUSHKIT_TEST_HOOKS", None)
    if test_hooks:
        environ["HUSHKIT_TEST_HOOKS"] = "1"
    if not selftest:
        if model_dir is None and not DEFAULT_MODEL_DIR.is_dir():
            export_shipped_model(DEFAULT_MODEL_DIR)
        model_dir = Path(model_dir or DEFAULT_MODEL_DIR).resolve()
        check_model_dir(model_dir)
        try:
            model_budget.check_export_dir(model_dir, target)
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        ensure_cmsis()
        environ["HUSHKIT_MODEL_DIR"] = str(model_dir)
    cmd = [sys.executable, "-m", "platformio", "run", "-d", str(targets.FIRMWARE_DIR)]
    cmd += ["-e", env_name] + (["-v"] if verbose else [])
    start = time.monotonic()
    proc = subprocess.run(cmd, env=environ, capture_output=not verbose, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        overflow = _region_overflow(proc.stdout + proc.stderr)
        if overflow:
            raise BuildError(f"the firmware does not fit {target}: {overflow}")
        output = "" if verbose else (proc.stdout + proc.stderr)[-6000:]
        raise BuildError(f"`{' '.join(cmd[2:])}` failed:\n{output}")
    elf = tgt.elf(env_name, build_root)
    return BuildResult(tgt, elf, elf_memory(elf), seconds)


def _region_overflow(log: str) -> str:
    """The linker's "region `RAM' overflowed by N bytes" line of a failed build, or ""."""
    for line in log.splitlines():
        if "overflowed by" in line and "region" in line:
            return line.split(": ", 1)[-1].strip()
    return ""


def run_build(args: argparse.Namespace) -> int:
    if args.json or any(
        v is not None for v in (args.sign_key, args.image_version, args.security_counter)
    ):
        from hushkit import flash_build

        return flash_build.run_build_json(args)
    try:
        result = build(args.target, args.model_dir, selftest=args.selftest, verbose=args.verbose)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mem = result.memory
    print(f"{result.target.name} ({result.target.cpu} on {result.target.machine}): {result.elf}")
    print(f"  flash {mem.flash} bytes, RAM {mem.ram} bytes (stack {mem.stack} bytes reserved)")
    print(f"  built in {result.seconds:.1f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build the firmware for a target (offline PlatformIO)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", default=targets.DEFAULT_TARGET, choices=list(targets.TARGETS))
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help=f"`hushkit export` output to compile in (default: {DEFAULT_MODEL_DIR}, made from "
        f"the shipped model when missing)",
    )
    parser.add_argument(
        "--selftest", action="store_true", help="build the HAL self-test image instead"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the compiler commands")
    parser.add_argument(
        "--json",
        action="store_true",
        help="also build the bootloader and the signed slot images; print their paths as JSON",
    )
    from hushkit import flash_build

    flash_build.add_arguments(parser)
    parser.set_defaults(func=run_build)

    # `hushkit emulate` runs what this command builds; it registers alongside it.
    from hushkit import emulate

    emulate.register(subparsers)
