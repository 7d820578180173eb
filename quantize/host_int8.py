"""Run the int8 model on the host, hop by hop, exactly as the firmware streams it.

Per hop (the shared pipeline contract; numpy float32 here, so equal to the C pipeline up to
FFT and log rounding): shift the n_fft analysis buffer by one hop, window, rfft, features
ln(P + 1e-10) quantized with the `features` tensor's scale and zero point (and, for a model
with the floor feature, each bin's height above its running floor after them), one invocation,
`state_out` bytes copied to `state_in`, mask dequantized, applied to the spectrum, inverse
FFT, synthesis window, overlap-add. The streamed output lags the input by
`dsp.output_delay` samples; `enhance()` removes that lag so output and input line up.

The interpreter is TFLite Micro's (`tflite_micro` package, the reference for what runs on a
microcontroller) or LiteRT's (`ai_edge_litert`, the desktop kernels).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hushkit import contract
from hushkit.quantize import tflite_model
from hushkit.training import dsp

RUNTIMES = ("tflm", "litert")


@dataclasses.dataclass(frozen=True)
class QuantParams:
    scale: float
    zero_point: int

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """float32 division, round half to even, clamp: the contract's step 4."""
        q = np.rint(np.asarray(x, np.float32) / np.float32(self.scale)) + self.zero_point
        return np.clip(q, contract.INT8_MIN, contract.INT8_MAX).astype(np.int8)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (q.astype(np.float32) - np.float32(self.zero_point)) * np.float32(self.scale)


class Int8Model:
    """One .tflite model, one interpreter; `invoke` runs a hop on int8 tensors."""

    def __init__(self, data: bytes, runtime: str = "tflm"):
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
        self.data = bytes(data)
        self.info = tflite_model.describe(self.data)
        meta = self.info.metadata.get("hushkit")
        if meta is None:
            raise ValueError("model has no 'hushkit' metadata: make it with `hushkit quantize`")
        self.metadata = json.loads(meta)
        self.dsp = dsp.get(self.metadata["dsp"])
        self.params = {}
        for word in contract.IO_NAMES:
            t = self.info.io_tensor(word)
            if t.dtype != "INT8":
                raise ValueError(f"{word} is {t.dtype}, expected INT8")
            self.params[word] = QuantParams(t.scale, t.zero_point)
        # Position of each I/O tensor in the graph's input/output lists (how both runtimes
        # address them).
        self._in = {
            w: self.info.inputs.index(self.info.io_tensor(w).index)
            for w in contract.INPUTS
        }
        self._out = {
            w: self.info.outputs.index(self.info.io_tensor(w).index) for w in contract.OUTPUTS
        }
        self.state_size = self.info.io_tensor("state_in").shape[-1]
        # n_bins log powers, or twice that with the floor feature (contract.py)
        self.n_features = self.info.io_tensor("features").shape[-1]
        if self.n_features not in (self.dsp.n_bins, 2 * self.dsp.n_bins):
            raise ValueError(
                f"features has {self.n_features} values; DSP {self.dsp.name!r} needs "
                f"{self.dsp.n_bins} (log power) or {2 * self.dsp.n_bins} (with the floor feature)"
            )
        self.floor_feature = self.n_features == 2 * self.dsp.n_bins
        self.runtime = runtime
        if runtime == "tflm":
            from tflite_micro import runtime as tflm

            self._tflm = tflm.Interpreter.from_bytes(self.data)
        else:
            from ai_edge_litert.interpreter import Interpreter

            self._litert = Interpreter(model_content=self.data, num_threads=1)
            self._litert.allocate_tensors()
            self._in_idx = [d["index"] for d in self._litert.get_input_details()]
            self._out_idx = [d["index"] for d in self._litert.get_output_details()]

    def feature_front_end(self) -> FeatureFrontEnd:
        """A fresh per-stream feature computer for this model (as after a reset)."""
        return FeatureFrontEnd(self)

    def initial_state(self) -> np.ndarray:
        """int8 state that dequantizes to 0, as after a reset."""
        return self.params["state_in"].quantize(np.zeros((1, self.state_size), np.float32))

    def invoke(self, features_q: np.ndarray, state_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """int8 [1, n_features], int8 [1, H] -> int8 mask [1, n_bins], int8 new state [1, H]."""
        f = np.ascontiguousarray(features_q, np.int8).reshape(1, -1)
        s = np.ascontiguousarray(state_q, np.int8).reshape(1, -1)
        if self.runtime == "tflm":
            self._tflm.set_input(f, self._in["features"])
            self._tflm.set_input(s, self._in["state_in"])
            self._tflm.invoke()
            return (
                np.array(self._tflm.get_output(self._out["mask"]), np.int8),
                np.array(self._tflm.get_output(self._out["state_out"]), np.int8),
            )
        self._litert.set_tensor(self._in_idx[self._in["features"]], f)
        self._litert.set_tensor(self._in_idx[self._in["state_in"]], s)
        self._litert.invoke()
        return (
            self._litert.get_tensor(self._out_idx[self._out["mask"]]).copy(),
            self._litert.get_tensor(self._out_idx[self._out["state_out"]]).copy(),
        )


class FloorTracker:
    """The floor feature's running floor per bin, in the contract's integer arithmetic."""

    def __init__(self, hop: int, zero_point: int):
        self.fall, self.rise = contract.floor_shifts(hop)
        self.zero_point = zero_point
        self.floor: np.ndarray | None = None

    def heights(self, q: np.ndarray) -> np.ndarray:
        """int8 quantized log powers of one hop -> int8 heights above the floor."""
        frac = contract.FLOOR_FRAC_BITS
        v = q.astype(np.int32) - np.int32(self.zero_point)
        target = v << frac
        if self.floor is None:
            self.floor = target.copy()
        else:
            d = target - self.floor
            self.floor += np.where(d < 0, d >> self.fall, d >> self.rise)
        height = v - ((self.floor + (1 << (frac - 1))) >> frac) + self.zero_point
        return np.clip(height, contract.INT8_MIN, contract.INT8_MAX).astype(np.int8)


class FeatureFrontEnd:
    """One stream's int8 features, hop by hop: the quantized log power and, for a model with
    the floor feature, the heights above the running floor after it (contract.py)."""

    def __init__(self, model: Int8Model):
        self.params = model.params["features"]
        self.floor = (
            FloorTracker(model.dsp.hop, self.params.zero_point) if model.floor_feature else None
        )

    def __call__(self, frame_spectrum: np.ndarray) -> np.ndarray:
        """int8 [1, n_features] for one frame's rfft."""
        q = self.params.quantize(log_power_features(frame_spectrum))
        if self.floor is not None:
            q = np.concatenate([q, self.floor.heights(q)])
        return q[None]


@dataclasses.dataclass
class HopDump:
    """Every hop's int8 tensors, [hops, width] each."""

    features: np.ndarray
    state_in: np.ndarray
    mask: np.ndarray
    state_out: np.ndarray


def log_power_features(frame_spectrum: np.ndarray) -> np.ndarray:
    """ln(re^2 + im^2 + 1e-10) in float32 (contract steps 2-3)."""
    re = frame_spectrum.real.astype(np.float32)
    im = frame_spectrum.imag.astype(np.float32)
    return np.log(re * re + im * im + np.float32(contract.LOG_POWER_EPS)).astype(np.float32)


def stream(
    model: Int8Model, audio: np.ndarray, floor_gain: float = 0.0
) -> tuple[np.ndarray, HopDump]:
    """Stream float audio hop by hop; returns (output lagging by output_delay, per-hop dump).

    Only whole hops are processed: len(output) = (len(audio) // hop) * hop.
    """
    cfg = model.dsp
    n_fft, hop = cfg.n_fft, cfg.hop
    window = cfg.window()
    x = np.asarray(audio, np.float32)
    n_hops = len(x) // hop
    buf = np.zeros(n_fft, np.float32)
    carry = np.zeros(hop, np.float32)
    state = model.initial_state()
    out = np.zeros(n_hops * hop, np.float32)
    dump = HopDump(
        features=np.zeros((n_hops, model.n_features), np.int8),
        state_in=np.zeros((n_hops, model.state_size), np.int8),
        mask=np.zeros((n_hops, cfg.n_bins), np.int8),
        state_out=np.zeros((n_hops, model.state_size), np.int8),
    )
    pm = model.params["mask"]
    features = model.feature_front_end()
    for t in range(n_hops):
        buf[:-hop] = buf[hop:]
        buf[-hop:] = x[t * hop : (t + 1) * hop]
        spec = np.fft.rfft(buf * window).astype(np.complex64)
        fq = features(spec)
        dump.features[t], dump.state_in[t] = fq[0], state[0]
        mask_q, state = model.invoke(fq, state)
        dump.mask[t], dump.state_out[t] = mask_q[0], state[0]
        gain = np.maximum(pm.dequantize(mask_q[0]), np.float32(floor_gain))
        y = np.fft.irfft(spec * gain, n_fft).astype(np.float32) * window
        out[t * hop : (t + 1) * hop] = y[:hop] + carry
        carry = y[hop:].copy()  # hop = n_fft / 2 (dsp.DSPConfig), so one frame's tail
    return out, dump


def enhance(model: Int8Model, audio: np.ndarray) -> np.ndarray:
    """Time-aligned, same length: pad so the last sample's OLA tail comes out, drop the lag."""
    cfg = model.dsp
    x = np.asarray(audio, np.float32)
    pad = cfg.output_delay + (-len(x)) % cfg.hop
    y, _ = stream(model, np.concatenate([x, np.zeros(pad, np.float32)]))
    return y[cfg.output_delay : cfg.output_delay + len(x)]


class Int8Streamer:
    """The int8 model hop by hop over consecutive blocks, every state carried across calls;
    equals `enhance` on the whole clip (the streaming enhancer of `hushkit enhance`)."""

    def __init__(self, model) -> None:
        self.model = model
        self.cfg = cfg = model.dsp
        self.window = cfg.window().astype(np.float32)
        self.buf = np.zeros(cfg.n_fft, np.float32)
        self.carry = np.zeros(cfg.hop, np.float32)  # hop = n_fft / 2: one frame's tail
        self.state = model.initial_state()
        self.features = model.feature_front_end()

    def process(self, x: np.ndarray) -> np.ndarray:
        cfg, hop = self.cfg, self.cfg.hop
        pm = self.model.params["mask"]
        out = np.zeros(len(x), np.float32)
        for t in range(len(x) // hop):
            self.buf[:-hop] = self.buf[hop:]
            self.buf[-hop:] = x[t * hop : (t + 1) * hop]
            spec = np.fft.rfft(self.buf * self.window).astype(np.complex64)
            mask_q, self.state = self.model.invoke(self.features(spec), self.state)
            gain = np.clip(pm.dequantize(mask_q[0]), 0.0, 1.0)  # a mask never amplifies
            y = np.fft.irfft(spec * gain, cfg.n_fft).astype(np.float32) * self.window
            out[t * hop : (t + 1) * hop] = y[:hop] + self.carry
            self.carry = y[hop:].copy()
        return out

    def report(self, name: str) -> None:
        pass


def load_int8_enhancer(
    path: str | Path, runtime: str = "tflm"
) -> Callable[[np.ndarray], np.ndarray]:
    """float32 16 kHz audio -> enhanced audio of the same length, time-aligned.

    A fresh interpreter per call would re-plan the arena; one interpreter serves every call,
    starting each from the reset state.
    """
    model = Int8Model(Path(path).read_bytes(), runtime)
    return lambda audio: enhance(model, audio)
