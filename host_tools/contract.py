"""The per-hop I/O contract between the int8 model and everything that runs it.

One invocation of the model processes one hop: it reads the `features` tensor (the quantized
log-power spectrum of the newest frame) and `state_in` (the recurrent state the previous hop
wrote), and writes `mask` (one gain per frequency bin) and `state_out`. The firmware copies
`state_out` back to `state_in` byte for byte, so both share one int8 grid, fixed here.

Pure Python with no dependencies: the trainer, the quantizer, the exporter and the device
tools all read it.
"""

from __future__ import annotations

# I/O tensor names, in the order the firmware's taps report them.
FEATURES = "features"
STATE_IN = "state_in"
MASK = "mask"
STATE_OUT = "state_out"
INPUTS = (FEATURES, STATE_IN)
OUTPUTS = (MASK, STATE_OUT)
IO_NAMES = (FEATURES, STATE_IN, MASK, STATE_OUT)

INT8_MIN = -128
INT8_MAX = 127

# (scale, zero point) of the int8 grids TFLite fixes for activation outputs.
TANH_GRID = (1.0 / 128.0, 0)
SIGMOID_GRID = (1.0 / 256.0, -128)
# The recurrent state: [-1, 127/128] in 256 steps, scale exactly 1/128, zero point 0 (the
# tanh output grid). A GRU state is a convex mix of tanh outputs, so it never leaves (-1, 1).
STATE_GRID = (1.0 / 128.0, 0)
STATE_MIN = -1.0
STATE_MAX = 127.0 / 128.0
