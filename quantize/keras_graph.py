"""The one-hop Keras graph of any hushkit network, ready for int8 TFLite conversion.

`build(model)` runs the network's own one-hop step (`StreamNet.trace`) with `KerasOps`, which
turns each operation into one Keras layer, named after the module that issued it (PyTorch
`gru` -> Keras `gru_xr`, `gru_hr`, ...). There is one rule per operation, none per
architecture, and the converter emits only operators of `hushkit.quantize.opset`:
- dense: a Dense with the PyTorch bias kept (a bias-less MatMul would convert to
  FULLY_CONNECTED + RESHAPE); the feature normalisation is already folded into the first one;
- add/sub/mul, tanh/sigmoid, concat: the Keras layer of that name;
- state: a fixed-range fake-quant, so the converter puts the value on the state grid
  (hushkit.contract.STATE_GRID). `state_in` is calibrated from data; `hushkit.quantize.convert`
  then moves it onto the same grid so the firmware copies the state back without requantizing;
- select (one recurrent layer's part of a state shared by several): a Dense with a 0/1 matrix
  and the state grid on its output, which int8 computes exactly (q * 127 * (1/127) = q).

The weights are taken from a float64 copy of the network and rounded to float32 once.
"""

from __future__ import annotations

import copy

import numpy as np

from hushkit import contract

SELECT_BIAS = 1e-20  # far below half a step of any int32 bias grid: quantizes to exactly 0


class KerasOps:
    """Emit one Keras layer per operation; weights are set once the model exists."""

    fold_normalization = True

    def __init__(self):
        import keras
        import tensorflow as tf

        class FixedRange(keras.layers.Layer):
            """Fake-quant to a fixed range: the converter takes the int8 grid from it."""

            def call(self, x):
                return tf.quantization.fake_quant_with_min_max_args(
                    x, min=contract.STATE_MIN, max=contract.STATE_MAX, num_bits=8,
                    narrow_range=False,
                )

        self.L = keras.layers
        self._fixed_range = FixedRange
        self.weights: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _dense(self, name, x, kernel: np.ndarray, bias: np.ndarray):
        self.weights[name] = (kernel.astype(np.float32), bias.astype(np.float32))
        return self.L.Dense(kernel.shape[1], name=name)(x)

    def input(self, name, x):
        return x

    def dense(self, name, x, weight, bias):
        return self._dense(name, x, weight.detach().numpy().T, bias.detach().numpy())

    def add(self, name, a, b):
        return self.L.Add(name=name)([a, b])

    def sub(self, name, a, b):
        return self.L.Subtract(name=name)([a, b])

    def mul(self, name, a, b):
        return self.L.Multiply(name=name)([a, b])

    def activation(self, name, kind, x):
        return self.L.Activation(kind, name=name)(x)

    def state(self, name, x):
        return self._fixed_range(name=name)(x)

    def select(self, name, x, start, size):
        width = int(x.shape[-1])
        if start == 0 and size == width:
            return x
        kernel = np.zeros((width, size))
        kernel[np.arange(start, start + size), np.arange(size)] = 1.0
        # A zero bias would be folded away (a bias-less FULLY_CONNECTED the converter then
        # patches with RESHAPE + broadcast ADD); this one survives and rounds to int32 0.
        bias = np.full(size, SELECT_BIAS)
        return self.state(f"{name}_grid", self._dense(name, x, kernel, bias))

    def concat(self, name, xs):
        return self.L.Concatenate(name=name)(xs)


def build(model):
    """Keras model {features [1, n_in], state_in [1, S]} -> {mask, state_out} of `model`."""
    import keras
    import torch

    net = copy.deepcopy(model).double().eval()
    n_in = int(net.feat_mean.shape[0])
    features = keras.Input(shape=(n_in,), batch_size=1, name=contract.FEATURES)
    state_in = keras.Input(shape=(net.state_size,), batch_size=1, name=contract.STATE_IN)
    ops = KerasOps()
    with torch.no_grad():
        mask, state_out = net.trace(ops, features, state_in)
    graph = keras.Model(
        inputs={contract.FEATURES: features, contract.STATE_IN: state_in},
        outputs={contract.MASK: mask, contract.STATE_OUT: state_out},
        name=f"hushkit_{net.arch}_step",
    )
    for name, (w, b) in ops.weights.items():
        graph.get_layer(name).set_weights([w, b])
    return graph
