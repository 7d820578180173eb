"""Host tools against an in-process fake device on a local TCP socket (no QEMU needed).

The fake speaks the protocol through hushkit.framing, hushkit.payloads and hushkit.protocol.
Its "pipeline" is the firmware's framing with a unity mask: the output is the input delayed by
n_fft - hop samples, which is exactly what `hushkit stream` must undo to write time-aligned
audio.
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
import soundfile

from hushkit import cli, framing, ops, payloads
from hushkit import protocol as p
from hushkit.client import DeviceClient, DeviceError, DeviceTimeout
from hushkit.errors import HushkitError
from hushkit.transport import open_link

N_FFT, HOP, STATE = 256, 128, 24
N_BINS = N_FFT // 2 + 1
MODEL_SHA = "ab" * 32


class FakeDevice:
    """One-connection protocol server in a thread; knobs let tests inject faults."""

    def __init__(self, silent: bool = False, banner: bytes = b""):
        self.silent = silent  # never answer
        self.banner = banner  # junk sent glued to the front of the first reply
        self.fail: dict[int, tuple[int, bytes]] = {}  # opcode -> (status, detail)
        self.bad_crc_replies = 0  # answer this many requests with BAD_CRC first
        self.requests: list[framing.Frame] = []
        self.delay_line = np.zeros(N_FFT - HOP, np.int16)
        self.state = np.zeros(STATE, np.int8)
        self.costs: list[int] = []
        self.bypass, self.attenuation_db = 0, 0.0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=2)

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            pending = b""
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                pending += data
                *frames, pending = pending.split(b"\x00")
                for raw in frames:
                    if raw and not self.silent:
                        conn.sendall(self.banner + self._answer(raw))
                        self.banner = b""

    def _answer(self, raw: bytes) -> bytes:
        req = framing.decode_frame(raw)
        self.requests.append(req)
        op = req.opcode | framing.REPLY_FLAG
        if self.bad_crc_replies:
            self.bad_crc_replies -= 1
            return framing.encode_frame(framing.Frame(op, req.seq, status=p.Status.BAD_CRC))
        if req.opcode in self.fail:
            status, detail = self.fail[req.opcode]
            return framing.encode_frame(framing.Frame(op, req.seq, detail, status=status))
        handler = getattr(self, f"_on_{p.Opcode(req.opcode).name.lower()}", None)
        if handler is None:  # like a firmware without this command
            return framing.encode_frame(framing.Frame(op, req.seq, status=p.Status.UNKNOWN_OPCODE))
        return framing.encode_frame(framing.Frame(op, req.seq, handler(req.payload)))

    def _on_info(self, _: bytes) -> bytes:
        return payloads.INFO_REPLY.pack(
            protocol_version=p.PROTOCOL_VERSION, fw_version=b"0.1.0", target=b"fake",
            model_sha256=MODEL_SHA.encode(), sample_rate=16000, n_fft=N_FFT, hop=HOP,
            n_bins=N_BINS, state_size=STATE, model_status=0, model_message=b"",
            arena_bytes=12345, max_payload=framing.MAX_PAYLOAD,
            cost_source=p.CostSource.SYSTICK_ICOUNT, feature_planes=1,
        )  # fmt: skip

    def _on_process(self, payload: bytes) -> bytes:
        head = payloads.PROCESS_REQUEST.unpack(payload)
        pcm = np.frombuffer(payload, "<i2", offset=payloads.PROCESS_REQUEST.size).reshape(-1, HOP)
        taps = bool(head["flags"] & p.ProcessFlag.TAPS)
        tap_len = payloads.tap_bytes(N_BINS, STATE) if taps else 0
        out = [payloads.PROCESS_REPLY.pack(n_hops=len(pcm), flags=head["flags"], tap_bytes=tap_len)]
        for hop in pcm:
            line = np.concatenate([self.delay_line, hop])
            self.delay_line = line[HOP:]
            cost = 1000 + int(np.abs(hop.astype(np.int64)).sum() % 997)
            self.costs.append(cost)
            out += [payloads.PROCESS_HOP.pack(cost=cost), line[:HOP].astype("<i2").tobytes()]
            if taps:
                features = (np.resize(hop, N_BINS) >> 8).astype(np.int8)
                state_out = (self.state + features[:STATE]).astype(np.int8)
                mask = np.full(N_BINS, 127, np.int8)
                out += [features.tobytes(), self.state.tobytes(), mask.tobytes(),
                        state_out.tobytes()]  # fmt: skip
                self.state = state_out
        return b"".join(out)

    def _on_stats(self, _: bytes) -> bytes:
        c = self.costs or [0]
        return payloads.STATS_REPLY.pack(
            hops=len(self.costs), cost_min=min(c), cost_max=max(c), cost_total=sum(self.costs),
            cost_source=p.CostSource.SYSTICK_ICOUNT, arena_bytes=12345, stack_used=900,
            frame_errors=0, audio_hops=0, deadline_misses=0, worst_lateness_us=0, overruns=0,
            buffer_level_max=0, watchdog_resets=0, watchdog_reason=0, watchdog_rollbacks=0,
            watchdog_last_boot=0,
        )  # fmt: skip

    def _on_set(self, payload: bytes) -> bytes:
        req = payloads.SET_REQUEST.unpack(payload)
        if req["fields"] & p.SetField.BYPASS:
            self.bypass = req["bypass"]
        if req["fields"] & p.SetField.ATTENUATION:
            self.attenuation_db = max(req["attenuation_db"], 0.0)
        return payloads.SET_REPLY.pack(bypass=self.bypass, attenuation_db=self.attenuation_db)

    def _on_reset(self, _: bytes) -> bytes:
        self.delay_line[:] = 0
        self.state[:] = 0
        self.costs.clear()
        return b""


@pytest.fixture
def device():
    dev = FakeDevice()
    yield dev
    dev.close()


@pytest.fixture
def client(device):
    with open_link(device.url, timeout=2.0) as link:
        yield DeviceClient(link)


def test_info_parsed(client):
    info = client.info()
    assert (info.target, info.fw_version, info.model_sha256) == ("fake", "0.1.0", MODEL_SHA)
    assert (info.n_fft, info.hop, info.n_bins, info.state_size) == (N_FFT, HOP, N_BINS, STATE)
    assert info.model_loaded and info.output_delay == N_FFT - HOP
    assert info.cost_source == p.CostSource.SYSTICK_ICOUNT


def test_process_splits_blocks_and_keeps_order(client, device):
    rng = np.random.default_rng(0)
    hops = 2 * payloads.process_max_hops(HOP) + 3  # three PROCESS exchanges
    pcm = rng.integers(-30000, 30000, hops * HOP).astype(np.int16)
    result = client.process(pcm)
    delay = N_FFT - HOP
    assert np.array_equal(result.pcm[delay:], pcm[:-delay])
    assert np.array_equal(result.cost, device.costs)
    assert sum(r.opcode == p.Opcode.PROCESS for r in device.requests) == 3


def test_process_taps_layout(client):
    pcm = (np.arange(20 * HOP) % 5000 - 2500).astype(np.int16)
    result = client.process(pcm, taps=True)
    t = result.taps
    assert t["features"].shape == (20, N_BINS) and t["state_out"].shape == (20, STATE)
    expected = np.stack([np.resize(h, N_BINS) >> 8 for h in pcm.reshape(20, HOP)])
    assert np.array_equal(t["features"], expected.astype(np.int8))
    assert np.all(t["mask"] == 127)
    # each hop's state_in is the previous hop's state_out, across PROCESS blocks too
    assert np.array_equal(t["state_in"][1:], t["state_out"][:-1])
    assert not t["state_in"][0].any()


def test_set_reset_stats(client, device):
    s = client.set(bypass=True, attenuation_db=12.5)
    assert s.bypass and s.attenuation_db == 12.5
    assert client.set(attenuation_db=0).bypass  # bypass untouched
    assert not client.set(bypass=False).bypass
    client.process(np.ones(4 * HOP, np.int16))
    stats = client.stats()
    assert stats.hops == 4 and stats.cost_min <= stats.cost_mean <= stats.cost_max
    assert stats.cost_units == "instructions"
    client.reset()
    assert client.stats().hops == 0


def test_error_status_becomes_readable_exception(client, device):
    device.fail[p.Opcode.STATS] = (p.Status.MODEL_NOT_LOADED, b"arena too small")
    with pytest.raises(DeviceError) as err:
        client.stats()
    assert err.value.status == p.Status.MODEL_NOT_LOADED
    assert p.STATUS_MESSAGES[p.Status.MODEL_NOT_LOADED] in str(err.value)
    assert "arena too small" in str(err.value) and "STATS" in str(err.value)
    device.fail[p.Opcode.RESET] = (200, b"")
    with pytest.raises(DeviceError, match="unknown status 200"):
        client.reset()


def test_bad_crc_is_resent(client, device):
    device.bad_crc_replies = 1
    assert client.info().target == "fake"
    assert [r.opcode for r in device.requests] == [p.Opcode.INFO, p.Opcode.INFO]
    device.bad_crc_replies = 100
    with pytest.raises(DeviceError, match="CRC"):
        client.stats()


def test_junk_before_first_reply_is_skipped():
    dev = FakeDevice(banner=b"hushkit boot\r\n")
    try:
        with open_link(dev.url, timeout=2.0) as link:
            assert DeviceClient(link).info().target == "fake"
    finally:
        dev.close()


def test_silent_device_times_out():
    dev = FakeDevice(silent=True)
    try:
        with open_link(dev.url, timeout=0.3) as link:
            start = time.monotonic()
            with pytest.raises(DeviceTimeout, match="did not answer within 0.3 s"):
                DeviceClient(link).info()
            assert time.monotonic() - start < 2.0
    finally:
        dev.close()


def test_loopback_without_device_times_out():
    # loop:// echoes our own request: a frame, but never a reply to it.
    with open_link("loop://", timeout=0.2) as link:
        with pytest.raises(DeviceTimeout, match="is the port right"):
            DeviceClient(link).stats()


def test_stream_cli_writes_time_aligned_output(device, tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 16000 + 77  # not a whole number of hops
    pcm = rng.integers(-20000, 20000, n).astype(np.int16)
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    soundfile.write(src, pcm, 16000, subtype="PCM_16")
    rc = cli.main(["stream", "--port", device.url, str(src), str(dst), "--quiet"])
    assert rc == 0
    out, rate = soundfile.read(dst, dtype="int16")
    assert rate == 16000 and np.array_equal(out, pcm)
    text = capsys.readouterr().out
    hops = -(-(n + N_FFT - HOP) // HOP)
    assert f"per-hop cost ({hops} hops)" in text and "real-time factor" in text


def test_stream_resamples_and_picks_channel(device, tmp_path):
    pytest.importorskip("scipy")
    t = np.arange(44100 // 2) / 44100
    stereo = np.stack([np.zeros_like(t), 0.5 * np.sin(2 * np.pi * 440 * t)], axis=1)
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    soundfile.write(src, stereo, 44100, subtype="FLOAT")
    with open_link(device.url, timeout=2.0) as link:
        client = DeviceClient(link)
        with pytest.raises(HushkitError, match="--channel"):
            ops.stream_file(client, src, dst, progress=False)
        ops.stream_file(client, src, dst, channel=1, progress=False)
    out, rate = soundfile.read(dst, dtype="int16")
    expected = ops.to_int16(ops.load_mono(src, 1, 16000))
    assert rate == 16000 and out.size == 8000
    assert np.array_equal(out, expected)


def test_info_cli(device, capsys):
    assert cli.main(["info", "--port", device.url]) == 0
    out = capsys.readouterr().out
    assert "fake" in out and MODEL_SHA in out and "loaded" in out


def test_cli_reports_unreachable_port(capsys):
    assert cli.main(["stats", "--port", "/dev/does-not-exist", "--timeout", "0.2"]) == 1
    assert "cannot open" in capsys.readouterr().err


def test_trace_dumps_both_directions(device, capsys):
    with open_link(device.url, timeout=2.0, trace=True) as link:
        DeviceClient(link).reset()
    err = capsys.readouterr().err
    request = framing.encode_frame(framing.Frame(p.Opcode.RESET, 0))
    assert " -> " in err and " <- " in err
    assert f"{len(request) + 1:5d} 0000: 00" in err  # leading delimiter + the RESET frame
