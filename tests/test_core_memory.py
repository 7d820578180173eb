"""The core's init functions refuse state memory that is too small or misaligned."""

from __future__ import annotations

import ctypes
from pathlib import Path

from hushkit import corelib

MODEL = Path(__file__).resolve().parent.parent / "quantize" / "pretrained" / "default.tflite"
HUSH_OK, HUSH_E_MEMORY = 0, 7


def _init(lib: ctypes.CDLL, state_size: int, offset: int = 0) -> int:
    """hush_pipeline_init on `state_size` bytes at 16-aligned + offset; returns its status."""
    model = MODEL.read_bytes()
    buf = (ctypes.c_uint8 * (state_size + 64))()
    base = ctypes.addressof(buf)
    at = ctypes.c_void_p(base + (-base % 16) + offset)
    arena_bytes = corelib.Pipeline.DEFAULT_ARENA_BYTES
    arena = ctypes.create_string_buffer(arena_bytes)
    model_buf = ctypes.create_string_buffer(model, len(model))
    return lib.hush_pipeline_init(at, state_size, 256, model_buf, len(model), arena, arena_bytes)


def test_pipeline_init_checks_its_memory():
    lib = corelib.load_library()
    corelib.Pipeline(MODEL.read_bytes(), 256)  # declares the signatures
    need = lib.hush_pipeline_get_size()
    assert _init(lib, need) == HUSH_OK
    assert _init(lib, need - 1) == HUSH_E_MEMORY
    assert _init(lib, need, offset=4) == HUSH_E_MEMORY
    assert "misaligned" in lib.hush_status_str(HUSH_E_MEMORY).decode()


def test_engine_init_checks_its_memory():
    lib = corelib.load_library()
    corelib.Engine(MODEL.read_bytes())  # declares the signatures
    need = lib.hush_engine_get_size()
    state = (ctypes.c_uint64 * (need // 8 + 2))()
    u8p = ctypes.POINTER(ctypes.c_uint8)
    model = MODEL.read_bytes()
    model_buf = (ctypes.c_uint8 * len(model)).from_buffer_copy(model)
    arena = (ctypes.c_uint8 * 65536)()

    def init(at: int, size: int) -> int:
        return lib.hush_engine_init(
            ctypes.c_void_p(at), size, ctypes.cast(model_buf, u8p), len(model),
            ctypes.cast(arena, u8p), len(arena),
        )  # fmt: skip

    base = ctypes.addressof(state)
    assert init(base, need) == HUSH_OK
    assert init(base, need - 1) == HUSH_E_MEMORY
    assert init(base + 1, need) == HUSH_E_MEMORY
