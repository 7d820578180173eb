"""The per-hop I/O contract: one Python definition, its generated C header, and its users."""

from __future__ import annotations

import re

from hushkit import client, codegen, contract, corelib


def test_contract_header_matches_the_definition():
    committed = codegen.CONTRACT_HEADER_PATH.read_text()
    assert committed == codegen.render_contract(), (
        "firmware/core/include/hush_contract.h is stale: run `python -m hushkit.codegen`"
    )
    assert codegen.main(["--check"]) == 0


def test_header_values_are_the_python_values():
    text = codegen.render_contract()
    macros = dict(re.findall(r"#define (HUSH_\w+) (\S+)", text))
    for name in contract.IO_NAMES:
        assert macros[f"HUSH_TENSOR_{name.upper()}"] == f'"{name}"'
    assert float(macros["HUSH_LOG_POWER_EPS"].rstrip("f")) == contract.LOG_POWER_EPS
    assert float(macros["HUSH_STATE_SCALE"].rstrip("f")) == contract.STATE_GRID[0]
    taps = re.findall(r"HUSH_TAP_(\w+) = 0x(\w+),", text)
    assert [(n.lower(), int(v, 16)) for n, v in taps] == [
        (n, i) for i, n in enumerate(contract.TAP_ORDER)
    ]


def test_every_user_reads_the_contract():
    from hushkit.training import dsp

    assert dsp.LOG_POWER_EPS is contract.LOG_POWER_EPS
    assert client.TAP_NAMES is contract.TAP_ORDER
    assert corelib.Pipeline.TAP_NAMES is contract.TAP_ORDER
    # the state grid is the one the int8 model's state lives on: 256 steps over [-1, 1)
    scale, zero_point = contract.STATE_GRID
    assert (contract.STATE_MAX - contract.STATE_MIN) / scale == 255 and zero_point == 0
    pipeline_c = (codegen.REPO_ROOT / "firmware" / "core" / "src" / "hush_pipeline.c").read_text()
    # no tensor name, epsilon or int8 type code restated there
    assert not re.search(r'"(features|state_in|mask|state_out)"', pipeline_c)
    assert "1e-10f" not in pipeline_c and not re.search(r"\b9\b", pipeline_c)
