"""Structurally different networks go the whole way with no code of their own.

`ConvGRUNet` (a strided convolution across frequency, a grouped convolution, two stacked
GRUs sharing one state vector, a Dense mask), a `MaskNet` of two stacked GRUs with skip
connections (each GRU passes its input on beside its state, so the mask layer reads the
input embedding and both states) and one that also reads each bin's height above a running
noise floor (the floor feature, tracked in integers by the firmware) are each trained for a
few steps, fine-tuned with fake quantization, converted to int8, exported, built for the
emulated Cortex-M4 and streamed: host C engine == TFLite Micro == emulated M4, bit for bit.
Nothing outside their module
definitions in training/model.py knows the architectures.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")

from hushkit import firmware_export  # noqa: E402
from hushkit.quantize import convert, opset, qat  # noqa: E402
from hushkit.training import checkpoint, dsp  # noqa: E402
from hushkit.training.layers import StreamNet  # noqa: E402
from hushkit.training.model import (  # noqa: E402
    STFT,
    ConvGRUArgs,
    ConvGRUNet,
    MaskNet,
    ModelArgs,
    input_features,
    track_floor,
)

REPO = Path(__file__).resolve().parent.parent
HOPS = 200
SEGMENT = 4000  # samples per training mixture: 31 hops


def _mixtures(rng: np.random.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean): a few harmonic tones in white noise at random levels."""
    t = np.arange(SEGMENT) / dsp.SAMPLE_RATE
    clean = np.stack([
        sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 4)) * rng.uniform(0.05, 0.3)
        for f0 in rng.uniform(100, 400, batch)
    ])
    noisy = clean + rng.standard_normal(clean.shape) * rng.uniform(0.01, 0.2, (batch, 1))
    return torch.from_numpy(noisy.astype(np.float32)), torch.from_numpy(clean.astype(np.float32))


def _batches(seed: int, batch: int):
    rng = np.random.default_rng(seed)
    while True:
        yield _mixtures(rng, batch)


def _train(model: StreamNet, steps: int) -> StreamNet:
    from hushkit.training.losses import spectral_loss

    stft = STFT(model.args.dsp_config)
    batches = _batches(0, 4)
    with torch.no_grad():
        feats, _ = input_features(model.args, stft(next(batches)[0]))
        feats = feats.reshape(-1, feats.shape[-1])
        model.feat_mean.copy_(feats.mean(0))
        model.feat_std.copy_(feats.std(0) + 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        noisy, clean = next(batches)
        spec_n, spec_c = stft(noisy), stft(clean)
        with torch.no_grad():
            feats, _ = input_features(model.args, spec_n)
        mask, _ = model(feats)
        loss = spectral_loss(mask * spec_n, spec_c, 0.3, 0.3, 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


# Each network has two recurrent layers of 16, one state vector of 32.
NETWORKS = {
    "convgru": lambda: ConvGRUNet(ConvGRUArgs(channels=4, hidden=16)),
    "skip": lambda: MaskNet(ModelArgs(hidden=16, gru_layers=2, skip=True)),
    "floor": lambda: MaskNet(ModelArgs(hidden=16, gru_layers=2, floor_feature=True)),
}


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def network_model(request, tmp_path_factory) -> tuple[bytes, Path]:
    """(int8 model bytes, export directory) of a briefly trained, QAT-tuned network."""
    import soundfile as sf

    root = tmp_path_factory.mktemp(request.param)
    torch.manual_seed(0)
    model = _train(NETWORKS[request.param](), steps=20)
    model = qat.finetune(model, _batches(1, 2), qat.QATConfig(steps=3, batch_size=2),
                         log_every=0)
    ckpt = root / f"{request.param}.pt"
    checkpoint.save(ckpt, model)
    calib = root / "calib"
    calib.mkdir()
    noisy, _ = _mixtures(np.random.default_rng(2), 4)
    for i, clip in enumerate(noisy.numpy()):
        sf.write(calib / f"c{i}.wav", clip, dsp.SAMPLE_RATE)
    tflite = root / "model.tflite"
    tflite.write_bytes(convert.quantize_checkpoint(ckpt, calib, n_hops=80).tflite)
    firmware_export.export(tflite, root / "export")
    return tflite.read_bytes(), root / "export"


def _speech_like_pcm(hops: int) -> np.ndarray:
    from hushkit.ops import to_int16

    rng = np.random.default_rng(5)
    parts = [_mixtures(rng, 1)[0].numpy()[0] for _ in range(-(-hops * 128 // SEGMENT))]
    return to_int16(np.concatenate(parts)[: hops * 128])


def _tflm_mismatches(model: bytes, taps: dict[str, np.ndarray]) -> int:
    from hushkit.quantize.host_int8 import Int8Model

    ref = Int8Model(model, runtime="tflm")
    bad = 0
    for f, s_in, mask, s_out in zip(taps["features"], taps["state_in"], taps["mask"],
                                    taps["state_out"], strict=True):
        ref_mask, ref_state = ref.invoke(f, s_in)
        bad += not (np.array_equal(ref_mask.reshape(-1), mask)
                    and np.array_equal(ref_state.reshape(-1), s_out))
    return bad


@pytest.mark.slow
def test_int8_runs_on_the_host_engine_like_tflite_micro(network_model):
    from hushkit.corelib import Pipeline
    from hushkit.quantize import tflite_model

    model, _ = network_model
    info = tflite_model.describe(model)
    opset.check_ops(info.ops)
    assert {"FULLY_CONNECTED", "CONCATENATION"} <= set(info.ops)
    assert info.io_tensor("state_in").shape == (1, 32)  # both GRUs' states, one vector
    _out, taps = Pipeline(model, n_fft=256).process_with_taps(_speech_like_pcm(HOPS))
    assert len(taps["mask"]) == HOPS and _tflm_mismatches(model, taps) == 0
    assert np.array_equal(taps["state_in"][1:], taps["state_out"][:-1])
    assert np.any(taps["state_out"][:, :16] != 0) and np.any(taps["state_out"][:, 16:] != 0)


@pytest.mark.slow
@pytest.mark.parametrize("network_model", ["floor"], indirect=True)
def test_the_floor_feature_is_the_contracts_integer_floor(network_model):
    """The C pipeline's floor half is the contract's arithmetic on its log-power half (the
    host tracker, hop after hop from a reset), and it is what the float network learns on."""
    from hushkit.corelib import Pipeline
    from hushkit.quantize.host_int8 import FloorTracker, Int8Model

    model, _ = network_model
    int8 = Int8Model(model)
    assert int8.floor_feature and int8.n_features == 2 * 129
    pipeline = Pipeline(model, n_fft=256)
    assert pipeline.n_features == 258
    _out, taps = pipeline.process_with_taps(_speech_like_pcm(HOPS))
    features = taps["features"]
    zero_point = int8.params["features"].zero_point
    tracker = FloorTracker(128, zero_point)
    expected = np.stack([tracker.heights(hop[:129]) for hop in features])
    assert np.array_equal(features[:, 129:], expected)
    # A quiet floor under louder hops: the heights use the grid above the zero point.
    assert (features[:, 129:].astype(int) > zero_point).mean() > 0.3
    # The float tracker on the dequantized log powers lands within a step or two.
    scale = int8.params["features"].scale
    lp = torch.from_numpy((features[:, :129].astype(np.float32) - zero_point) * scale)[None]
    floor, _ = track_floor(lp, dsp.floor_shifts(dsp.DEFAULT))
    heights = (features[:, 129:].astype(np.float32) - zero_point) * scale
    assert np.max(np.abs((lp - floor)[0].numpy() - heights)) <= 2.5 * scale


@pytest.mark.slow
@pytest.mark.qemu
def test_streams_bit_exact_on_the_emulated_m4(network_model):
    from hushkit import firmware_build
    from hushkit.emulator import QEMU
    from hushkit.firmware_loop import compare_with_host
    from hushkit.ops import connect

    if shutil.which(firmware_build.TOOLCHAIN_CC) is None or shutil.which(QEMU) is None:
        pytest.skip("ARM toolchain or QEMU not installed")
    model, export_dir = network_model
    build_root = REPO / "build" / f"test-firmware-{export_dir.parent.name}"
    elf = firmware_build.build("qemu-m4", model_dir=export_dir, build_root=build_root).elf
    pcm = _speech_like_pcm(HOPS)
    with connect(None, emulate="qemu-m4", elf=elf, timeout=30.0) as client:
        result = compare_with_host(client, model, pcm)
        client.reset()
        device = client.process(pcm[: 40 * 128], taps=True)
    assert result.hops == HOPS and result.bit_exact, result.mismatched_values
    assert _tflm_mismatches(model, device.taps) == 0
