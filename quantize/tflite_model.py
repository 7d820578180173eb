"""Read and rewrite TFLite flatbuffers with the schema's generated Python object API.

`describe()` turns a .tflite file into plain data (operators, tensors, quantization, I/O,
metadata) for the checks, the exporter and the streaming host code. `rewrite()` renames the
I/O tensors and adds metadata, then re-serialises the model with every constant buffer
aligned to 16 bytes: the schema asks for `force_align: 16` on buffer data, the generated Python
packer ignores it, and the firmware reads int32 biases and int8 weight rows in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGN = 16  # bytes; schema.fbs `data:[ubyte] (force_align: 16)`

_TYPE_NAMES = {
    v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_") and isinstance(v, int)
}
_OP_NAMES = {
    v: k
    for k, v in vars(schema.BuiltinOperator).items()
    if not k.startswith("_") and isinstance(v, int)
}


class TFLiteFormatError(ValueError):
    """The bytes are not a readable TFLite flatbuffer."""


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str  # schema TensorType name: INT8, INT32, FLOAT32 ...
    shape: tuple[int, ...]
    scale: float | None  # per-tensor scale; None when not quantized
    zero_point: int | None
    n_scales: int  # > 1 for per-channel (per-axis) quantized weights
    is_constant: bool  # backed by a non-empty buffer (weights, biases)

    @property
    def nbytes(self) -> int:
        itemsize = {"INT8": 1, "UINT8": 1, "INT16": 2, "INT32": 4, "FLOAT32": 4, "INT64": 8}
        return int(np.prod(self.shape, dtype=np.int64)) * itemsize.get(self.dtype, 4)


@dataclasses.dataclass(frozen=True)
class OperatorInfo:
    op: str  # BuiltinOperator name
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    tensors: tuple[TensorInfo, ...]
    operators: tuple[OperatorInfo, ...]  # in execution order
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    metadata: Mapping[str, bytes]

    @property
    def ops(self) -> tuple[str, ...]:
        """Distinct operator names, sorted."""
        return tuple(sorted({o.op for o in self.operators}))

    def io_tensor(self, word: str) -> TensorInfo:
        """The model input or output whose name contains `word` (e.g. "state_in")."""
        hits = [
            self.tensors[i] for i in (*self.inputs, *self.outputs) if word in self.tensors[i].name
        ]
        if len(hits) != 1:
            names = [self.tensors[i].name for i in (*self.inputs, *self.outputs)]
            raise ValueError(f"expected one I/O tensor named like {word!r}, found {names}")
        return hits[0]


def unpack(data: bytes) -> schema.ModelT:
    """Parse a .tflite file; TFLiteFormatError for anything that is not one."""
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise TFLiteFormatError("not a TFLite flatbuffer (file identifier 'TFL3' missing)")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as exc:  # the generated reader raises whatever a bad offset triggers
        raise TFLiteFormatError(f"corrupt TFLite flatbuffer: {type(exc).__name__}: {exc}") from None
    if not model.subgraphs or model.buffers is None:
        raise TFLiteFormatError("TFLite flatbuffer has no subgraph")
    return model


def _decode(name: bytes | str | None) -> str:
    if isinstance(name, bytes):
        return name.decode("utf-8", "replace")
    return name or ""


def _op_name(code: schema.OperatorCodeT) -> str:
    # Codes < 127 sit in the deprecated int8 field, newer ones in the int32 field.
    value = max(code.builtinCode, code.deprecatedBuiltinCode)
    return _OP_NAMES.get(value, f"BUILTIN_{value}")


def describe(data: bytes) -> ModelInfo:
    """Plain-data view of the first subgraph of a .tflite file."""
    model = unpack(data)
    if len(model.subgraphs) != 1:
        raise TFLiteFormatError(f"expected one subgraph, found {len(model.subgraphs)}")
    graph = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(graph.tensors or []):
        q = t.quantization
        scales = [] if q is None or q.scale is None else [float(s) for s in q.scale]
        zps = [] if q is None or q.zeroPoint is None else [int(z) for z in q.zeroPoint]
        buf = model.buffers[t.buffer] if 0 <= t.buffer < len(model.buffers) else None
        constant = buf is not None and buf.data is not None and len(buf.data) > 0
        tensors.append(
            TensorInfo(
                index=i,
                name=_decode(t.name),
                dtype=_TYPE_NAMES.get(t.type, f"TYPE_{t.type}"),
                shape=tuple(int(d) for d in (t.shape if t.shape is not None else ())),
                scale=scales[0] if scales else None,
                zero_point=zps[0] if zps else None,
                n_scales=len(scales),
                is_constant=constant,
            )
        )
    codes = model.operatorCodes or []
    ops = []
    for op in graph.operators or []:
        if not 0 <= op.opcodeIndex < len(codes):
            raise TFLiteFormatError(f"operator refers to missing opcode {op.opcodeIndex}")
        ops.append(
            OperatorInfo(
                op=_op_name(codes[op.opcodeIndex]),
                inputs=tuple(int(i) for i in (op.inputs if op.inputs is not None else ())),
                outputs=tuple(int(i) for i in (op.outputs if op.outputs is not None else ())),
            )
        )
    metadata = {}
    for m in model.metadata or []:
        buf = model.buffers[m.buffer] if 0 <= m.buffer < len(model.buffers) else None
        metadata[_decode(m.name)] = (
            bytes(buf.data) if buf is not None and buf.data is not None else b""
        )
    return ModelInfo(
        tensors=tuple(tensors),
        operators=tuple(ops),
        inputs=tuple(int(i) for i in graph.inputs),
        outputs=tuple(int(i) for i in graph.outputs),
        metadata=metadata,
    )


class _AlignedBufferT(schema.BufferT):
    """BufferT whose data vector starts on a BUFFER_ALIGN boundary of the finished file."""

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 (generated API name)
        data_off = None
        if self.data is not None and len(self.data) > 0:
            payload = np.asarray(self.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(payload), BUFFER_ALIGN)
            builder.head -= len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            data_off = builder.EndVector()
        schema.BufferStart(builder)
        if data_off is not None:
            schema.BufferAddData(builder, data_off)
        return schema.BufferEnd(builder)


def _regrid_input(model: schema.ModelT, index: int, scale: float, zero_point: int) -> None:
    """Give graph input `index` a new int8 grid and keep every consumer's result unchanged.

    Elementwise kernels derive their rescaling from the tensor scales at prepare time, so
    only FULLY_CONNECTED needs work: its int32 bias is stored at input_scale * weight_scale
    and is requantized to the new input scale.
    """
    graph = model.subgraphs[0]
    tensor = graph.tensors[index]
    old_scale, old_zp = float(tensor.quantization.scale[0]), int(tensor.quantization.zeroPoint[0])
    if (old_scale, old_zp) == (scale, zero_point):
        return
    codes = model.operatorCodes
    for op in graph.operators:
        if index not in list(op.inputs):
            continue
        name = _op_name(codes[op.opcodeIndex])
        if name in ("ADD", "SUB", "MUL"):
            continue
        if name != "FULLY_CONNECTED" or list(op.inputs).index(index) != 0:
            raise ValueError(f"cannot move the grid of tensor {index}: it feeds {name}")
        if len(op.inputs) < 3 or op.inputs[2] < 0:
            continue
        bias = graph.tensors[op.inputs[2]]
        buf = model.buffers[bias.buffer]
        values = np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(), dtype="<i4")
        rescaled = np.rint(values.astype(np.float64) * (old_scale / scale))
        rescaled = np.clip(rescaled, -(2**31), 2**31 - 1).astype("<i4")
        buf.data = np.frombuffer(rescaled.tobytes(), dtype=np.uint8).copy()
        bias.quantization.scale = [float(s) * scale / old_scale for s in bias.quantization.scale]
    tensor.quantization.scale = [float(scale)]
    tensor.quantization.zeroPoint = [int(zero_point)]


def rewrite(
    data: bytes,
    io_names: Mapping[int, str],
    metadata: Mapping[str, bytes] | None = None,
    input_grids: Mapping[int, tuple[float, int]] | None = None,
) -> bytes:
    """Rename tensors (index -> new name), move inputs onto given (scale, zero point) grids,
    add/replace metadata entries, and re-serialise with aligned buffers."""
    model = unpack(data)
    graph = model.subgraphs[0]
    for index, (scale, zero_point) in (input_grids or {}).items():
        if index not in list(graph.inputs):
            raise ValueError(f"tensor {index} is not a graph input")
        _regrid_input(model, index, scale, zero_point)
    for index, name in io_names.items():
        graph.tensors[index].name = name
    for name, payload in (metadata or {}).items():
        existing = [m for m in model.metadata or [] if _decode(m.name) == name]
        buf = schema.BufferT()
        buf.data = np.frombuffer(payload, dtype=np.uint8).copy()
        if existing:
            model.buffers[existing[0].buffer] = buf
        else:
            model.buffers.append(buf)
            entry = schema.MetadataT()
            entry.name = name
            entry.buffer = len(model.buffers) - 1
            model.metadata = [*(model.metadata or []), entry]
    aligned = []
    for b in model.buffers:
        a = _AlignedBufferT()
        a.data = b.data
        aligned.append(a)
    model.buffers = aligned
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())
