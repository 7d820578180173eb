"""A Keras functional copy of `MaskNet.step`: one hop, state in and out, ready for int8 TFLite.

The graph is written so the converter emits only operators of `hushkit.quantize.opset`:
- the feature normalisation is folded into the first Dense: W' = W / std (per input bin),
  b' = b - W' · mean, so no SUB/MUL runs on the features;
- the GRU has one Dense per gate and operand (input x, state h) instead of the fused
  3*hidden matrices, so no SPLIT or STRIDED_SLICE is needed; every Dense keeps its PyTorch
  bias (a bias-less MatMul would convert to FULLY_CONNECTED + RESHAPE);
- the new state passes through a fixed-range fake-quant, so `state_out` gets the int8 grid
  STATE_MIN..STATE_MAX (scale 1/128, zero point 0: the tanh output grid). The converter
  calibrates `state_in` from data; `hushkit.quantize.convert` then moves it onto the same grid
  so the firmware copies the state bytes back without requantizing.
"""

from __future__ import annotations

import numpy as np

# int8 state grid: [-1, 127/128] in 256 steps -> scale exactly 1/128, zero point 0. The GRU
# state is a convex mix of tanh outputs, so it never leaves (-1, 1).
STATE_MIN = -1.0
STATE_MAX = 127.0 / 128.0


def mirror_weights(model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-layer (kernel [in, out], bias) of the mirror, from a MaskNet, in float32."""
    sd = {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}
    hidden = model.args.hidden
    w_in, b_in = sd["fc_in.weight"], sd["fc_in.bias"]
    mean, std = sd["feat_mean"], sd["feat_std"]
    w_fold = w_in / std[None, :]
    b_fold = b_in - w_fold @ mean

    def gate(name: str, g: int) -> np.ndarray:
        return sd[name][g * hidden : (g + 1) * hidden]

    # PyTorch gate order in the fused matrices: 0 reset, 1 update, 2 new.
    wx = [gate("gru.weight_ih_l0", g).T for g in range(3)]
    wh = [gate("gru.weight_hh_l0", g).T for g in range(3)]
    bx = [gate("gru.bias_ih_l0", g) for g in range(3)]
    bh = [gate("gru.bias_hh_l0", g) for g in range(3)]
    layers = {
        "fc_in": (w_fold.T, b_fold),
        "gru_xr": (wx[0], bx[0]),
        "gru_hr": (wh[0], bh[0]),
        "gru_xz": (wx[1], bx[1]),
        "gru_hz": (wh[1], bh[1]),
        "gru_xn": (wx[2], bx[2]),
        "gru_hn": (wh[2], bh[2]),
        "fc_out": (sd["fc_out.weight"].T, sd["fc_out.bias"]),
    }
    return {k: (w.astype(np.float32), b.astype(np.float32)) for k, (w, b) in layers.items()}


def build(model):
    """Keras model {features [1, n_bins], state_in [1, H]} -> {mask, state_out}."""
    import keras
    import tensorflow as tf

    class FixedRange(keras.layers.Layer):
        """Fake-quant to a fixed range: the converter takes the int8 grid from it."""

        def call(self, x):
            return tf.quantization.fake_quant_with_min_max_args(
                x, min=STATE_MIN, max=STATE_MAX, num_bits=8, narrow_range=False
            )

    n_bins, hidden = model.args.dsp_config.n_bins, model.args.hidden
    weights = mirror_weights(model)
    L = keras.layers

    def dense(name: str, units: int):
        return L.Dense(units, name=name)

    features = keras.Input(shape=(n_bins,), batch_size=1, name="features")
    state_in = keras.Input(shape=(hidden,), batch_size=1, name="state_in")
    h = state_in
    x = L.Activation("tanh", name="fc_in_tanh")(dense("fc_in", hidden)(features))
    r = L.Activation("sigmoid", name="gru_r")(
        L.Add(name="gru_r_sum")([dense("gru_xr", hidden)(x), dense("gru_hr", hidden)(h)])
    )
    z = L.Activation("sigmoid", name="gru_z")(
        L.Add(name="gru_z_sum")([dense("gru_xz", hidden)(x), dense("gru_hz", hidden)(h)])
    )
    gated = L.Multiply(name="gru_rh")([r, dense("gru_hn", hidden)(h)])
    n = L.Activation("tanh", name="gru_n")(
        L.Add(name="gru_n_sum")([dense("gru_xn", hidden)(x), gated])
    )
    # h' = n + z * (h - n), the PyTorch update written with one SUB, MUL, ADD.
    keep = L.Multiply(name="gru_keep")([z, L.Subtract(name="gru_h_minus_n")([h, n])])
    state_out = FixedRange(name="state_out")(L.Add(name="gru_h_new")([n, keep]))
    mask = L.Activation("sigmoid", name="mask")(dense("fc_out", n_bins)(state_out))
    mirror = keras.Model(
        inputs={"features": features, "state_in": state_in},
        outputs={"mask": mask, "state_out": state_out},
        name="hushkit_masknet_step",
    )
    for name, (w, b) in weights.items():
        mirror.get_layer(name).set_weights([w, b])
    return mirror
