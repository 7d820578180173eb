"""ctypes access to the host build of the firmware core (`build/host/libhushcore.so`).

The same C that runs on the Cortex-M is compiled for the host (`make -C firmware/host`), so
the Python tools and tests can run the firmware's engine and pipeline on the PC and compare
them with TensorFlow Lite Micro and with the device.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

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
