"""Small deterministic int8 .tflite models for the engine tests.

Each fixture is a Keras 3 functional model converted full-int8 (int8 inputs and outputs,
TFLITE_BUILTINS_INT8 only) with a seeded representative dataset. The recurrent fixtures have
the streaming model's interface: `features` [1, F] and `state_in` [1, H] in, `mask` [1, F]
(sigmoid) and `state_out` [1, H] out, with a GRU cell written out in Dense/sigmoid/tanh/
add/sub/mul as the real model's export does.

Converted models are cached in build/test_models/, keyed by a hash of the fixture settings and
the TensorFlow version, so TensorFlow only runs when a fixture changes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / "build" / "test_models"
N_CALIBRATION = 64  # representative samples: enough for stable ranges, converts in ~1 s

# name -> settings; the settings are the cache key and the builder's arguments.
FIXTURES: dict[str, dict] = {
    "gru_small": {"kind": "gru", "features": 17, "hidden": 8, "seed": 1},
    "gru_default": {"kind": "gru", "features": 129, "hidden": 64, "seed": 2},
    "gru_per_tensor": {"kind": "gru", "features": 33, "hidden": 16, "seed": 3, "per_tensor": True},
    "fc_relu": {"kind": "fc", "features": 37, "units": 23, "activation": "relu", "seed": 4},
    "fc_relu6_per_tensor": {
        "kind": "fc",
        "features": 20,
        "units": 11,
        "activation": "relu6",
        "seed": 5,
        "per_tensor": True,
    },
    "logistic": {"kind": "unary", "op": "sigmoid", "features": 64, "seed": 6},
    "tanh": {"kind": "unary", "op": "tanh", "features": 64, "seed": 7},
    "add": {"kind": "binary", "op": "add", "features": 48, "seed": 8},
    "sub": {"kind": "binary", "op": "sub", "features": 48, "seed": 9},
    "mul": {"kind": "binary", "op": "mul", "features": 48, "seed": 10},
    "concat": {"kind": "binary", "op": "concat", "features": 24, "seed": 11},
    "softmax": {"kind": "unary", "op": "softmax", "features": 16, "seed": 12},
}

# Fixtures the engine must reject, with the builtin operator it should name.
UNSUPPORTED = {"softmax": 25}


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


def _gru(keras, settings: dict):
    f, h = settings["features"], settings["hidden"]
    dense = keras.layers.Dense
    feat = keras.Input((f,), batch_size=1, name="features")
    state = keras.Input((h,), batch_size=1, name="state_in")
    x = dense(h, activation="tanh")(feat)
    xs = keras.layers.Concatenate()([x, state])
    r = dense(h, activation="sigmoid")(xs)
    z = dense(h, activation="sigmoid")(xs)
    n = keras.layers.Activation("tanh")(
        keras.layers.Add()([dense(h)(x), keras.layers.Multiply()([r, dense(h)(state)])])
    )
    new_state = keras.layers.Add()(
        [n, keras.layers.Multiply()([z, keras.layers.Subtract()([state, n])])]
    )
    mask = dense(f, activation="sigmoid")(new_state)
    model = keras.Model(
        {"features": feat, "state_in": state}, {"mask": mask, "state_out": new_state}
    )

    def sample(rng: np.random.Generator) -> dict:
        # Log-power-like features: a few units of spread around a per-bin offset.
        return {
            "features": (rng.normal(size=(1, f)) * 2.0 - 1.0).astype(np.float32),
            "state_in": rng.uniform(-1.0, 1.0, size=(1, h)).astype(np.float32),
        }

    return model, sample


def _fc(keras, settings: dict):
    f = settings["features"]
    inp = keras.Input((f,), batch_size=1, name="features")
    out = keras.layers.Dense(settings["units"], activation=settings["activation"])(inp)
    model = keras.Model(inp, out)
    return model, lambda rng: rng.normal(size=(1, f)).astype(np.float32) * 3.0


def _unary(keras, settings: dict):
    f = settings["features"]
    inp = keras.Input((f,), batch_size=1, name="features")
    out = keras.layers.Activation(settings["op"])(inp)
    model = keras.Model(inp, out)
    return model, lambda rng: rng.normal(size=(1, f)).astype(np.float32) * 4.0


def _binary(keras, settings: dict):
    f = settings["features"]
    a = keras.Input((f,), batch_size=1, name="a")
    b = keras.Input((f,), batch_size=1, name="b")
    layer = {
        "add": keras.layers.Add,
        "sub": keras.layers.Subtract,
        "mul": keras.layers.Multiply,
        "concat": keras.layers.Concatenate,
    }[settings["op"]]()
    model = keras.Model({"a": a, "b": b}, layer([a, b]))

    def sample(rng: np.random.Generator) -> dict:
        return {
            "a": rng.normal(size=(1, f)).astype(np.float32) * 2.0,
            "b": rng.uniform(-0.5, 1.5, size=(1, f)).astype(np.float32),
        }

    return model, sample


_BUILDERS: dict[str, Callable] = {"gru": _gru, "fc": _fc, "unary": _unary, "binary": _binary}


def _convert(settings: dict) -> bytes:
    _tf()  # quiets TensorFlow's start-up logging before keras imports it
    import keras

    keras.utils.set_random_seed(settings["seed"])
    model, sample = _BUILDERS[settings["kind"]](keras, settings)
    # Spread the weights so products use the whole int8 range, not only the init's small values.
    for w in model.weights:
        w.assign(w.numpy() * 1.5)
    rng = np.random.default_rng(settings["seed"])
    # A dict feeds inputs by name; a single-input model takes a list of its one array.
    calibration = [sample(rng) for _ in range(N_CALIBRATION)]
    calibration = [s if isinstance(s, dict) else [s] for s in calibration]

    return convert_int8(model, calibration, per_tensor=bool(settings.get("per_tensor")))


def convert_int8(model, calibration: list, per_tensor: bool = False) -> bytes:
    """Full-int8 conversion (int8 model input/output) of a Keras model, as hushkit's tests
    build their small models: `calibration` is the representative dataset's samples."""
    tf = _tf()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(calibration)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if per_tensor:
        conv._experimental_disable_per_channel = True
    return conv.convert()


def softmax_model() -> bytes:
    """A valid int8 model with an op the firmware engine does not implement (SOFTMAX)."""
    tf = _tf()
    inp = tf.keras.Input(shape=(8,), batch_size=1)
    model = tf.keras.Model(inp, tf.keras.layers.Softmax()(tf.keras.layers.Dense(4)(inp)))
    rng = np.random.default_rng(0)
    return convert_int8(model, [[rng.standard_normal((1, 8), np.float32)] for _ in range(8)])


def _cache_key(settings: dict) -> str:
    # The converter's version is part of the key; read from metadata so a cache hit needs no
    # TensorFlow import.
    try:
        tf_version = importlib.metadata.version("tensorflow-cpu")
    except importlib.metadata.PackageNotFoundError:
        tf_version = importlib.metadata.version("tensorflow")
    blob = json.dumps({"settings": settings, "tf": tf_version, "n": N_CALIBRATION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def model_bytes(name: str) -> bytes:
    """The converted fixture `name`, from the cache when present."""
    settings = FIXTURES[name]
    path = CACHE_DIR / f"{name}-{_cache_key(settings)}.tflite"
    if path.exists():
        return path.read_bytes()
    data = _convert(settings)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def c_header(name: str) -> str:
    """Fixture `name` as a C array, for the host C unit tests (tests/c/engine_fixture.h)."""
    data = model_bytes(name)
    digest = hashlib.sha256(data).hexdigest()
    rows = [
        "    " + " ".join(f"0x{b:02x}," for b in data[i : i + 12]) for i in range(0, len(data), 12)
    ]
    return "\n".join(
        [
            f"/* Generated by tests/tflite_fixtures.py (c_header {name!r}); do not edit.",
            f" * Input: fixture {name!r}, {len(data)} bytes, sha256 {digest}. */",
            "#ifndef ENGINE_FIXTURE_H",
            "#define ENGINE_FIXTURE_H",
            "#include <stdalign.h>",
            "#include <stdint.h>",
            f'#define ENGINE_FIXTURE_NAME "{name}"',
            "static alignas(16) const uint8_t engine_fixture[] = {",
            *rows,
            "};",
            "#endif",
            "",
        ]
    )


if __name__ == "__main__":
    import sys

    # python tests/tflite_fixtures.py c-header NAME > tests/c/engine_fixture.h
    if len(sys.argv) == 3 and sys.argv[1] == "c-header":
        sys.stdout.write(c_header(sys.argv[2]))
    else:
        sys.exit("usage: tflite_fixtures.py c-header NAME")
