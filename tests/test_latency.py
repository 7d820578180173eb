"""`hushkit latency`: the correlation estimator, and on QEMU measured delay == configured delay.

The emulator cases run the whole measurement for the default DSP configuration (256 / 128)
and the low-latency one (128 / 64, with the suite's own untrained low-latency model, since no
low-latency model ships yet), with the model bypassed and running, over PROCESS (the
pipeline's delay, n_fft - hop) and through the virtual codec's real-time path (+ 2 hops).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import TEST_BUILD_ROOT, make_test_model

from hushkit import latency
from hushkit.latency_signal import estimate_delay, mls, padded_signal


def test_correlation_finds_an_integer_delay_exactly():
    x = padded_signal(mls(10), 300, 64)
    for delay in (0, 1, 37, 255):
        y = np.roll(x, delay) * 0.5
        est = estimate_delay(x, y, 280)
        assert est.samples == delay and est.subsample == pytest.approx(delay, abs=1e-9)
        assert est.confidence == pytest.approx(1.0, abs=1e-9)


def test_sub_sample_estimate_and_confidence_under_noise():
    from scipy.signal import resample

    rng = np.random.default_rng(0)
    x = padded_signal(mls(11), 400, 64)
    up = resample(x, 8 * x.size)  # delay by 20.25 samples: 162 samples at 8x
    y = resample(np.roll(up, 162), x.size) + 0.05 * rng.standard_normal(x.size)
    est = estimate_delay(x, y, 300)
    assert est.samples == 20 and est.subsample == pytest.approx(20.25, abs=0.15)
    assert 0.3 < est.confidence < 0.99
    unrelated = estimate_delay(x, rng.standard_normal(x.size), 300)
    assert unrelated.confidence < 0.2


def test_clock_comes_from_the_target_table_or_the_option():
    assert latency.board_clock_mhz("qemu-m4", None) == 25.0
    assert latency.board_clock_mhz("anything", 96.0) == 96.0
    with pytest.raises(latency.LatencyError, match="--clock-mhz"):
        latency.board_clock_mhz("unknown-board", None)


needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="needs qemu-system-arm and arm-none-eabi-gcc",
)


@pytest.fixture(scope="module")
def lowlatency_elf(tmp_path_factory):
    from hushkit import firmware_build

    if shutil.which(firmware_build.TOOLCHAIN_CC) is None:
        pytest.skip("needs arm-none-eabi-gcc")
    _tflite, export_dir = make_test_model(tmp_path_factory.mktemp("ll") / "m", "lowlatency")
    root = TEST_BUILD_ROOT.with_name("test-firmware-lowlatency")
    return firmware_build.build("qemu-m4", model_dir=export_dir, build_root=root).elf


def _measure(elf):
    from hushkit.ops import connect

    with connect(None, emulate="qemu-m4", elf=elf, timeout=30.0) as client:
        report = latency.measure(client, rtt_requests=20)
    report.pop("_estimates")
    return report


def _check_delays(report, n_fft, hop):
    assert (report["n_fft"], report["hop"]) == (n_fft, hop)
    assert report["path"] == "realtime"
    for mode in ("bypass", "model"):
        assert report["process"][mode]["samples"] == n_fft - hop
        assert report["realtime"][mode]["samples"] == n_fft + hop
    assert report["process"]["configured_delay_samples"] == n_fft - hop
    assert report["configured_delay_samples"] == n_fft + hop
    assert report["measured_delay_samples"] == report["configured_delay_samples"]
    assert report["measured_delay_bypass_samples"] == report["configured_delay_samples"]
    assert report["realtime"]["bypass"]["confidence"] > 0.999
    assert report["realtime"]["deadline_misses"] == 0
    compute = report["compute"]
    assert compute["units"] == "instructions" and 0 < compute["min"] <= compute["max"]
    assert report["link"]["requests"] == 20 and report["link"]["p50"] > 0


@needs_qemu
@pytest.mark.slow
@pytest.mark.qemu
def test_emulated_delay_equals_configured_default(firmware_elf):
    _check_delays(_measure(firmware_elf("qemu-m4")), 256, 128)


@needs_qemu
@pytest.mark.slow
@pytest.mark.qemu
def test_emulated_delay_equals_configured_lowlatency(lowlatency_elf):
    _check_delays(_measure(lowlatency_elf), 128, 64)


@needs_qemu
@pytest.mark.slow
@pytest.mark.qemu
def test_latency_command_writes_json_and_plot(firmware_elf, tmp_path, capsys):
    from hushkit.cli import main

    out_json, out_png = tmp_path / "lat.json", tmp_path / "lat.png"
    argv = ["latency", "--emulate", "qemu-m4", "--elf", str(firmware_elf("qemu-m4")),
            "--requests", "10", "--json", str(out_json), "--plot", str(out_png)]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(out_json.read_text())
    for key in ("measured_delay_samples", "configured_delay_samples", "sample_rate",
                "measured_delay_subsample", "confidence", "compute", "link", "realtime"):
        assert key in report
    assert report["measured_delay_samples"] == report["configured_delay_samples"] == 384
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "deadline misses" in capsys.readouterr().out
    assert latency.bench_row(report).startswith("| qemu-m4 | 25 MHz | 384 / 384, 384")
