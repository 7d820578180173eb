"""The exporter: int8 .tflite -> C array + config header compiled into the firmware.

    hushkit export build/model/model.tflite --out build/model_export [--expect-dsp default]

(the command is `hushkit.firmware_export`, which measures the arena with the host build of
the firmware engine and passes the measurement in: quantize does not import the device tools).

Writes, into DIR:
    model_data.h / model_data.c   the exact model bytes as an `alignas(16)` const array + length
    hush_model_config.h           DSP framing (from hushkit.training.dsp, checked against the
                                  model's metadata), I/O tensor names, shapes and quantization,
                                  operator list, arena size, model sha256

Generated files name their generator and the model's sha256, never a time, so the same model
always gives the same bytes. The model is checked first: a TFLite flatbuffer, fully int8,
only operators of `hushkit.quantize.opset`, a DSP configuration the firmware supports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from hushkit import contract, model_budget
from hushkit.quantize import opset, tflite_model
from hushkit.training import dsp

GENERATOR = "hushkit export"
BYTES_PER_LINE = 12
ARENA_ALIGN = 16  # bytes; HUSH_ARENA_BYTES is a multiple of it
# HUSH_ARENA_BYTES is measured, always the same way: the engine (firmware/core) is built for
# the host as well (`make -C firmware/host`), and its init plans the arena exactly as on the
# device. There is no estimate to fall back on: without the host library the export fails.
# hush_engine_arena_used() leaves out the up to ENGINE_ALIGN - 1 bytes it may skip to align
# the arena's start (the firmware's arena is alignas(16), so none there; counted anyway).
# No 32-bit/64-bit margin is needed on top: everything the engine keeps in the arena has a
# fixed width (FC: int32 folded bias per row, int32 multiplier + shift per channel, an
# int16 copy of the input row; LOGISTIC/TANH: a 256-entry int8 table; activations: int8),
# each block aligned to ENGINE_ALIGN on every target; pointers and size_t live in the
# engine's state struct, not in the arena. Had the arena held pointer-sized data, the 64-bit
# host would need more than the 32-bit Cortex-M, never less.
ENGINE_ALIGN = 8
# DSP framings the firmware's pipeline is built for (CMSIS rfft size-specific inits).
FIRMWARE_DSP = ("default", "lowlatency")
IO_NAMES = contract.IO_NAMES
# model bytes -> the arena bytes the firmware's engine plans for that model
# (hush_engine_arena_used); raises RuntimeError saying why when it cannot measure
# (corelib.arena_used: the host build of the engine).
ArenaMeasure = Callable[[bytes], int]


class ExportError(ValueError):
    """The model cannot run on the firmware; the message says why."""


@dataclasses.dataclass(frozen=True)
class ArenaSize:
    total: int  # HUSH_ARENA_BYTES
    used: int  # what the host build of the engine plans for this model
    note: str = "measured with the host build of the firmware engine"


@dataclasses.dataclass(frozen=True)
class Checked:
    data: bytes
    sha256: str
    info: tflite_model.ModelInfo
    dsp: dsp.DSPConfig
    metadata: dict
    arena: ArenaSize

    @property
    def arena_bytes(self) -> int:
        return self.arena.total


def _align(n: int, to: int) -> int:
    return -(-n // to) * to


def arena_size(data: bytes, measure: ArenaMeasure) -> ArenaSize:
    """HUSH_ARENA_BYTES for this model: what the engine plans for it, rounded up."""
    try:
        used = measure(data)
    except RuntimeError as exc:  # no host engine, or the engine refuses the model
        raise ExportError(str(exc)) from None
    return ArenaSize(_align(used + ENGINE_ALIGN - 1, ARENA_ALIGN), used)


def check_model(data: bytes, measure_arena: ArenaMeasure, expect_dsp: str | None = None) -> Checked:
    """Everything the firmware needs to hold; ExportError/TFLiteFormatError otherwise."""
    info = tflite_model.describe(data)
    opset.check_ops(info.ops, "model")
    floats = [t.name for t in info.tensors if t.dtype == "FLOAT32"]
    if floats:
        raise ExportError(
            f"not an int8 model: {len(floats)} float32 tensor(s), e.g. {floats[0]!r}; "
            "make it with `hushkit quantize`"
        )
    for t in info.tensors:
        want = ("INT8", "INT32") if t.is_constant else ("INT8",)
        if t.dtype not in want or (not t.is_constant and t.scale is None):
            raise ExportError(f"tensor {t.name!r} is {t.dtype}; the firmware engine is int8 only")
    if "hushkit" not in info.metadata:
        raise ExportError("model has no 'hushkit' metadata: make it with `hushkit quantize`")
    metadata = json.loads(info.metadata["hushkit"])
    cfg = _firmware_dsp(metadata.get("dsp", {}))
    if expect_dsp is not None and dsp.get(expect_dsp) != cfg:
        raise ExportError(f"model is built for DSP {cfg.name!r}, expected {expect_dsp!r}")
    io = {w: info.io_tensor(w) for w in IO_NAMES}
    if io["features"].shape not in ((1, cfg.n_bins), (1, 2 * cfg.n_bins)):
        raise ExportError(
            f"features must be [1, {cfg.n_bins}] (log power) or [1, {2 * cfg.n_bins}] (with the "
            f"floor feature) for DSP {cfg.name!r}"
        )
    if io["mask"].shape != (1, cfg.n_bins):
        raise ExportError(f"mask must be [1, {cfg.n_bins}] for DSP {cfg.name!r}")
    if io["state_in"].shape != io["state_out"].shape:
        raise ExportError("state_in and state_out shapes differ")
    s_in, s_out = io["state_in"], io["state_out"]
    if (s_in.scale, s_in.zero_point) != (s_out.scale, s_out.zero_point):
        raise ExportError("state_in and state_out are on different int8 grids")
    arena = arena_size(data, measure_arena)
    return Checked(data, hashlib.sha256(data).hexdigest(), info, cfg, metadata, arena)


def _firmware_dsp(stored: dict) -> dsp.DSPConfig:
    try:
        cfg = dsp.get(stored)
    except (TypeError, ValueError) as exc:
        raise ExportError(f"model metadata has no usable DSP configuration: {exc}") from None
    supported = [dsp.get(n) for n in FIRMWARE_DSP]
    if cfg not in supported:
        raise ExportError(
            f"model's DSP configuration (n_fft {cfg.n_fft}, hop {cfg.hop} at {cfg.sample_rate} "
            f"Hz) is not one the firmware supports: "
            + ", ".join(f"{c.name} (n_fft {c.n_fft} at {c.sample_rate} Hz)" for c in supported)
        )
    return next(c for c in supported if c == cfg)


def _banner(model: Checked, source_name: str) -> str:
    return (
        f"/* Generated by {GENERATOR} from {source_name}\n"
        f" * model sha256 {model.sha256}\n"
        " * Do not edit: re-run `hushkit export` instead. */\n"
    )


def model_data_h(model: Checked, source_name: str) -> str:
    return (
        _banner(model, source_name)
        + "#ifndef HUSH_MODEL_DATA_H\n#define HUSH_MODEL_DATA_H\n\n#include <stdint.h>\n\n"
        "/* The int8 TFLite flatbuffer, 16-byte aligned so weights and int32 biases are read\n"
        " * in place. */\n"
        "extern const uint8_t hush_model_data[];\nextern const uint32_t hush_model_data_len;\n\n"
        "#endif /* HUSH_MODEL_DATA_H */\n"
    )


def model_data_c(model: Checked, source_name: str) -> str:
    data = model.data
    rows = []
    for i in range(0, len(data), BYTES_PER_LINE):
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in data[i : i + BYTES_PER_LINE]) + ",")
    return (
        _banner(model, source_name)
        + '#include "model_data.h"\n\n#include <stdalign.h>\n\n'
        + "alignas(16) const uint8_t hush_model_data[] = {\n"
        + "\n".join(rows)
        + "\n};\n\n"
        + f"const uint32_t hush_model_data_len = {len(data)}u;\n"
    )


def _c_float(x: float) -> str:
    return f"{x:.9g}f"  # 9 significant digits: the float32 value round-trips exactly


def config_h(model: Checked, source_name: str) -> str:
    cfg, info = model.dsp, model.info
    io = {w: info.io_tensor(w) for w in IO_NAMES}
    lines = [
        _banner(model, source_name).rstrip("\n"),
        "#ifndef HUSH_MODEL_CONFIG_H",
        "#define HUSH_MODEL_CONFIG_H",
        "",
        f"/* DSP framing '{cfg.name}' (hushkit.training.dsp): sqrt-Hann window, 50 % overlap. */",
        f'#define HUSH_DSP_NAME "{cfg.name}"',
        f"#define HUSH_SAMPLE_RATE {cfg.sample_rate}",
        f"#define HUSH_N_FFT {cfg.n_fft} /* {cfg.latency_ms:g} ms window */",
        f"#define HUSH_HOP {cfg.hop} /* {cfg.hop_ms:g} ms: one model invocation per hop */",
        f"#define HUSH_N_BINS {cfg.n_bins}",
        f"#define HUSH_OUTPUT_DELAY {cfg.output_delay} /* samples the output lags the input */",
        f"#define HUSH_STATE_SIZE {io['state_in'].shape[-1]}",
        "",
        f'#define HUSH_MODEL_SHA256 "{model.sha256}"',
        f"#define HUSH_MODEL_BYTES {len(model.data)}",
        f"/* Arena: {model.arena.used} bytes {model.arena.note},",
        f" * + up to {ENGINE_ALIGN - 1} bytes the engine may skip to align the arena's start. "
        "Same on",
        " * 32- and 64-bit targets (fixed-width contents). The engine checks it at init. */",
        f"#define HUSH_ARENA_BYTES {model.arena_bytes}",
        "",
        "/* I/O tensors, found by name: real = scale * (q - zero_point). */",
    ]
    for word in IO_NAMES:
        t = io[word]
        macro = word.upper()
        lines += [
            f'#define HUSH_{macro}_NAME "{t.name}"',
            f"#define HUSH_{macro}_LEN {t.shape[-1]}",
            f"#define HUSH_{macro}_SCALE {_c_float(t.scale)}",
            f"#define HUSH_{macro}_ZERO_POINT ({t.zero_point})",
        ]
    lines += [
        "",
        f"/* Operators ({len(info.operators)} in execution order use these builtins). */",
        f'#define HUSH_MODEL_OPS "{",".join(info.ops)}"',
        f"#define HUSH_MODEL_N_OPERATORS {len(info.operators)}",
        "",
        "#endif /* HUSH_MODEL_CONFIG_H */",
        "",
    ]
    return "\n".join(lines)


def export(
    model_path: str | Path,
    out_dir: str | Path,
    measure_arena: ArenaMeasure,
    expect_dsp: str | None = None,
    target: str | None = None,
) -> Checked:
    """Check the model (and, given a target, that it fits it) and write the three firmware
    files into out_dir."""
    path = Path(model_path)
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path}")
    model = check_model(path.read_bytes(), measure_arena, expect_dsp)
    if target is not None:
        model_budget.budget(target).check(len(model.data), model.arena_bytes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("model_data.h", model_data_h(model, path.name)),
        ("model_data.c", model_data_c(model, path.name)),
        ("hush_model_config.h", config_h(model, path.name)),
    ):
        (out / name).write_text(text, newline="\n")
    return model
