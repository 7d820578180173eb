"""Audio files in and out, checked up front and read in bounded memory.

Every command that reads or writes audio (`enhance`, `stream`, `eval`, `data`, `quantize`
calibration, the baselines) goes through here, so the same mistakes get the same one-line
answer before any work starts, and every sample-rate change is the same filter:

    src = AudioSource.open(path, channel)           # missing, empty, not audio, bad channel
    out = check_output(out_path, [path], force)     # missing folder, == input, exists
    for block in src.blocks(rate=16000):            # float32 mono, resampled in chunks
        ...
    with AtomicWriter(out, rate) as w: w.write(y)   # the old file stays until success
    data, rate = decode(path)                       # a whole file, (frames, channels)
    y = resample(x, 44100, 16000)                   # the one resampler

Samples that are not finite (NaN, Inf: float WAVs can hold them) are replaced by silence and
samples beyond full scale are clipped to +-1, with a warning that says how many: a model fed a
NaN would otherwise write full-scale noise to a headphone. A WAV whose header claims more data
than the file holds is read as far as it goes, with a warning.
"""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hushkit.errors import InputError, UsageError

# Frames per block read from a file: 1 s at 48 kHz keeps memory small and numpy efficient.
BLOCK_FRAMES = 48000
# Extra input samples (beyond the resampling filter's half length) read on each side of a
# chunk, so chunked resampling equals resampling the whole file.
RESAMPLE_MARGIN = 8
# scipy.signal.resample_poly's default filter spans 10 * max(up, down) upsampled samples
# on each side of its centre.
RESAMPLE_HALF_TAPS = 10
# More than this fraction of samples at full scale and the input is reported as clipped.
CLIPPED_FRACTION = 1e-3
FULL_SCALE = 1.0 - 1.0 / 32768


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def check_input(path: str | Path, what: str = "input") -> Path:
    """`path` as an existing, non-empty regular file, else an InputError naming the problem."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} {path} does not exist")
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} {path} is empty")
    return path


def check_output(path: str | Path, inputs: list[str | Path], force: bool = False) -> Path:
    """Refuse an output that would destroy an input, overwrite silently, or cannot be made."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"output {path} is a directory: give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder {parent} does not exist: create it first")
    for src in inputs:
        if Path(src).exists() and path.exists() and os.path.samefile(src, path):
            raise UsageError(f"output {path} is the input file: choose another output name")
        if Path(src).resolve() == path.resolve():
            raise UsageError(f"output {path} is the input file: choose another output name")
    if path.exists() and not force:
        raise UsageError(f"output {path} already exists: pass --force to overwrite it")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"output folder {parent} is not writable")
    return path


def wav_data_shortfall(path: Path) -> int:
    """Bytes the WAV header's data chunk claims beyond the end of the file (0 if none/not WAV)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_len = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                if chunk_len in (0, 0xFFFFFFFF):  # streamed WAVs leave the size unset
                    return 0
                return max(0, pos + 8 + chunk_len - size)
            pos += 8 + chunk_len + (chunk_len & 1)
    return 0


class Sanitizer:
    """Counts and repairs samples a model must never see; reports once at the end."""

    def __init__(self) -> None:
        self.samples = 0
        self.non_finite = 0
        self.over_range = 0
        self.full_scale = 0
        self.nonzero = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        bad = ~np.isfinite(x)
        n_bad = int(bad.sum())
        if n_bad:
            x = np.where(bad, np.float32(0.0), x)
        big = np.abs(x) > 1.0
        n_big = int(big.sum())
        if n_big:
            x = np.clip(x, -1.0, 1.0)
        self.samples += x.size
        self.non_finite += n_bad
        self.over_range += n_big
        self.full_scale += int((np.abs(x) >= FULL_SCALE).sum())
        self.nonzero += int(np.count_nonzero(x))
        return x

    def report(self, name: str) -> None:
        """Warn about what was repaired; refuse input with no usable sample at all."""
        if self.samples and self.non_finite == self.samples:
            raise InputError(f"{name} holds no finite sample (all NaN/Inf)")
        if self.non_finite:
            warn(f"{name}: {self.non_finite} non-finite samples (NaN/Inf) replaced by silence")
        if self.over_range:
            warn(f"{name}: {self.over_range} samples beyond full scale clipped to +-1")
        elif self.samples and self.full_scale > CLIPPED_FRACTION * self.samples:
            warn(f"{name}: {self.full_scale} samples at full scale: the input looks clipped")
        if self.samples and not self.nonzero:
            warn(f"{name} is silent (every sample is zero)")


def decode(path: str | Path, dtype: str = "float32") -> tuple[np.ndarray, int]:
    """Every sample of `path` as a (frames, channels) array of `dtype`, and its sample rate.

    For whole files (training material, test sets, calibration clips); a file of any length
    streams through `AudioSource`. libsndfile reads WAV/FLAC/OGG; other formats are converted
    with sox first, where it is installed. An InputError naming the file when neither can.
    """
    import soundfile as sf

    path = check_input(path)
    try:
        data, rate = sf.read(str(path), dtype=dtype, always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "converted.wav"
            try:
                subprocess.run(["sox", str(path), str(wav)], check=True, capture_output=True)
                data, rate = sf.read(str(wav), dtype=dtype, always_2d=True)
            except (OSError, subprocess.CalledProcessError, sf.LibsndfileError) as sox_exc:
                raise InputError(f"{path}: cannot read audio ({exc}; sox: {sox_exc})") from None
    return data, int(rate)


def resample(x: np.ndarray, rate_in: int, rate_out: int, dtype=np.float32) -> np.ndarray:
    """1-D `x` from `rate_in` to `rate_out` Hz: the one sample-rate change in hushkit.

    scipy's `resample_poly` by the reduced ratio: a linear-phase polyphase filter, so the
    output is not delayed. Always a new array, of `dtype` (None: the dtype scipy gives).
    """
    if rate_in == rate_out:
        y = np.array(x)
    else:
        try:
            from scipy.signal import resample_poly
        except ImportError:
            raise InputError(
                f"the audio is {rate_in} Hz and {rate_out} Hz is needed: install scipy to "
                "resample (pip install scipy) or convert the file first"
            ) from None
        g = math.gcd(rate_in, rate_out)
        y = resample_poly(x, rate_out // g, rate_in // g)
    return y if dtype is None else y.astype(dtype)


class AudioSource:
    """One channel of an audio file, read block by block (never the whole file at once)."""

    def __init__(self, path: Path, handle, channel: int):
        self.path = path
        self.file = handle
        self.channel = channel
        self.rate = int(handle.samplerate)
        self.frames = int(handle.frames)
        self.sanitizer = Sanitizer()

    @classmethod
    def open(cls, path: str | Path, channel: int | None = None) -> AudioSource:
        import soundfile as sf

        path = check_input(path)
        try:
            handle = sf.SoundFile(str(path))
        except (RuntimeError, sf.LibsndfileError) as exc:
            detail = str(exc).split(":")[-1].strip() or "unknown format"
            raise InputError(f"cannot read {path}: not an audio file soundfile knows "
                             f"({detail})") from None
        n_channels = handle.channels
        if channel is None:
            if n_channels != 1:
                handle.close()
                raise InputError(f"{path} has {n_channels} channels: choose one with "
                                 f"--channel 0..{n_channels - 1}")
            channel = 0
        if not 0 <= channel < n_channels:
            handle.close()
            raise InputError(f"{path} has no channel {channel} (it has {n_channels}: "
                             f"--channel 0..{n_channels - 1})")
        if handle.frames <= 0:
            handle.close()
            raise InputError(f"{path} holds no samples")
        if path.suffix.lower() == ".wav" or handle.format == "WAV":
            short = wav_data_shortfall(path)
            if short:
                warn(f"{path}: the header claims {short} more bytes of audio than the file "
                     "holds (truncated file?); reading what is there")
        return cls(path, handle, channel)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def read(self, start: int, count: int) -> np.ndarray:
        """Sanitised float32 samples [start, start + count), zeros outside the file."""
        out = np.zeros(count, np.float32)
        lo, hi = max(start, 0), min(start + count, self.frames)
        if hi > lo:
            self.file.seek(lo)
            data = self.file.read(hi - lo, dtype="float32", always_2d=True)[:, self.channel]
            out[lo - start : lo - start + len(data)] = data
        return out

    def blocks(self, rate: int | None = None, block: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """The channel as float32 blocks at `rate` Hz (default: the file's), sanitised."""
        rate = rate or self.rate
        for x in resampled_blocks(self.read, self.frames, self.rate, rate, block):
            yield self.sanitizer(x)


def resampled_blocks(read, frames: int, rate_in: int, rate_out: int,
                     block: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """`read(start, count)` resampled to `rate_out` in chunks, equal to resampling it whole.

    Chunks start at multiples of the decimation factor and read enough context on each side
    to cover the polyphase filter, so every output sample sees the same input samples as
    `resample` of the whole signal.
    """
    if rate_in == rate_out:
        for start in range(0, frames, block):
            yield read(start, min(block, frames - start))
        return
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    reach = RESAMPLE_HALF_TAPS * max(up, down) // up + RESAMPLE_MARGIN  # input samples
    context = -(-reach // down) * down
    step = max(1, block // down) * down
    total_out = -(-frames * up // down)
    for start in range(0, frames, step):
        stop = min(start + step, frames)
        seg = read(start - context, stop - start + 2 * context).astype(np.float64)
        y = resample(seg, rate_in, rate_out, dtype=None)
        first = context * up // down
        # whole chunks map to exactly (stop - start) * up / down samples; the last one to
        # what resample_poly gives the whole file (ceil(frames * up / down)) minus the rest
        if stop == frames:
            count = total_out - start * up // down
        else:
            count = (stop - start) * up // down
        yield y[first : first + count].astype(np.float32)


class AtomicWriter:
    """A 16-bit mono file written under a temporary name, renamed into place on success.

    A failure (or Ctrl-C) half-way leaves any existing file at `path` untouched. The final
    guard replaces anything non-finite by silence and clips to full scale.
    """

    def __init__(self, path: Path, rate: int, subtype: str = "PCM_16"):
        self.path = Path(path)
        self.rate = rate
        self.subtype = subtype
        self.samples = 0
        self.non_finite = 0

    def __enter__(self) -> AtomicWriter:
        import soundfile as sf

        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                   dir=self.path.parent if str(self.path.parent) else ".")
        os.close(fd)
        self.tmp = Path(tmp)
        ext = self.path.suffix.lower().lstrip(".")
        fmt = ext.upper() if ext in ("flac", "ogg") else "WAV"
        self.file = sf.SoundFile(str(self.tmp), "w", self.rate, 1, self.subtype, format=fmt)
        return self

    def write(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32)
        bad = ~np.isfinite(x)
        if bad.any():
            self.non_finite += int(bad.sum())
            x = np.where(bad, np.float32(0.0), x)
        self.file.write(np.clip(x, -1.0, 1.0))
        self.samples += x.size

    def __exit__(self, exc_type, exc, tb) -> None:
        self.file.close()
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        os.replace(self.tmp, self.path)
        if self.non_finite:
            warn(f"{self.path}: {self.non_finite} non-finite output samples replaced by silence")
