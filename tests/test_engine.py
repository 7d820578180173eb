"""The firmware's int8 engine (host build) against the official TFLite Micro runtime.

Every fixture model runs a long stateful stream (state output fed back as the next state
input) through both; every output value of every hop must be identical.
"""

from __future__ import annotations

import numpy as np
import pytest
import tflite_fixtures as fx

from hushkit import corelib

tflm_runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

N_HOPS = 1000
E_MODEL, E_SCHEMA, E_OP, E_ARENA = 1, 2, 3, 5
SUPPORTED = [name for name in fx.FIXTURES if name not in fx.UNSUPPORTED]


@pytest.fixture(scope="module", autouse=True)
def _library():
    try:
        corelib.load_library()
    except corelib.CoreLibraryMissing as exc:
        pytest.skip(str(exc))


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def _stream_inputs(rng: np.random.Generator, n: int, hop: int) -> np.ndarray:
    """Realistic-ish int8 inputs: a slow per-value drift plus noise, with full-scale bursts."""
    base = np.sin(np.arange(n) * 0.37 + hop * 0.05) * 60.0
    x = base + rng.normal(0.0, 25.0, n)
    if hop % 97 == 0:
        x = rng.integers(-128, 128, n)  # occasional saturating frames
    return np.clip(np.rint(x), -128, 127).astype(np.int8)


@pytest.mark.parametrize("name", SUPPORTED)
def test_bit_exact_with_tflm(name: str) -> None:
    model = fx.model_bytes(name)
    engine = corelib.Engine(model)
    ref = tflm_runtime.Interpreter.from_bytes(model)
    state_in = engine.find_input("state_in")
    state_out = engine.find_output("state_out")
    rng = np.random.default_rng(sum(map(ord, name)))
    mismatches = 0
    compared = 0
    for hop in range(N_HOPS):
        for i, info in enumerate(engine.inputs):
            if i == state_in and hop > 0:
                values = engine.get_output(state_out)
            else:
                values = _stream_inputs(rng, info.num_elements, hop)
            engine.set_input(i, values)
            # Engine input i is subgraph input i, the same order TFLM uses.
            ref.set_input(values.reshape(ref.get_input_details(i)["shape"]), i)
        engine.invoke()
        ref.invoke()
        for i in range(len(engine.outputs)):
            ours = engine.get_output(i)
            theirs = np.asarray(ref.get_output(i)).reshape(-1)
            mismatches += int(np.count_nonzero(ours != theirs))
            compared += ours.size
    assert compared >= N_HOPS
    assert mismatches == 0, f"{mismatches} of {compared} values differ from TFLM"


def _activation_bytes(model: bytes) -> int:
    """Sum of the sizes of all tensors without constant data."""
    m = _schema().ModelT.InitFromPackedBuf(model, 0)
    item = {9: 1, 7: 2, 2: 4, 0: 4}
    total = 0
    for t in m.subgraphs[0].tensors:
        data = m.buffers[t.buffer].data
        if data is None or len(data) == 0:
            total += int(np.prod(t.shape)) * item[t.type]
    return total


@pytest.mark.parametrize("name", ["gru_default", "gru_small", "fc_relu"])
def test_arena_is_measured_and_enforced(name: str) -> None:
    model = fx.model_bytes(name)
    engine = corelib.Engine(model)
    planned = engine.arena_used - engine.arena_persistent
    assert engine.arena_used > 0
    assert 0 < planned <= _activation_bytes(model) + 8 * len(engine.inputs) + 64
    corelib.Engine(model, arena_size=engine.arena_used)  # the reported size is enough
    with pytest.raises(corelib.EngineError) as err:
        corelib.Engine(model, arena_size=engine.arena_used - 1)
    assert err.value.status == E_ARENA
    assert str(engine.arena_used) in str(err.value)


def test_gru_planner_reuses_memory() -> None:
    model = fx.model_bytes("gru_default")
    engine = corelib.Engine(model)
    assert engine.arena_used - engine.arena_persistent < _activation_bytes(model)


def test_io_found_by_name() -> None:
    engine = corelib.Engine(fx.model_bytes("gru_small"))
    # Input tensors carry the names; outputs only through the signature ("mask", "state_out").
    assert "features" in engine.inputs[engine.find_input("features")].name
    assert "state_in" in engine.inputs[engine.find_input("state_in")].name
    mask, state = engine.find_output("mask"), engine.find_output("state_out")
    assert {mask, state} == {0, 1}
    assert engine.outputs[mask].num_elements == fx.FIXTURES["gru_small"]["features"]
    assert engine.outputs[mask].zero_point == -128  # sigmoid output quantization
    assert engine.find_output("nonexistent") == -1


def test_truncated_and_corrupt_models_fail_cleanly() -> None:
    model = fx.model_bytes("gru_small")
    for n in range(0, len(model), 7):
        with pytest.raises(corelib.EngineError) as err:
            corelib.Engine(model[:n])
        assert err.value.status in (E_MODEL, E_SCHEMA)
    rng = np.random.default_rng(7)
    accepted = 0
    for _ in range(300):
        corrupt = bytearray(model)
        for pos in rng.integers(0, len(model), 4):
            corrupt[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            engine = corelib.Engine(bytes(corrupt))
        except corelib.EngineError as exc:
            assert exc.status != 0 and str(exc)
            continue
        engine.invoke()  # whatever passed validation must run
        accepted += 1
    assert accepted < 300


def test_wrong_schema_version() -> None:
    import flatbuffers

    schema = _schema()
    m = schema.ModelT.InitFromPackedBuf(fx.model_bytes("logistic"), 0)
    m.version = 2
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(corelib.EngineError) as err:
        corelib.Engine(bytes(builder.Output()))
    assert err.value.status == E_SCHEMA
    assert "schema" in str(err.value)


@pytest.mark.parametrize("name", sorted(fx.UNSUPPORTED))
def test_unsupported_op_is_named(name: str) -> None:
    with pytest.raises(corelib.EngineError) as err:
        corelib.Engine(fx.model_bytes(name))
    assert err.value.status == E_OP
    assert err.value.op == fx.UNSUPPORTED[name]
    assert name.upper() in str(err.value)
