"""ctypes access to the host build of the firmware core (`build/host/libhushcore.so`).

The same C that runs on the Cortex-M is compiled for the host (`make -C firmware/host`), so
the Python tools and tests can run the firmware's engine and pipeline on the PC and compare
them with TensorFlow Lite Micro and with the device.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import os
from pathlib import Path

from hushkit import contract

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LIBRARY = REPO_ROOT / "build" / "host" / "libhushcore.so"


class CoreLibraryMissing(RuntimeError):
    pass


@functools.cache
def load_library(path: str | os.PathLike | None = None) -> ctypes.CDLL:
    """Load the host core library; `HUSHKIT_CORELIB` overrides the default location."""
    lib_path = Path(path or os.environ.get("HUSHKIT_CORELIB", DEFAULT_LIBRARY))
    if not lib_path.exists():
        raise CoreLibraryMissing(
            f"{lib_path} not found: build the host core with `make -C firmware/host`"
        )
    return ctypes.CDLL(str(lib_path))


class FrameCodec:
    """The firmware's serial frame codec (`hush_frame.c`), for comparing it with protocol.py."""

    RESULT_NAMES = {1: "ready", -1: "cobs", -2: "short", -3: "crc", -4: "too_long"}

    def __init__(self, lib: ctypes.CDLL | None = None):
        self.lib = lib or load_library()
        u8p, size = ctypes.c_char_p, ctypes.c_size_t
        self.lib.hush_frame_crc32.restype = ctypes.c_uint32
        self.lib.hush_frame_crc32.argtypes = [ctypes.c_uint32, u8p, size]
        for name in ("hush_frame_cobs_encode", "hush_frame_cobs_decode"):
            getattr(self.lib, name).restype = size
            getattr(self.lib, name).argtypes = [u8p, size, ctypes.c_void_p, size]
        self.lib.hush_frame_encode.restype = size
        self.lib.hush_frame_encode.argtypes = [
            ctypes.c_uint8,
            ctypes.c_uint8,
            ctypes.c_uint16,
            u8p,
            size,
            ctypes.c_void_p,
            size,
        ]
        self.lib.hush_frame_decoder_get_size.restype = size
        self.lib.hush_frame_decoder_init.restype = ctypes.c_void_p
        self.lib.hush_frame_decoder_init.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.lib.hush_frame_decoder_push.restype = ctypes.c_int
        self.lib.hush_frame_decoder_push.argtypes = [ctypes.c_void_p, ctypes.c_uint8]
        self.lib.hush_frame_decoder_frame.restype = ctypes.POINTER(ctypes.c_uint8)
        self.lib.hush_frame_decoder_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(size)]
        size = self.lib.hush_frame_decoder_get_size()
        self._decoder_mem = ctypes.create_string_buffer(size)
        self._decoder = self.lib.hush_frame_decoder_init(self._decoder_mem, size)

    def crc32(self, data: bytes) -> int:
        return self.lib.hush_frame_crc32(0, data, len(data))

    def cobs_encode(self, data: bytes) -> bytes:
        out = ctypes.create_string_buffer(len(data) + 2 + len(data) // 254)
        n = self.lib.hush_frame_cobs_encode(data, len(data), out, len(out))
        return out.raw[:n]

    def cobs_decode(self, data: bytes) -> bytes | None:
        """Decoded bytes, or None where the C decoder rejects the input."""
        out = ctypes.create_string_buffer(len(data) + 1)
        n = self.lib.hush_frame_cobs_decode(data, len(data), out, len(out))
        return None if n == ctypes.c_size_t(-1).value else out.raw[:n]

    def encode(self, opcode: int, status: int, seq: int, payload: bytes) -> bytes:
        """A whole frame, delimiter included; b"" when the payload is too large."""
        out = ctypes.create_string_buffer(len(payload) + 16 + 2 * (len(payload) // 254 + 2))
        n = self.lib.hush_frame_encode(opcode, status, seq, payload, len(payload), out, len(out))
        return out.raw[:n]

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        """Push bytes through the C decoder: (result name, header | payload) per frame end."""
        events = []
        length = ctypes.c_size_t()
        for byte in data:
            result = self.lib.hush_frame_decoder_push(self._decoder, byte)
            if result:
                ptr = self.lib.hush_frame_decoder_frame(self._decoder, ctypes.byref(length))
                events.append((self.RESULT_NAMES[result], ctypes.string_at(ptr, length.value)))
        return events


# ---- int8 inference engine (firmware/core/src/hush_engine.c and its operator registry) ----

ENGINE_STATUS_OK = 0
ENGINE_STATUS_E_OP = 3
ENGINE_STATUS_E_ARENA = 5
_TFLITE_INT8 = 9


class EngineError(RuntimeError):
    """An engine call failed; `status` is the core's hush_status_t, `op` the failing builtin."""

    def __init__(self, status: int, message: str, op: int = -1, needed: int = 0):
        super().__init__(message)
        self.status = status
        self.op = op
        self.needed = needed  # E_ARENA: the arena bytes the model needs


class _TensorInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("num_elements", ctypes.c_int32),
        ("scale", ctypes.c_float),
        ("zero_point", ctypes.c_int32),
        ("type", ctypes.c_int32),
    ]


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One graph input or output as the engine sees it."""

    name: str
    num_elements: int
    scale: float
    zero_point: int
    type: int


def _engine_api(lib: ctypes.CDLL) -> ctypes.CDLL:
    if getattr(lib, "_hush_engine_typed", False):
        return lib
    p, u8p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8)
    info_p = ctypes.POINTER(_TensorInfo)
    sigs = {
        "hush_status_str": (ctypes.c_char_p, [ctypes.c_int]),
        "hush_engine_get_size": (ctypes.c_size_t, []),
        "hush_engine_init": (
            ctypes.c_int,
            [p, ctypes.c_size_t, u8p, ctypes.c_size_t, u8p, ctypes.c_size_t],
        ),
        "hush_engine_arena_used": (ctypes.c_size_t, [p]),
        "hush_engine_arena_persistent": (ctypes.c_size_t, [p]),
        "hush_engine_num_inputs": (ctypes.c_int, [p]),
        "hush_engine_num_outputs": (ctypes.c_int, [p]),
        "hush_engine_input": (ctypes.POINTER(ctypes.c_int8), [p, ctypes.c_int, info_p]),
        "hush_engine_output": (ctypes.POINTER(ctypes.c_int8), [p, ctypes.c_int, info_p]),
        "hush_engine_find_input": (ctypes.c_int, [p, ctypes.c_char_p]),
        "hush_engine_find_output": (ctypes.c_int, [p, ctypes.c_char_p]),
        "hush_engine_invoke": (ctypes.c_int, [p]),
        "hush_engine_unsupported_op": (ctypes.c_int, [p]),
        "hush_engine_op_count": (ctypes.c_int, []),
        "hush_engine_op_code": (ctypes.c_int32, [ctypes.c_int]),
        "hush_engine_op_name": (ctypes.c_char_p, [ctypes.c_int]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    lib._hush_engine_typed = True
    return lib


def engine_status_str(status: int, lib: ctypes.CDLL | None = None) -> str:
    return _engine_api(lib or load_library()).hush_status_str(status).decode()


def engine_ops(lib: ctypes.CDLL | None = None) -> dict[str, int]:
    """The engine's operator registry (hush_op_registry.c): TFLite builtin name -> code."""
    api = _engine_api(lib or load_library())
    return {
        api.hush_engine_op_name(i).decode(): int(api.hush_engine_op_code(i))
        for i in range(api.hush_engine_op_count())
    }


def arena_used(model: bytes, lib: ctypes.CDLL | None = None) -> int:
    """The arena bytes the engine plans for `model` (what HUSH_ARENA_BYTES is made from).

    Raises CoreLibraryMissing, or EngineError when the engine refuses the model, each saying
    what the measurement needed."""
    try:
        lib = lib or load_library()
    except CoreLibraryMissing as exc:
        why = f"the arena size is measured with the host engine: {exc}"
        raise CoreLibraryMissing(why) from None
    try:
        return Engine(model, Engine.DEFAULT_ARENA, lib).arena_used
    except EngineError as exc:
        if exc.status != ENGINE_STATUS_E_ARENA:
            raise EngineError(
                exc.status, f"the firmware engine rejects this model: {exc}", exc.op
            ) from None
        # larger than the default trial arena: the engine reported what it needs
        return Engine(model, exc.needed, lib).arena_used


class Engine:
    """The firmware's int8 engine on the host: same C, same arena plan, same results.

    The model bytes and the arena are kept alive by this object (the engine reads weights in
    place). Inputs and outputs are int8 numpy arrays, flattened.
    """

    DEFAULT_ARENA = 256 * 1024

    def __init__(
        self, model: bytes, arena_size: int = DEFAULT_ARENA, lib: ctypes.CDLL | None = None
    ):
        self._lib = _engine_api(lib or load_library())
        # 16-byte aligned copy of the model, as the exported C array is.
        self._model_buf = (ctypes.c_uint8 * (len(model) + 16))()
        off = (-ctypes.addressof(self._model_buf)) % 16
        ctypes.memmove(ctypes.addressof(self._model_buf) + off, model, len(model))
        model_ptr = ctypes.cast(
            ctypes.addressof(self._model_buf) + off, ctypes.POINTER(ctypes.c_uint8)
        )
        self._arena = (ctypes.c_uint8 * max(arena_size, 1))()
        state_size = self._lib.hush_engine_get_size()
        self._state = (ctypes.c_uint64 * ((state_size + 7) // 8))()
        self._e = ctypes.cast(self._state, ctypes.c_void_p)
        status = self._lib.hush_engine_init(
            self._e, state_size, model_ptr, len(model), self._arena, arena_size
        )
        if status != ENGINE_STATUS_OK:
            op = self._lib.hush_engine_unsupported_op(self._e)
            msg = f"engine init failed: {engine_status_str(status, self._lib)}"
            if op >= 0:
                msg += f" (builtin operator {_builtin_name(op, self._lib)})"
            needed = 0
            if status == ENGINE_STATUS_E_ARENA:  # the engine still reports what it needs
                needed = int(self._lib.hush_engine_arena_used(self._e))
                msg += f" (needs {needed} bytes)"
            raise EngineError(status, msg, op, needed)
        self.inputs = [
            self._info(i, False) for i in range(self._lib.hush_engine_num_inputs(self._e))
        ]
        self.outputs = [
            self._info(i, True) for i in range(self._lib.hush_engine_num_outputs(self._e))
        ]

    def _info(self, i: int, output: bool) -> TensorInfo:
        info = _TensorInfo()
        getter = self._lib.hush_engine_output if output else self._lib.hush_engine_input
        getter(self._e, i, ctypes.byref(info))
        return TensorInfo(
            info.name.decode(errors="replace"),
            info.num_elements,
            info.scale,
            info.zero_point,
            info.type,
        )

    @property
    def arena_used(self) -> int:
        return int(self._lib.hush_engine_arena_used(self._e))

    @property
    def arena_persistent(self) -> int:
        return int(self._lib.hush_engine_arena_persistent(self._e))

    def find_input(self, name: str) -> int:
        return int(self._lib.hush_engine_find_input(self._e, name.encode()))

    def find_output(self, name: str) -> int:
        return int(self._lib.hush_engine_find_output(self._e, name.encode()))

    def set_input(self, i: int, values) -> None:
        import numpy as np

        arr = np.ascontiguousarray(values, dtype=np.int8).reshape(-1)
        n = self.inputs[i].num_elements
        if arr.size != n:
            raise ValueError(f"input {i} takes {n} values, got {arr.size}")
        ptr = self._lib.hush_engine_input(self._e, i, None)
        ctypes.memmove(ptr, arr.ctypes.data, n)

    def get_output(self, i: int):
        import numpy as np

        n = self.outputs[i].num_elements
        ptr = self._lib.hush_engine_output(self._e, i, None)
        return np.ctypeslib.as_array(ptr, shape=(n,)).copy()

    def invoke(self) -> None:
        status = self._lib.hush_engine_invoke(self._e)
        if status != ENGINE_STATUS_OK:
            raise EngineError(status, f"invoke failed: {engine_status_str(status, self._lib)}")


# Names of a few builtins the engine does not run, for its error messages; the ones it runs
# come from its registry.
_OTHER_BUILTIN_NAMES = {
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE",
    25: "SOFTMAX",
}


def _builtin_name(code: int, lib: ctypes.CDLL | None = None) -> str:
    names = {c: n for n, c in engine_ops(lib).items()} | _OTHER_BUILTIN_NAMES
    return f"{names.get(code, 'builtin')} ({code})"


class PipelineError(RuntimeError):
    """The core's pipeline refused a model or failed a hop; the message is its error text."""


class _PipelineTap(ctypes.Structure):
    """`hush_pipeline_tap`: the int8 tensors of the last hop that ran the model."""

    _fields_ = [
        ("features", ctypes.POINTER(ctypes.c_int8)),
        ("state_in", ctypes.POINTER(ctypes.c_int8)),
        ("mask", ctypes.POINTER(ctypes.c_int8)),
        ("state_out", ctypes.POINTER(ctypes.c_int8)),
        ("n_bins", ctypes.c_int),
        ("state_size", ctypes.c_int),
        ("n_features", ctypes.c_int),
    ]


def _declare_pipeline(lib: ctypes.CDLL) -> None:
    """ctypes signatures of hush_pipeline.h."""
    vp = ctypes.c_void_p
    lib.hush_pipeline_get_size.restype = ctypes.c_size_t
    lib.hush_pipeline_get_size.argtypes = []
    lib.hush_pipeline_init.restype = ctypes.c_int
    lib.hush_pipeline_init.argtypes = [
        vp, ctypes.c_size_t, ctypes.c_int, vp, ctypes.c_size_t, vp, ctypes.c_size_t
    ]
    lib.hush_status_str.restype = ctypes.c_char_p
    lib.hush_status_str.argtypes = [ctypes.c_int]
    lib.hush_pipeline_reset.restype = None
    lib.hush_pipeline_reset.argtypes = [vp]
    lib.hush_pipeline_hop.restype = ctypes.c_int
    lib.hush_pipeline_hop.argtypes = [vp]
    lib.hush_pipeline_process.restype = ctypes.c_int
    lib.hush_pipeline_process.argtypes = [vp, vp, vp]
    lib.hush_pipeline_set_bypass.restype = None
    lib.hush_pipeline_set_bypass.argtypes = [vp, ctypes.c_int]
    lib.hush_pipeline_set_attenuation_limit.restype = None
    lib.hush_pipeline_set_attenuation_limit.argtypes = [vp, ctypes.c_float]
    lib.hush_pipeline_get_tap.restype = None
    lib.hush_pipeline_get_tap.argtypes = [vp, ctypes.POINTER(_PipelineTap)]
    lib.hush_pipeline_arena_used.restype = ctypes.c_size_t
    lib.hush_pipeline_arena_used.argtypes = [vp]


class Pipeline:
    """The firmware's per-hop pipeline (`hush_pipeline.c`): int16 audio in, int16 audio out.

    Runs exactly the C the device runs (STFT, log-power features, int8 model, mask,
    overlap-add), so its output lags the input by n_fft - hop samples like the device's.
    State carries across `process` calls until `reset`.
    """

    # Tensor arena handed to the engine. hushkit's models plan a few kB (see `arena_used`);
    # host memory is cheap, so leave plenty of room for larger experiments.
    DEFAULT_ARENA_BYTES = 256 * 1024

    TAP_NAMES = contract.TAP_ORDER

    def __init__(
        self,
        model: bytes,
        n_fft: int,
        arena_bytes: int = DEFAULT_ARENA_BYTES,
        lib: ctypes.CDLL | None = None,
    ):
        self.lib = lib or load_library()
        _declare_pipeline(self.lib)
        # The engine reads weights in place: these buffers must live as long as the pipeline.
        self._model = ctypes.create_string_buffer(bytes(model), len(model))
        self._arena = ctypes.create_string_buffer(arena_bytes)
        state_size = self.lib.hush_pipeline_get_size()
        self._state = ctypes.create_string_buffer(state_size)
        err = self.lib.hush_pipeline_init(
            self._state, state_size, n_fft, self._model, len(model), self._arena, arena_bytes
        )
        if err:
            raise PipelineError(f"pipeline init failed: {self.error_str(err)} ({err})")
        self.n_fft = n_fft
        self.hop = self.lib.hush_pipeline_hop(self._state)
        self._bypass = False
        tap = self._raw_tap()
        self.n_bins = tap.n_bins
        self.n_features = tap.n_features  # 2 * n_bins with the floor feature
        self.state_size = tap.state_size

    def error_str(self, err: int) -> str:
        return self.lib.hush_status_str(err).decode()

    @property
    def arena_used(self) -> int:
        """Arena bytes the engine planned for this model."""
        return self.lib.hush_pipeline_arena_used(self._state)

    def reset(self) -> None:
        """Zero the model state, the analysis history and the overlap-add tail."""
        self.lib.hush_pipeline_reset(self._state)

    def set_bypass(self, on: bool = True) -> None:
        """Unit gains without running the model (the audio still goes through the STFT)."""
        self._bypass = bool(on)
        self.lib.hush_pipeline_set_bypass(self._state, int(on))

    def set_attenuation_limit(self, db: float) -> None:
        """Floor every gain at -db dB; db <= 0 removes the limit."""
        self.lib.hush_pipeline_set_attenuation_limit(self._state, float(db))

    def _raw_tap(self) -> _PipelineTap:
        tap = _PipelineTap()
        self.lib.hush_pipeline_get_tap(self._state, ctypes.byref(tap))
        return tap

    def tap(self) -> dict | None:
        """The last model hop's int8 tensors as numpy copies; None before the first one."""
        import numpy as np

        tap = self._raw_tap()
        if not tap.features:
            return None
        sizes = {"features": tap.n_features, "mask": tap.n_bins}
        return {
            name: np.ctypeslib.as_array(getattr(tap, name), (sizes.get(name, tap.state_size),))
            .astype(np.int8)
            .copy()
            for name in self.TAP_NAMES
        }

    def _run(self, pcm, after_hop=None):
        """Process `pcm` hop by hop, calling after_hop(i) after hop i; returns the output."""
        import numpy as np

        pcm = np.ascontiguousarray(pcm)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise TypeError(f"expected 1-D int16 samples, got {pcm.dtype} {pcm.shape}")
        if len(pcm) % self.hop:
            raise ValueError(f"{len(pcm)} samples is not a multiple of the hop ({self.hop})")
        out = np.empty_like(pcm)
        step = self.hop * pcm.itemsize
        for i in range(len(pcm) // self.hop):
            err = self.lib.hush_pipeline_process(
                self._state, pcm.ctypes.data + i * step, out.ctypes.data + i * step
            )
            if err:
                raise PipelineError(f"hop {i}: {self.error_str(err)} ({err})")
            if after_hop is not None:
                after_hop(i)
        return out

    def process(self, pcm):
        """Process int16 samples (a multiple of `hop`); returns as many int16 samples."""
        return self._run(pcm)

    def process_with_taps(self, pcm) -> tuple:
        """`process` plus every hop's int8 tensors: (out, {name: (n_hops, size) int8})."""
        import numpy as np

        if self._bypass:
            raise PipelineError("taps need the model to run: bypass is on")
        n_hops = len(pcm) // self.hop
        sizes = {"features": self.n_features, "mask": self.n_bins}
        taps = {
            name: np.zeros((n_hops, sizes.get(name, self.state_size)), np.int8)
            for name in self.TAP_NAMES
        }

        def record(i: int) -> None:
            for name, value in self.tap().items():
                taps[name][i] = value

        return self._run(pcm, record), taps
