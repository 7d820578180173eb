"""The real-time audio path on QEMU: virtual codec -> hop-ready interrupt -> pipeline -> playback.

The virtual codec plays an input tape through the same per-hop pipeline that PROCESS runs,
clocked by a hop-rate timer interrupt in QEMU's virtual time, and records what each playback
slot played. These cases check its delay, that it equals PROCESS bit for bit, that a run
repeats exactly under -icount, that forced overload shows as counted deadline misses (silent
slots) and never as corrupted audio, and that settings apply while it runs.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hushkit import latency_device as ld
from hushkit.client import DeviceClient, DeviceError
from hushkit.protocol import AudioSource, Status
from hushkit.transport import open_link

pytestmark = [
    pytest.mark.slow,
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm"),
]

HOPS = 120
LINK_TIMEOUT_S = 30.0


def noise(hops: int, hop: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    levels = np.repeat(rng.uniform(500, 6000, hops), hop)
    return np.clip(rng.standard_normal(hops * hop) * levels, -32768, 32767).astype(np.int16)


@pytest.fixture
def m4(emulator):
    emu = emulator("qemu-m4")
    with open_link(emu.url, timeout=LINK_TIMEOUT_S) as link:
        yield DeviceClient(link, timeout=LINK_TIMEOUT_S)


def test_bypassed_path_is_a_pure_delay_of_window_plus_hop(m4):
    info = m4.info()
    status = ld.audio_status(m4)
    assert status.source == AudioSource.VIRTUAL_TAPE and status.tape_samples >= HOPS * info.hop
    x = noise(HOPS, info.hop)
    m4.set(bypass=True)
    out, done = ld.run_tape(m4, x)
    delay = done.delay_samples(info)
    assert delay == info.n_fft + info.hop  # (n_fft - hop) in the pipeline + 2 hops of buffers
    assert np.array_equal(out[delay:], x[: x.size - delay])
    assert not np.any(out[:delay])
    assert (done.hops_captured, done.hops_processed) == (HOPS, HOPS)
    assert (done.deadline_misses, done.underruns, done.overruns) == (0, 0, 0)
    stats = m4.stats()
    assert stats.audio_hops == HOPS and stats.deadline_misses == 0


def test_realtime_output_equals_process_and_repeats_exactly(m4):
    info = m4.info()
    x = noise(HOPS, info.hop, seed=1)
    out, done = ld.run_tape(m4, x)
    again, done_again = ld.run_tape(m4, x)
    assert np.array_equal(out, again) and done == done_again  # costs included
    assert done.cost_max > 0 and done.cost_total >= done.cost_max
    m4.reset()
    reference = m4.process(x).pcm
    path = done.path_delay_samples()
    assert np.array_equal(out[path:], reference[: x.size - path])
    assert np.any(out != 0)


def test_forced_overload_is_counted_and_drops_whole_hops(m4):
    info = m4.info()
    x = noise(HOPS, info.hop, seed=2)
    clean, _ = ld.run_tape(m4, x)
    hop_us = 1_000_000 * info.hop // info.sample_rate
    every = 30
    out, done = ld.run_tape(m4, x, load_every=every, load_us=hop_us * 3 // 2)
    loaded = [k for k in range(HOPS) if (k + 1) % every == 0]
    in_tape = [k for k in loaded if k + 2 < HOPS]  # whose playback slot is on the tape
    assert done.deadline_misses >= len(in_tape) and done.underruns == len(in_tape)
    assert done.overruns == 0 and done.buffer_level_max == 1  # caught up within a hop
    assert hop_us // 2 <= done.worst_lateness_us <= hop_us
    slots = out.reshape(-1, info.hop)
    expected = clean.reshape(-1, info.hop).copy()
    for k in in_tape:
        expected[k + 2] = 0  # the late hop's slot played silence ...
    assert np.array_equal(slots, expected)  # ... and every other slot is intact


def test_heavier_overload_loses_captured_hops_as_overruns(m4):
    info = m4.info()
    x = noise(HOPS, info.hop, seed=3)
    hop_us = 1_000_000 * info.hop // info.sample_rate
    _, done = ld.run_tape(m4, x, load_every=40, load_us=hop_us * 15 // 4)
    assert done.overruns > 0 and done.deadline_misses > 0
    assert done.hops_processed + done.overruns == HOPS


def test_settings_apply_while_audio_runs_and_process_waits(m4):
    info = m4.info()
    x = noise(HOPS, info.hop, seed=4)
    ld.load_tape(m4, x)
    hop_us = 1_000_000 * info.hop // info.sample_rate
    # An eighth of a hop of extra work per hop keeps the guest busy long enough (wall time) for
    # the host's requests to land mid-run, without missing a deadline.
    started = ld.start(m4, HOPS, load_every=1, load_us=hop_us // 8)
    assert started.running
    # The SET must land after some hops have run, or every hop is bypassed and nothing shows
    # where it landed: wait (in the guest's time, so this repeats) for the first few hops.
    first = ld.audio_status(m4)
    for _ in range(200):
        if first.hops_processed >= 4 or not first.running:
            break
        first = ld.audio_status(m4)
    assert first.running and first.hops_processed >= 4, "run never got going"
    settings = m4.set(bypass=True, attenuation_db=12.0)
    assert settings.bypass and settings.attenuation_db == 12.0
    with pytest.raises(DeviceError) as busy:
        m4.process(x[: info.hop])
    assert busy.value.status == Status.AUDIO_BUSY
    running = ld.audio_status(m4)
    done = ld.wait_done(m4, ld.run_timeout(x.size, info.sample_rate))
    assert running.running and 0 < running.hops_processed < HOPS, "run ended before the SET"
    assert done.hops_processed == HOPS and done.deadline_misses == 0
    out = ld.read_tape(m4, x.size)
    delay = done.delay_samples(info)
    diff = out[delay:].astype(np.int32) != x[: x.size - delay]
    # bypassed from the hop the SET landed in: a pure delay from there on, not before
    changed = np.flatnonzero(diff.reshape(-1, info.hop).any(axis=1))
    assert changed.size and changed.max() < running.hops_processed + 1
    assert changed.max() >= first.hops_processed - 1  # processed hops before the SET still differ
    m4.set(bypass=False, attenuation_db=0.0)
    assert m4.process(x[: 4 * info.hop]).pcm.size == 4 * info.hop


def test_virtual_codec_on_the_m7_board(emulator):
    emu = emulator("qemu-m7")  # the AN500 keeps the tapes at another PSRAM address
    with open_link(emu.url, timeout=LINK_TIMEOUT_S) as link:
        m7 = DeviceClient(link, timeout=LINK_TIMEOUT_S)
        info = m7.info()
        x = noise(40, info.hop, seed=5)
        m7.set(bypass=True)
        out, done = ld.run_tape(m7, x)
    delay = done.delay_samples(info)
    assert np.array_equal(out[delay:], x[: x.size - delay]) and done.deadline_misses == 0
