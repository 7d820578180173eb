"""`hushkit model push` on QEMU: on-device validation, switch between hops, keep-old-model.

The application runs from a slot (flashed through the bootloader); a second test model (same
network, other seed, so another SHA-256) is pushed into a model slot. Refused models: a file
that is no flatbuffer, a model for another DSP configuration (the 8 ms lowlatency STFT on a
firmware built for the default one), and a model image whose hash does not match.
"""

from __future__ import annotations

import hashlib

import flash_fixtures as ff
import numpy as np
import pytest
import serial

from hushkit import flash_image, flash_layout, payloads
from hushkit import protocol as p
from hushkit.client import DeviceError
from hushkit.flash import FlashError
from hushkit.flash_model import model_image, push

LAYOUT = flash_layout.get(ff.TARGET)
pytestmark = [pytest.mark.slow, pytest.mark.qemu]


def _quantized(root, calib, dsp: str, seed: int):
    import torch

    from hushkit.quantize import convert
    from hushkit.training import checkpoint
    from hushkit.training.model import MaskNet, ModelArgs

    torch.manual_seed(seed)
    ckpt = root / f"{dsp}{seed}.pt"
    checkpoint.save(ckpt, MaskNet(ModelArgs(dsp=dsp, hidden=16)))
    out = root / f"{dsp}{seed}.tflite"
    out.write_bytes(convert.quantize_checkpoint(ckpt, calib, n_hops=60).tflite)
    return out


@pytest.fixture(scope="module")
def rig(firmware_model, firmware_build_root, tmp_path_factory) -> ff.FlashRig:
    return ff.rig_or_skip(
        firmware_model[1], firmware_build_root, tmp_path_factory.mktemp("push")
    )


@pytest.fixture(scope="module")
def models(firmware_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    calib = firmware_model[0].parent / "calib"
    return {
        "old": firmware_model[0],
        "new": _quantized(root, calib, "default", seed=1),
        "lowlatency": _quantized(root, calib, "lowlatency", seed=0),
    }


@pytest.fixture(scope="module")
def base(rig):
    return ff.flashed(rig, "push-base.bin")


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _still_runs(client, sha: str) -> None:
    info = client.info()
    assert info.model_loaded and info.model_sha256 == sha
    out = client.process(np.zeros(info.hop * 4, np.int16))
    assert out.pcm.size == info.hop * 4


def test_push_validates_switches_and_survives_restart(rig, base, models, tmp_path):
    path = ff.copy(base, tmp_path / "f.bin")
    with rig.device(path) as (client, _):
        _still_runs(client, _sha(models["old"]))
        result = push(client, models["new"], progress=False)
        assert result.state == "active" and result.bytes_written > 0
        _still_runs(client, _sha(models["new"]))
        again = push(client, models["old"], progress=False)  # the other model slot
        assert again.slot != result.slot
        _still_runs(client, _sha(models["old"]))
        push(client, models["new"], progress=False)
    with rig.device(path) as (client, _):  # after a restart the pushed model runs
        _still_runs(client, _sha(models["new"]))


def test_invalid_models_are_refused_and_the_old_one_keeps_running(rig, base, models, tmp_path):
    path = ff.copy(base, tmp_path / "f.bin")
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(np.random.default_rng(0).bytes(6000))
    old = _sha(models["old"])
    with rig.device(path) as (client, _):
        for bad, why in ((garbage, "model"), (models["lowlatency"], "")):
            with pytest.raises(FlashError, match="rejected the model") as err:
                push(client, bad, progress=False)
            assert why in str(err.value)
            _still_runs(client, old)
        # A model image whose bytes were corrupted after signing: the hash check refuses it.
        data = bytearray(model_image(models["new"], ff.TARGET, LAYOUT))
        data[len(data) // 2] ^= 0x40
        slot = LAYOUT.region("model1")
        index = LAYOUT.regions.index(slot)
        data += b"\xff" * (-len(data) % LAYOUT.sector)
        for off in range(0, len(data), LAYOUT.sector):
            client.erase(slot.start + off, LAYOUT.sector)
            for c in range(off, off + LAYOUT.sector, payloads.FLASH_WRITE_CHUNK):
                client.write(slot.start + c, bytes(data[c : c + payloads.FLASH_WRITE_CHUNK]))
        with pytest.raises(DeviceError, match="hash mismatch") as err:
            request = payloads.MODEL_ACTIVATE_REQUEST.pack(region=index)
            client.transact(p.Opcode.MODEL_ACTIVATE, request)
        assert err.value.status == p.Status.MODEL_INVALID
        _still_runs(client, old)
        with pytest.raises(DeviceError) as err:  # the application never writes its own slot
            client.erase(LAYOUT.region("app0").start, LAYOUT.sector)
        assert err.value.status == p.Status.OUTSIDE_SLOTS


def test_power_cut_during_a_push_keeps_a_working_model(rig, base, models, tmp_path):
    old, new = _sha(models["old"]), _sha(models["new"])
    path = ff.copy(base, tmp_path / "count.bin")
    with rig.device(path) as (client, _):
        before = client.identify().flash_ops
        push(client, models["new"], progress=False)
        total = client.identify().flash_ops
    # First erase, a write in the middle, and the three recording steps at the end.
    points = sorted({before + 1, (before + total) // 2, total - 2, total - 1, total})
    for cut in points:
        trial = ff.copy(base, tmp_path / "trial.bin")
        with rig.device(trial, power_cut_at=cut) as (client, emu):
            with pytest.raises((DeviceError, FlashError, serial.SerialException, OSError)):
                push(client, models["new"], progress=False)
            assert emu.wait(10) == ff.POWER_CUT_EXIT
        with rig.device(trial) as (client, _):
            info = client.info()
            assert info.model_loaded and info.model_sha256 in (old, new), cut
            if cut <= total - 3:
                assert info.model_sha256 == old, cut  # not switched before the record
            push(client, models["new"], progress=False)
            _still_runs(client, new)


def test_model_image_is_an_imgtool_image(models, tmp_path):
    data = model_image(models["new"], ff.TARGET, LAYOUT)
    image = flash_image.parse(data)
    assert image.target == ff.TARGET and image.rom_fixed is None
    assert data[flash_layout.IMAGE_HEADER_SIZE :].startswith(models["new"].read_bytes())
