"""The shipped default model on real speech in noise: our engine = TFLite Micro, bit for bit.

Every hop of a stateful run over ~10 s of LibriVox speech (pocketsphinx-testdata) in recorded
and synthetic noise is checked three ways:
  host C pipeline's int8 tensors            == official TFLite Micro runtime on the same inputs
  emulated Cortex-M4's int8 tensors         == official TFLite Micro runtime on the same inputs
  emulated M4 / M7 / M55 output and tensors == host C pipeline (audio within 1e-4 full scale)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hushkit import cli
from hushkit.firmware_loop import AUDIO_TOLERANCE, compare_with_host
from hushkit.ops import to_int16

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO / "quantize" / "pretrained" / "default.tflite"
HOPS = 1250  # 10 s at 8 ms per hop: well past the 1000-hop bar
TEST_DATA = REPO / "build" / "test-data" / "quick"


@pytest.fixture(scope="module")
def model() -> bytes:
    return SHIPPED_MODEL.read_bytes()


@pytest.fixture(scope="module")
def real_noisy_speech() -> np.ndarray:
    """HOPS hops of real speech mixed with real and synthetic noise at 5 dB SNR, int16."""
    from hushkit.training import datasets
    from hushkit.training.mixing import as_float, mix_at_snr

    if not (TEST_DATA / "manifest.json").exists():
        assert cli.main(["data", "--out", str(TEST_DATA), "--quick", "--no-babble"]) == 0
    speech = np.concatenate(
        [as_float(x) for split in ("train", "val", "test")
         for x in datasets.load_split(TEST_DATA, "speech", split)]
    )
    noise = np.concatenate(
        [as_float(x) for clips in datasets.load_noise_by_type(TEST_DATA, "train").values()
         for x in clips]
    )
    n = HOPS * 128
    speech = np.resize(speech, n)
    noise = np.resize(noise, n)
    noisy, _ = mix_at_snr(speech, noise, 5.0)
    return to_int16(0.5 * noisy / np.max(np.abs(noisy)))


def tflm_mismatches(model: bytes, taps: dict[str, np.ndarray]) -> tuple[int, int]:
    """Run TFLite Micro on each hop's recorded inputs; (hops, hops whose outputs differ)."""
    from hushkit.quantize.host_int8 import Int8Model

    ref = Int8Model(model, runtime="tflm")
    bad = 0
    for features, state_in, mask, state_out in zip(
        taps["features"], taps["state_in"], taps["mask"], taps["state_out"], strict=True
    ):
        ref_mask, ref_state = ref.invoke(features, state_in)
        bad += not (np.array_equal(ref_mask.reshape(-1), mask)
                    and np.array_equal(ref_state.reshape(-1), state_out))
    return len(taps["mask"]), bad


def test_host_pipeline_equals_tflite_micro(model, real_noisy_speech):
    from hushkit.corelib import Pipeline

    pipeline = Pipeline(model, n_fft=256)
    _out, taps = pipeline.process_with_taps(real_noisy_speech)
    hops, bad = tflm_mismatches(model, taps)
    assert hops == HOPS and bad == 0
    # the run is stateful: the state the model reads is the one it wrote a hop earlier
    assert np.array_equal(taps["state_in"][1:], taps["state_out"][:-1])
    assert np.any(taps["state_out"] != 0)


@pytest.fixture(scope="module")
def shipped_elf(tmp_path_factory):
    from hushkit import firmware_build, firmware_export

    if shutil.which(firmware_build.TOOLCHAIN_CC) is None:
        pytest.skip(f"{firmware_build.TOOLCHAIN_CC} not installed")
    export_dir = tmp_path_factory.mktemp("shipped_export")
    firmware_export.export(SHIPPED_MODEL, export_dir)
    root = REPO / "build" / "test-firmware-shipped"
    built = {}

    def get(target: str) -> Path:
        if target not in built:
            built[target] = firmware_build.build(target, model_dir=export_dir,
                                                 build_root=root).elf
        return built[target]

    return get


def _connect(target: str, elf: Path):
    from hushkit.ops import connect

    return connect(None, emulate=target, elf=elf, timeout=30.0)


@pytest.mark.slow
@pytest.mark.qemu
def test_emulated_m4_equals_tflite_micro_and_host(model, real_noisy_speech, shipped_elf):
    with _connect("qemu-m4", shipped_elf("qemu-m4")) as client:
        result = compare_with_host(client, model, real_noisy_speech)
        client.reset()
        device = client.process(real_noisy_speech[: 40 * 128], taps=True)
    assert result.hops == HOPS
    assert result.mismatched_hops == 0, result.mismatched_values
    assert result.max_audio_error <= AUDIO_TOLERANCE
    hops, bad = tflm_mismatches(model, device.taps)
    assert hops == 40 and bad == 0
    # RESET really restarts: the first 40 hops repeat bit for bit
    assert np.array_equal(device.pcm, result.device_out[: 40 * 128])


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("target", ["qemu-m7", "qemu-m55", "qemu-m33", "qemu-stm32f4"])
def test_other_targets_stream_like_the_host(model, real_noisy_speech, shipped_elf, target):
    with _connect(target, shipped_elf(target)) as client:
        result = compare_with_host(client, model, real_noisy_speech[: 300 * 128])
        stats = client.stats()
    assert result.hops == 300 and result.bit_exact, result.mismatched_values
    assert stats.hops == 300 and stats.cost_min > 0
