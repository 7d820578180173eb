"""Shared fixtures for the firmware-in-the-loop tests.

    def test_something(firmware_elf, emulator):
        elf = firmware_elf("qemu-m4")            # built once per session, with the test model
        emu = emulator("qemu-m4")                # booted; stopped when the test ends
        link = serial.serial_for_url(emu.url)    # or hushkit.transport.open_link(emu.url)

The test model is an untrained MaskNet (seeded, hidden 16, DSP "default") quantized and
exported with the real `hushkit quantize` / `hushkit export` code, so what the firmware
holds is exactly what a user's export gives it. `firmware_model` returns the .tflite path and
the export directory. These fixtures skip when torch/TensorFlow, the ARM toolchain or QEMU
are missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from hushkit.emulator import QEMU, Emulator

TEST_BUILD_ROOT = Path(__file__).resolve().parent.parent / "build" / "test-firmware"
TEST_MODEL_HIDDEN = 16  # GRU size of the test model: small, converts in about a second
CALIBRATION_HOPS = 60


def _calibration_clips(folder: Path) -> None:
    """Two seconds of noise bursts at varied levels: enough to set the int8 ranges."""
    import soundfile as sf

    from hushkit.training import dsp

    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(2):
        levels = np.repeat(rng.uniform(0.01, 0.3, 10), dsp.SAMPLE_RATE // 10)
        noise = rng.standard_normal(dsp.SAMPLE_RATE) * levels
        sf.write(folder / f"noise{i}.wav", noise.astype(np.float32), dsp.SAMPLE_RATE)


def make_test_model(
    root: Path, dsp: str = "default", hidden: int = TEST_MODEL_HIDDEN
) -> tuple[Path, Path]:
    """Quantize and export the seeded untrained test model for DSP configuration `dsp`."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    from hushkit import firmware_export
    from hushkit.quantize import convert
    from hushkit.training import checkpoint
    from hushkit.training.model import MaskNet, ModelArgs

    root.mkdir(parents=True, exist_ok=True)
    _calibration_clips(root / "calib")
    torch.manual_seed(0)
    ckpt = root / "model.pt"
    checkpoint.save(ckpt, MaskNet(ModelArgs(dsp=dsp, hidden=hidden)))
    tflite = root / "model.tflite"
    tflite.write_bytes(
        convert.quantize_checkpoint(ckpt, root / "calib", n_hops=CALIBRATION_HOPS).tflite
    )
    firmware_export.export(tflite, root / "export")
    return tflite, root / "export"


@pytest.fixture(scope="session")
def firmware_model(tmp_path_factory) -> tuple[Path, Path]:
    """(model.tflite, export directory) of the test model."""
    return make_test_model(tmp_path_factory.mktemp("firmware_model"))


@pytest.fixture(scope="session")
def firmware_build_root() -> Path:
    """Where test builds go: apart from build/firmware, so a test never replaces a user's ELF."""
    return TEST_BUILD_ROOT


@pytest.fixture(scope="session")
def firmware_elf(firmware_model, firmware_build_root) -> Callable[[str], Path]:
    """Build a target's firmware with the test model (once per target and session)."""
    from hushkit import firmware_build

    if shutil.which(firmware_build.TOOLCHAIN_CC) is None:
        pytest.skip(f"{firmware_build.TOOLCHAIN_CC} not installed")
    built: dict[str, Path] = {}

    def get(target: str) -> Path:
        if target not in built:
            built[target] = firmware_build.build(
                target, model_dir=firmware_model[1], build_root=firmware_build_root
            ).elf
        return built[target]

    return get


@pytest.fixture
def emulator(firmware_elf) -> Iterator[Callable[[str], Emulator]]:
    """Boot a target's firmware on QEMU; every emulator started in a test stops after it."""
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} not installed")
    running: list[Emulator] = []

    def start(target: str) -> Emulator:
        emu = Emulator(target, firmware_elf(target)).__enter__()
        running.append(emu)
        return emu

    yield start
    for emu in running:
        emu.__exit__(None, None, None)
