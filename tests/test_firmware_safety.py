"""The firmware on QEMU: its output safety stage, and QEMU ending with hushkit on any signal.

The safety stage must not change normal output (the counters stay zero on real speech and
the device still equals the host pipeline bit for bit), and must hold a model that amplifies
to the ceiling and then bypass it. `hushkit emulate` and `hushkit stream --emulate` must take
QEMU with them when they get SIGTERM (what `timeout` and a cancelled CI job send) or SIGKILL.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_firmware_loop import model, real_noisy_speech, shipped_elf  # noqa: F401 (fixtures)
from test_hearing_safety import SHIPPED_TFLITE, amplifying_model

from hushkit import cli, emulator, targets
from hushkit.firmware_loop import compare_with_host
from hushkit.ops import connect

REPO = Path(__file__).resolve().parent.parent
LINK_TIMEOUT_S = 30.0


@pytest.mark.slow
@pytest.mark.qemu
def test_safety_stage_is_silent_on_real_speech(model, real_noisy_speech, shipped_elf):  # noqa: F811
    with connect(None, emulate="qemu-m4", elf=shipped_elf("qemu-m4"),
                 timeout=LINK_TIMEOUT_S) as client:  # fmt: skip
        result = compare_with_host(client, model, real_noisy_speech[: 400 * 128])
        safety = client.safety()
    assert result.bit_exact, result.mismatched_values
    assert safety.limited_samples == 0 and safety.trips == 0 and not safety.tripped


@pytest.fixture(scope="module")
def hostile_elf(tmp_path_factory) -> Path:
    from hushkit import firmware_build, firmware_export

    root = tmp_path_factory.mktemp("hostile")
    tflite = root / "amplifying.tflite"
    tflite.write_bytes(amplifying_model(SHIPPED_TFLITE.read_bytes(), 300.0))
    firmware_export.export(tflite, root / "export")
    return firmware_build.build("qemu-m4", model_dir=root / "export",
                                build_root=REPO / "build" / "test-firmware-hostile").elf


@pytest.mark.slow
@pytest.mark.qemu
def test_device_limits_then_bypasses_an_amplifying_model(hostile_elf):
    rng = np.random.default_rng(0)
    pcm = np.rint(rng.standard_normal(200 * 128) * 1000).clip(-3000, 3000).astype(np.int16)
    with connect(None, emulate="qemu-m4", elf=hostile_elf, timeout=LINK_TIMEOUT_S) as client:
        client.reset()
        out = client.process(pcm).pcm
        tripped = client.safety()
        client.reset()
        rearmed = client.safety()
    assert np.abs(out.astype(np.int32)).max() <= 4 * 3000 + 256
    assert tripped.tripped and tripped.trips == 1 and tripped.limited_samples > 0
    assert not rearmed.tripped and rearmed.trips == 1 and rearmed.limited_samples == 0
    # after the trip the device passes the input through (delayed by n_fft - hop)
    tail = slice(100 * 128, None)
    assert np.abs(out[tail].astype(np.int32) - np.roll(pcm, 128)[tail]).max() <= 2


# ---- child processes end with their parent ----------------------------------------------


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        kids += [int(k) for k in text]
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for_qemu(proc: subprocess.Popen, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for kid in _children(proc.pid):
            if "qemu" in Path(f"/proc/{kid}/comm").read_text():
                return kid
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("QEMU never started")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("command", ["emulate", "stream"])
def test_qemu_ends_with_hushkit(shipped_elf, tmp_path, sig, command):  # noqa: F811
    elf = shipped_elf("qemu-m4")
    if command == "emulate":
        argv = ["emulate", "--target", "qemu-m4", "--elf", str(elf)]
    else:  # a minute of audio: still streaming when the signal comes
        src = tmp_path / "long.wav"
        sf.write(src, np.random.default_rng(0).standard_normal(60 * 16000) * 0.1, 16000)
        argv = ["stream", "--emulate", "qemu-m4", "--elf", str(elf), "--quiet", str(src),
                str(tmp_path / "out.wav")]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "hushkit.cli", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        qemu = _wait_for_qemu(proc)
        time.sleep(1.0)  # let it get going (connected, streaming)
        proc.send_signal(sig)
        proc.communicate(timeout=20)
        assert _gone_within(qemu, 10), f"QEMU {qemu} outlived hushkit ({sig.name})"
        if sig == signal.SIGTERM:
            assert proc.returncode == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (tmp_path / "out.wav").exists()


# ---- the wrong ELF, or none ---------------------------------------------------------------


def _minimal_elf(path: Path, load_address: int, machine: int = 40) -> Path:
    """An ELF32 LE header with one PT_LOAD segment at load_address (enough for the checks)."""
    header = bytearray(52)
    header[:7] = b"\x7fELF\x01\x01\x01"
    struct.pack_into("<HHIIIIIHHHHHH", header, 16, 2, machine, 1, load_address, 52, 0, 0,
                     52, 32, 1, 40, 0, 0)  # fmt: skip
    phdr = struct.pack("<IIIIIIII", 1, 0x100, load_address, load_address, 16, 16, 5, 4)
    path.write_bytes(bytes(header) + phdr + b"\x00" * (0x100 - 84) + b"\x01" * 16)
    return path


@pytest.mark.parametrize("load,machine,words", [
    (0x10000000, 40, "was not built for qemu-m4"),
    (0x00000000, 62, "is not ARM code"),
], ids=["another board", "x86-64 file"])  # fmt: skip
def test_wrong_elf_is_one_line(tmp_path, capsys, load, machine, words):
    elf = _minimal_elf(tmp_path / "firmware.elf", load, machine)
    assert cli.main(["emulate", "--target", "qemu-m4", "--elf", str(elf)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_another_targets_build_is_named(tmp_path, capsys):
    elf = _minimal_elf(tmp_path / "firmware.elf", 0)
    elf.write_bytes(elf.read_bytes() + b"qemu-m7\x00")
    assert cli.main(["emulate", "--target", "qemu-m4", "--elf", str(elf)]) == 1
    assert "is a build for qemu-m7, not qemu-m4" in capsys.readouterr().err


def test_emulate_before_any_build_says_how_to_build(tmp_path, capsys, monkeypatch):
    if emulator.shutil.which(emulator.QEMU) is None:
        pytest.skip("needs qemu-system-arm")
    monkeypatch.setattr(targets.Target, "elf", lambda self, *a, **k: tmp_path / "none.elf")
    for argv in (["emulate"], ["stream", "--emulate", "qemu-m4", __file__, "o.wav"]):
        if argv[0] == "stream":
            src = tmp_path / "in.wav"
            sf.write(src, np.zeros(1600), 16000)
            argv = [*argv[:3], str(src), str(tmp_path / "o.wav")]
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert "hushkit build --target qemu-m4" in err and err.count("\n") == 1, err
    assert not os.path.exists(tmp_path / "o.wav")
