"""`make demo`'s pipeline, end to end in its quick form: every stage runs and the report holds
what the firmware measured."""

from __future__ import annotations

import json
import shutil

import pytest

from hushkit import cli


@pytest.mark.slow
@pytest.mark.qemu
def test_quick_demo_writes_a_complete_report(tmp_path):
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    out = tmp_path / "demo"
    assert cli.main(["demo", "--quick", "--out", str(out), "--data", str(tmp_path / "data")]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["quality"]) == {"noisy", "float", "int8 host (TFLite Micro)", "firmware"}
    for scores in report["quality"].values():
        assert set(scores) == {"pesq", "stoi", "si_sdr"}
    fw = report["firmware"]
    assert fw["target"] == "qemu-m4" and fw["cost_units"] == "instructions"
    ipc = fw["instructions_per_hop"]
    assert 0 < ipc["min"] <= ipc["mean"] <= ipc["max"]
    assert fw["flash_bytes"] > 0 and fw["ram_bytes"] > 0 and fw["arena_bytes"] > 0
    assert report["bit_exact"]["hops"] > 100 and report["bit_exact"]["mismatches"] == 0
    assert report["latency_ms"]["algorithmic"] == 16.0
    for plot in report["plots"]:
        assert (out / plot.split("/")[-1]).stat().st_size > 0
    assert "bit-exact" in (out / "report.md").read_text()
