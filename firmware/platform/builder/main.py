"""SCons build of the hushkit firmware for one PlatformIO environment.

What goes into the ELF:
  firmware/core/src/*.c         portable core (pipeline, engine, frame codec)
  CMSIS-DSP sources             as listed in firmware/cmsis_sources.mk (shared with the host)
  firmware/hal/cortex_m/*.c     Cortex-M start-up, SysTick/DWT timer, stack paint, semihosting
  firmware/hal/<board>/*.c      board specifics (memory map, UART, IRQ numbers)
  firmware/app/*.c              the main loop           (custom_app = main)
  firmware/hal/selftest/*.c     HAL self-test instead   (custom_app = selftest)
  <model dir>/model_data.c      the exported model      (main app only)

The model directory is `$HUSHKIT_MODEL_DIR` (set by `hushkit build --model-dir`), else the
environment's `custom_model_dir`. Project sources build with -Wall -Wextra -Werror; CMSIS-DSP
with its warnings relaxed. Floating point stays strict (-ffp-contract=off, no fast-math), with
the same CMSIS defines as firmware/host/Makefile, so the ARM build computes the same float
features as the host library bit for bit.
"""

import os
import re
import sys

from SCons.Script import Builder, Default, DefaultEnvironment

env = DefaultEnvironment()

FIRMWARE_DIR = env.subst("$PROJECT_DIR")
THIRD_PARTY = os.path.join(FIRMWARE_DIR, "third_party")
CMSIS_DSP = os.path.join(THIRD_PARTY, "CMSIS-DSP")
CMSIS_CORE = os.path.join(THIRD_PARTY, "CMSIS-Core")
BUILD_DIR = env.subst("$BUILD_DIR")
TOOLCHAIN_PREFIX = "arm-none-eabi-"

# Files the exporter writes (see `hushkit export`); the firmware needs all three.
MODEL_FILES = ("model_data.c", "model_data.h", "hush_model_config.h")

# Same CMSIS configuration as the host build: the portable C paths, no DSP-extension
# intrinsics, so ARM and host run the same float code.
CMSIS_DEFINES = ["__GNUC_PYTHON__"]
CMSIS_RELAXED_WARNINGS = ["-Wno-unused-parameter", "-Wno-sign-compare"]
STRICT_WARNINGS = ["-Wall", "-Wextra", "-Werror"]


def fail(message):
    sys.stderr.write(f"hushkit build error: {message}\n")
    env.Exit(1)


def option(name, default=None):
    value = env.GetProjectOption(name, default)
    return value.strip() if isinstance(value, str) else value


def c_sources(directory):
    if not os.path.isdir(directory):
        return []
    return sorted(
        os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(".c")
    )


def parse_cmsis_sources(mk_path):
    """The CMSIS_DSP_SOURCES list of a Make fragment (`:=`, `=`, `+=`, `\\` continuations)."""
    with open(mk_path, encoding="utf8") as fp:
        text = fp.read().replace("\\\n", " ")
    sources = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        match = re.match(r"\s*CMSIS_DSP_SOURCES\s*(\+=|:=|\?=|=)\s*(.*)$", line)
        if not match:
            continue
        if match.group(1) != "+=":
            sources = []
        sources.extend(match.group(2).split())
    return sources


def project_version():
    """The version in pyproject.toml: the firmware reports the same one as the host tools."""
    with open(os.path.join(FIRMWARE_DIR, "..", "pyproject.toml"), encoding="utf8") as fp:
        match = re.search(r'^version\s*=\s*"([^"]+)"', fp.read(), re.MULTILINE)
    return match.group(1) if match else "unknown"


def objects(build_env, sources, root, subdir=""):
    """Compile each source to BUILD_DIR/subdir/<path relative to root>.o."""
    result = []
    for src in sources:
        rel = os.path.splitext(os.path.relpath(src, root))[0]
        result.append(build_env.Object(os.path.join(BUILD_DIR, subdir, rel + ".o"), src))
    return result


cpu_flags = option("custom_cpu_flags", "").split()
hal_parts = option("custom_hal", "").split()
board_name = option("custom_board")
ldscript = option("custom_ldscript")
app = option("custom_app", "main")
if not cpu_flags or not hal_parts or not board_name or not ldscript:
    fail("environment needs custom_cpu_flags, custom_hal, custom_board and custom_ldscript")
if app not in ("main", "selftest"):
    fail(f"custom_app must be 'main' or 'selftest', not {app!r}")

env.Replace(
    AR=TOOLCHAIN_PREFIX + "gcc-ar",
    AS=TOOLCHAIN_PREFIX + "gcc",
    CC=TOOLCHAIN_PREFIX + "gcc",
    CXX=TOOLCHAIN_PREFIX + "g++",
    LINK=TOOLCHAIN_PREFIX + "gcc",
    OBJCOPY=TOOLCHAIN_PREFIX + "objcopy",
    RANLIB=TOOLCHAIN_PREFIX + "gcc-ranlib",
    # Not SIZETOOL: that name makes PlatformIO add its board-based `checkprogsize` step.
    HUSH_SIZE=TOOLCHAIN_PREFIX + "size",
    PROGSUFFIX=".elf",
    CCFLAGS=cpu_flags
    + [
        "-std=c11",
        "-O2",
        "-g",
        "-ffunction-sections",
        "-fdata-sections",
        "-fno-common",
        "-ffp-contract=off",
        "-fno-fast-math",
    ],
    CPPDEFINES=[],
    CPPPATH=[],
    LINKFLAGS=cpu_flags
    + [
        "-nostartfiles",
        "--specs=nano.specs",
        # The board script INCLUDEs hal/cortex_m/sections.ld.
        "-L",
        os.path.join(FIRMWARE_DIR, "hal", "cortex_m"),
        "-T",
        os.path.join(FIRMWARE_DIR, ldscript),
        "-Wl,--gc-sections",
        "-Wl,-Map=" + os.path.join(BUILD_DIR, "firmware.map"),
    ],
    # libm only serves exact operations (round, floor on FPUs without VRINT): the core's
    # transcendental functions are its own, so host and ARM agree bit for bit.
    LIBS=["c", "m", "gcc"],
)
if env.WhereIs(env["CC"]) is None:
    fail(
        f"{env['CC']} not found: install the ARM toolchain "
        "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
    )

hal_include = os.path.join(FIRMWARE_DIR, "hal", "include")
hal_dirs = [os.path.join(FIRMWARE_DIR, "hal", part) for part in ["cortex_m"] + hal_parts]
project_env = env.Clone()
project_env.Append(
    CCFLAGS=STRICT_WARNINGS,
    CPPPATH=[hal_include] + hal_dirs,
    CPPDEFINES=[("HAL_BOARD_NAME", f'\\"{board_name}\\"')],
)

hal_sources = [src for d in hal_dirs for src in c_sources(d)]
sources = objects(project_env, hal_sources, FIRMWARE_DIR)

if app == "selftest":
    selftest_dir = os.path.join(FIRMWARE_DIR, "hal", "selftest")
    sources += objects(project_env, c_sources(selftest_dir), FIRMWARE_DIR)
else:
    model_dir = os.environ.get("HUSHKIT_MODEL_DIR") or option("custom_model_dir", "")
    if not model_dir:
        fail("no model directory: pass --model-dir to `hushkit build` (an `hushkit export` output)")
    model_dir = os.path.abspath(os.path.join(FIRMWARE_DIR, model_dir))
    missing = [f for f in MODEL_FILES if not os.path.isfile(os.path.join(model_dir, f))]
    if missing:
        fail(
            f"model directory {model_dir} lacks {', '.join(missing)}: "
            "create it with `hushkit export MODEL.tflite --out DIR`"
        )

    cmsis_list = parse_cmsis_sources(os.path.join(FIRMWARE_DIR, "cmsis_sources.mk"))
    cmsis_paths = [os.path.join(CMSIS_DSP, s) for s in cmsis_list]
    missing_cmsis = [p for p in cmsis_paths if not os.path.isfile(p)]
    if missing_cmsis:
        fail(f"CMSIS-DSP sources missing ({missing_cmsis[0]}): run firmware/fetch_deps.sh")
    cmsis_include = [
        os.path.join(CMSIS_DSP, "Include"),
        os.path.join(CMSIS_DSP, "PrivateInclude"),
        os.path.join(CMSIS_CORE, "Include"),
    ]

    core_dir = os.path.join(FIRMWARE_DIR, "core")
    app_env = project_env.Clone()
    app_env.Append(
        CPPPATH=[os.path.join(core_dir, "include"), model_dir],
        CPPDEFINES=[
            ("HUSH_FW_VERSION", f'\\"{project_version()}\\"'),
            ("HUSH_TARGET", f'\\"{env.subst("$PIOENV")}\\"'),
        ],
    )
    if cmsis_list:
        app_env.Append(CPPPATH=cmsis_include, CPPDEFINES=CMSIS_DEFINES)
    sources += objects(app_env, c_sources(os.path.join(core_dir, "src")), FIRMWARE_DIR)
    sources += objects(app_env, c_sources(os.path.join(FIRMWARE_DIR, "app")), FIRMWARE_DIR)
    sources += objects(app_env, [os.path.join(model_dir, "model_data.c")], model_dir, "model")

    cmsis_env = env.Clone()
    cmsis_env.Append(
        CCFLAGS=["-Wall"] + CMSIS_RELAXED_WARNINGS, CPPPATH=cmsis_include, CPPDEFINES=CMSIS_DEFINES
    )
    sources += objects(cmsis_env, cmsis_paths, CMSIS_DSP, "cmsis")

elf = env.Program(os.path.join(BUILD_DIR, "firmware"), sources)
linker_scripts = [ldscript, os.path.join("hal", "cortex_m", "sections.ld")]
env.Depends(elf, [os.path.join(FIRMWARE_DIR, p) for p in linker_scripts])

env.Append(BUILDERS={"ElfToBin": Builder(action="$OBJCOPY -O binary $SOURCE $TARGET")})
binary = env.ElfToBin(os.path.join(BUILD_DIR, "firmware.bin"), elf)
size = env.Command("size", elf, "$HUSH_SIZE -A -d $SOURCE")
env.AlwaysBuild(size)
Default([elf, binary, size])
