"""The per-hop I/O contract between the int8 model and everything that runs it.

One invocation of the model processes one hop: it reads the `features` tensor (the quantized
log-power spectrum of the newest frame) and `state_in` (the recurrent state the previous hop
wrote), and writes `mask` (one gain per frequency bin) and `state_out`. The firmware copies
`state_out` back to `state_in` byte for byte, so both share one int8 grid, fixed here.

Pure Python with no dependencies: the trainer, the quantizer, the exporter and the device
tools all read it.
"""

from __future__ import annotations

# I/O tensor names (the firmware finds each tensor whose name contains one), in the order the
# firmware's taps report them.
FEATURES = "features"
STATE_IN = "state_in"
MASK = "mask"
STATE_OUT = "state_out"
INPUTS = (FEATURES, STATE_IN)
OUTPUTS = (MASK, STATE_OUT)
IO_NAMES = (FEATURES, STATE_IN, MASK, STATE_OUT)

TAP_ORDER = IO_NAMES

INT8_MIN = -128
INT8_MAX = 127

# The features: ln(re^2 + im^2 + LOG_POWER_EPS) of each rfft bin of the windowed frame
# (n_fft / 2 + 1 bins, PCM scaled to [-1, 1)), quantized with the `features` tensor's grid:
# clamp(rint(x / scale) + zero_point, INT8_MIN, INT8_MAX). LOG_POWER_EPS is -100 dB re full
# scale, far below the 16-bit quantization floor, so silence maps to a finite feature.
LOG_POWER_EPS = 1e-10

# (scale, zero point) of the int8 grids TFLite fixes for activation outputs.
TANH_GRID = (1.0 / 128.0, 0)
SIGMOID_GRID = (1.0 / 256.0, -128)
# The recurrent state: [-1, 127/128] in 256 steps, scale exactly 1/128, zero point 0 (the
# tanh output grid). A GRU state is a convex mix of tanh outputs, so it never leaves (-1, 1).
STATE_GRID = (1.0 / 128.0, 0)
STATE_MIN = -1.0
STATE_MAX = 127.0 / 128.0
