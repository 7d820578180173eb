"""`hushkit quantize`: checkpoint -> fully-int8 one-hop TFLite model + parity report.

    hushkit quantize runs/default/best.pt --out build/model [--calib-dir data] [--qat]

Path: the network's one-hop step as a Keras graph (keras_graph.py) -> frozen concrete function ->
TFLiteConverter (full-integer post-training quantization, calibrated on the float model's real
streaming state, calibrate.py) -> flatbuffer post-processing (tflite_model.py): I/O tensors
named `features`, `state_in`, `mask`, `state_out`; `state_in` moved onto `state_out`'s int8 grid
so the state is copied back as bytes; a `hushkit` metadata entry with the DSP configuration,
the model arguments and the checkpoint's sha256. Every tensor type and every operator is
checked before the file is written. With --qat the float model is first fine-tuned with
fake quantization (qat.py); the parity report still compares against the original checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hushkit import argtypes, contract
from hushkit.quantize import opset, tflite_model
from hushkit.quantize.qat_config import QATConfig

# `hushkit quantize --qat` options: (flag, QATConfig field, argument type, help)
QAT_OPTIONS = (
    ("--qat-steps", "steps", argtypes.non_negative_int, "fine-tuning steps"),
    ("--qat-lr", "lr", argtypes.float_range(0.0, 1.0, lo_open=True), "fine-tuning learning rate"),
    ("--qat-batch", "batch_size", argtypes.positive_int, "mixtures per fine-tuning step"),
)


METADATA_NAME = "hushkit"
GENERATOR = "hushkit quantize"
IO_NAMES = contract.IO_NAMES


class QuantizationError(ValueError):
    """The converted model is not what the firmware can run."""


@dataclasses.dataclass
class Converted:
    tflite: bytes
    info: tflite_model.ModelInfo
    seconds: float


def _frozen_step_function(graph, n_inputs: int, state_size: int):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, n_inputs], tf.float32, name=contract.FEATURES),
            tf.TensorSpec([1, state_size], tf.float32, name=contract.STATE_IN),
        ]
    )
    def step(features, state_in):
        return graph({contract.FEATURES: features, contract.STATE_IN: state_in})

    # Weights become constants: the calibrator cannot read resource variables.
    return convert_variables_to_constants_v2(step.get_concrete_function())


def convert_model(model, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Raw converter output for a network (no renaming, no metadata)."""
    import tensorflow as tf

    from hushkit.quantize import calibrate, keras_graph

    tf.keras.utils.set_random_seed(0)
    graph = keras_graph.build(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [_frozen_step_function(graph, int(model.feat_mean.shape[0]), model.state_size)]
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: calibrate.representative_dataset(pairs)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def check_types(info: tflite_model.ModelInfo) -> None:
    """Weights int8, biases int32 (and int32 shape constants), every activation int8."""
    bad = []
    for t in info.tensors:
        if t.is_constant:
            ok = t.dtype in ("INT8", "INT32")
        else:
            ok = t.dtype == "INT8" and t.scale is not None
        if not ok:
            bad.append(f"{t.name} ({t.dtype})")
    if bad:
        raise QuantizationError(f"not a fully int8 model; offending tensors: {', '.join(bad)}")


def _io_indices(info: tflite_model.ModelInfo) -> dict[str, int]:
    """Tensor index of each I/O name. Inputs come in the step function's argument order; of
    the outputs, the mask is the one a LOGISTIC produces (the state comes from an ADD)."""
    if len(info.inputs) != 2 or len(info.outputs) != 2:
        raise QuantizationError(
            f"expected 2 inputs and 2 outputs, got {info.inputs}, {info.outputs}"
        )
    producer = {o: op.op for op in info.operators for o in op.outputs}
    mask = [i for i in info.outputs if producer.get(i) == "LOGISTIC"]
    state = [i for i in info.outputs if producer.get(i) != "LOGISTIC"]
    if len(mask) != 1 or len(state) != 1:
        raise QuantizationError("cannot tell the mask output from the state output")
    features, state_in = info.inputs
    if (contract.FEATURES not in info.tensors[features].name
            or contract.STATE_IN not in info.tensors[state_in].name):
        raise QuantizationError("converter reordered the inputs")
    return {contract.FEATURES: features, contract.STATE_IN: state_in, contract.MASK: mask[0],
            contract.STATE_OUT: state[0]}


def finalize(raw: bytes, metadata: dict) -> bytes:
    """Name the I/O tensors, share the state grid, add metadata, check types and operators."""
    info = tflite_model.describe(raw)
    opset.check_ops(info.ops, "converted model")
    check_types(info)
    io = _io_indices(info)
    state_out = info.tensors[io[contract.STATE_OUT]]
    data = tflite_model.rewrite(
        raw,
        io_names={index: name for name, index in io.items()},
        metadata={METADATA_NAME: json.dumps(metadata, sort_keys=True).encode()},
        input_grids={io[contract.STATE_IN]: (state_out.scale, state_out.zero_point)},
    )
    final = tflite_model.describe(data)
    a, b = final.io_tensor(contract.STATE_IN), final.io_tensor(contract.STATE_OUT)
    if (a.scale, a.zero_point) != (b.scale, b.zero_point):
        raise QuantizationError("state_in and state_out ended up on different int8 grids")
    return data


def quantize_checkpoint(
    checkpoint: str | Path,
    calib_dir: str | Path,
    n_hops: int | None = None,
    qat: QATConfig | None = None,
    qat_data: str | Path | None = None,
) -> Converted:
    """Checkpoint -> finished .tflite bytes: post-training quantization, after quantization-
    aware fine-tuning on `qat_data`'s training mixtures (default: calib_dir) when `qat` is set."""
    from hushkit.quantize import calibrate
    from hushkit.training.checkpoint import load_model

    t0 = time.perf_counter()
    ckpt_bytes = Path(checkpoint).read_bytes()
    model = load_model(checkpoint)
    extra = {}
    if qat is not None:
        from hushkit.quantize import qat as qat_mod

        batches = qat_mod.mixture_batches(
            str(qat_data or calib_dir), qat, _training_config(checkpoint)
        )
        model = qat_mod.finetune(model, batches, qat)
        extra["qat"] = dataclasses.asdict(qat)
    clips = calibrate.load_clips(calib_dir)
    pairs = calibrate.streaming_pairs(model, clips, n_hops or calibrate.DEFAULT_HOPS)
    raw = convert_model(model, pairs)
    metadata = {
        "dsp": model.args.dsp_config.to_dict(),
        "model_args": dataclasses.asdict(model.args),
        "checkpoint_sha256": hashlib.sha256(ckpt_bytes).hexdigest(),
        "generator": GENERATOR,
        "calibration_hops": len(pairs),
        **extra,
    }
    data = finalize(raw, metadata)
    return Converted(data, tflite_model.describe(data), time.perf_counter() - t0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quantize",
        help="convert a checkpoint to a fully-int8 one-hop TFLite model and report parity",
        description=(
            "Convert a float checkpoint to DIR/model.tflite (int8 weights, activations and I/O; "
            "int32 biases; one hop per invocation, GRU state as explicit input/output), then "
            "compare float, int8 LiteRT and int8 TFLite Micro on held-out mixtures "
            "(DIR/parity.json, DIR/parity.md)."
        ),
    )
    p.add_argument("checkpoint", help="float checkpoint (.pt) from `hushkit train`")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--calib-dir",
        default="data",
        help="calibration audio: a `hushkit data` directory, or a folder of WAVs (default: data)",
    )
    p.add_argument(
        "--eval-dir",
        help="held-out clean/ + noisy/ set for the parity report (default: CALIB_DIR/valset)",
    )
    p.add_argument(
        "--eval-clips",
        type=argtypes.non_negative_int,
        default=8,
        help="clips scored in the parity report",
    )
    p.add_argument("--no-parity", action="store_true", help="skip the parity report")
    p.add_argument(
        "--qat",
        action="store_true",
        help="quantization-aware fine-tuning before conversion (when plain int8 loses too much)",
    )
    for flag, field, kind, text in QAT_OPTIONS:
        default = getattr(QATConfig, field)
        p.add_argument(flag, type=kind, default=default, help=f"{text} (default {default:g})")
    p.add_argument(
        "--qat-data",
        help="`hushkit data` directory whose training mixtures fine-tune (default: CALIB_DIR)",
    )
    p.set_defaults(func=_cli)


def _qat_config(args: argparse.Namespace) -> QATConfig | None:
    """--qat settings; the loss takes the checkpoint's training settings where it has them."""
    if not args.qat:
        return None
    from hushkit.training.checkpoint import load
    from hushkit.training.model import OperatingPoint

    ckpt = load(args.checkpoint)
    trained = ckpt.get("config") or {}
    loss_keys = ("compress", "complex_weight", "distortion_weight", "sisdr_weight")
    loss = {k: trained[k] for k in loss_keys if k in trained}
    loss.update(OperatingPoint.of(ckpt).as_extra())
    options = {field: getattr(args, flag[2:].replace("-", "_")) for flag, field, *_ in QAT_OPTIONS}
    return QATConfig(**options, **loss)


def _training_config(checkpoint: str | Path):
    """The training stage's configuration stored in `checkpoint` (its mixing and augmentation
    for quantization-aware fine-tuning), or None for a checkpoint without one."""
    from hushkit.training.checkpoint import load
    from hushkit.training.config import TrainConfig

    trained = load(checkpoint).get("config") or {}
    if not trained:
        return None
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig.from_dict({k: v for k, v in trained.items() if k in known})


def _cli(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        result = quantize_checkpoint(
            args.checkpoint, args.calib_dir, qat=_qat_config(args), qat_data=args.qat_data
        )
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / "model.tflite"
    model_path.write_bytes(result.tflite)
    print(
        f"wrote {model_path}: {len(result.tflite)} bytes, ops {', '.join(result.info.ops)}, "
        f"converted in {result.seconds:.1f} s",
        file=sys.stderr,
    )
    if args.no_parity:
        return 0
    from hushkit.quantize import parity

    eval_dir = Path(args.eval_dir) if args.eval_dir else Path(args.calib_dir) / "valset"
    try:
        report = parity.run(args.checkpoint, model_path, eval_dir, max_clips=args.eval_clips)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: parity report: {exc}", file=sys.stderr)
        return 2
    parity.save(report, out)
    print(parity.to_markdown(report))
    return 0 if report["passed"] else 1
