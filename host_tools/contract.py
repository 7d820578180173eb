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

# The floor feature. A model whose `features` tensor holds 2 * n_bins values reads, after the
# n_bins quantized log powers q[k], each bin's height above a running noise floor, on the same
# grid. With v = q[k] - zero_point, the floor F (int32, v in units of 2**-FLOOR_FRAC_BITS)
# starts at v << FLOOR_FRAC_BITS on the first hop after a reset; on each later hop
#     d = (v << FLOOR_FRAC_BITS) - F;   F += d >> (fall if d < 0 else rise)
# (arithmetic shifts), and the height is clamp(v - ((F + 2**(FLOOR_FRAC_BITS - 1)) >>
# FLOOR_FRAC_BITS) + zero_point, INT8_MIN, INT8_MAX). So the floor falls quickly into speech
# pauses and rises slowly through speech: time constants of about 64 ms and 1 s at 16 kHz.
# (fall, rise) are FLOOR_SHIFTS at a hop of FLOOR_SHIFTS_HOP samples, one more for each
# halving of the hop (`floor_shifts`).
FLOOR_FRAC_BITS = 8
FLOOR_SHIFTS_HOP = 128
FLOOR_SHIFTS = (3, 7)


def floor_shifts(hop: int) -> tuple[int, int]:
    """(fall, rise) of the floor feature for a hop of `hop` samples (a power of two)."""
    if hop <= 0 or hop & (hop - 1):
        raise ValueError(f"hop {hop}: the floor feature needs a power-of-two hop")
    extra = FLOOR_SHIFTS_HOP.bit_length() - hop.bit_length()
    fall, rise = FLOOR_SHIFTS[0] + extra, FLOOR_SHIFTS[1] + extra
    if fall < 1:
        raise ValueError(f"hop {hop}: too long for the floor feature")
    return fall, rise


# (scale, zero point) of the int8 grids TFLite fixes for activation outputs.
TANH_GRID = (1.0 / 128.0, 0)
SIGMOID_GRID = (1.0 / 256.0, -128)
# The recurrent state: [-1, 127/128] in 256 steps, scale exactly 1/128, zero point 0 (the
# tanh output grid). A GRU state is a convex mix of tanh outputs, so it never leaves (-1, 1).
STATE_GRID = (1.0 / 128.0, 0)
STATE_MIN = -1.0
STATE_MAX = 127.0 / 128.0
