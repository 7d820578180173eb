"""Faults on the wire: seeded byte faults between the host tools and a device.

With 1e-3 faults per byte (drops, bit flips, duplicated, inserted and delayed bytes) no
corrupted frame is accepted, requests are retried with their seq, a retried PROCESS never
advances the device twice, and the run ends bit-identical to the fault-free one.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from test_host_tools import HOP, N_FFT, FakeDevice

from hushkit import framing
from hushkit import protocol as p
from hushkit.client import DeviceClient, DeviceError
from hushkit.faultproxy import FAULT_KINDS, FaultProxy, fault_generators
from hushkit.transport import open_link

REPO = Path(__file__).resolve().parent.parent
RATE = 1e-3


class Echo:
    """A TCP echo server: what goes in comes back (through the proxy twice)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.server.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)


def test_mangle_is_seeded_chunking_free_and_injects_each_kind_at_the_rate():
    data = np.random.default_rng(0).bytes(200_000)
    proxy = FaultProxy("socket://127.0.0.1:1", rate=RATE, seed=5)

    def run(seed: int, chunk: int) -> bytes:
        rng = fault_generators(seed, 0, "to_device")
        pieces = [proxy.mangle(data[i : i + chunk], rng, "to_device")
                  for i in range(0, len(data), chunk)]  # fmt: skip
        return b"".join(b for piece in pieces for b, _ in piece)

    a = run(5, 4096)
    assert a == run(5, 777)  # same seed, same faults, however the stream is cut
    assert a != run(6, 4096)
    n = proxy.injected
    assert 3 * 200 * 0.8 < n < 3 * 200 * 1.2  # three runs of 200 kB at 1e-3
    assert {k.split(":")[1] for k in proxy.counts} == set(FAULT_KINDS)
    proxy.close()


def test_proxy_forwards_and_counts_both_directions():
    echo = Echo()
    with FaultProxy(echo.url, rate=0.0, seed=1) as proxy:
        s = socket.create_connection(("127.0.0.1", proxy.port))
        s.sendall(b"x" * 10000)
        got = b""
        while len(got) < 10000:
            got += s.recv(4096)
        s.close()
        assert got == b"x" * 10000 and proxy.injected == 0
    echo.server.close()


class DedupDevice(FakeDevice):
    """The fake device answering a repeated request from its last reply, like the firmware."""

    def __init__(self):
        super().__init__()
        self.last: tuple[bytes, bytes] | None = None
        self.process_calls = 0
        self.link_errors = 0

    def _serve(self) -> None:  # like FakeDevice, but corrupted frames get error replies
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            pending = b""
            while data := self._recv(conn):
                pending += data
                *frames, pending = pending.split(b"\x00")
                for raw in frames:
                    if raw:
                        try:
                            conn.sendall(self._answer_raw(raw))
                        except OSError:
                            return  # the client went away

    @staticmethod
    def _recv(conn) -> bytes:
        try:
            return conn.recv(65536)
        except OSError:
            return b""

    def _answer_raw(self, raw: bytes) -> bytes:
        try:
            req = framing.decode_frame(raw)
        except framing.FrameError:
            self.link_errors += 1
            reply = framing.Frame(framing.REPLY_FLAG, 0, status=p.Status.BAD_FRAME)
            return framing.encode_frame(reply)
        key = framing.encode_frame(req)
        if self.last and self.last[0] == key:
            return self.last[1]
        if req.opcode == p.Opcode.PROCESS:
            self.process_calls += 1
        reply = self._answer(raw)
        self.last = (key, reply)
        return reply


def test_faulty_link_to_fake_device_ends_bit_identical():
    pcm = (np.random.default_rng(1).standard_normal(300 * HOP) * 3000).astype(np.int16)
    dev = DedupDevice()
    with FaultProxy(dev.url, rate=RATE, seed=11) as proxy:
        with open_link(proxy.url, timeout=0.5) as link:
            client = DeviceClient(link, timeout=0.5)
            client.reset()
            out = np.concatenate([client.process(pcm[h * HOP : (h + 1) * HOP]).pcm
                                  for h in range(300)])  # fmt: skip
    dev.close()
    expected = np.concatenate([np.zeros(N_FFT - HOP, np.int16), pcm])[: len(pcm)]
    assert np.array_equal(out, expected)
    assert dev.process_calls == 300  # every hop processed exactly once
    assert proxy.injected > 100 and client.retries > 20


def test_a_dead_link_fails_with_a_clear_error():
    dev = DedupDevice()
    with FaultProxy(dev.url, rate=0.05, seed=3, kinds=("flip",)) as proxy:
        with open_link(proxy.url, timeout=0.5) as link:
            client = DeviceClient(link, timeout=0.5)
            with pytest.raises(DeviceError, match="failed 17 times: the link corrupts"):
                client.process(np.zeros(15 * HOP, np.int16))
    dev.close()


# ---- the real firmware on QEMU ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.qemu
def test_faulty_link_to_the_firmware_ends_bit_identical(firmware_elf, firmware_model):
    from hushkit.corelib import Pipeline
    from hushkit.emulator import Emulator

    hops = 250
    pcm = (np.random.default_rng(2).standard_normal(hops * HOP) * 2500).astype(np.int16)
    clean = Pipeline(firmware_model[0].read_bytes(), N_FFT).process(pcm)
    with Emulator("qemu-m4", firmware_elf("qemu-m4")) as emu:
        with FaultProxy(emu.url, rate=RATE, seed=7) as proxy:
            with open_link(proxy.url, timeout=0.5) as link:
                client = DeviceClient(link, timeout=0.5)
                client.reset()
                out = np.concatenate([client.process(pcm[h * HOP : (h + 1) * HOP]).pcm
                                      for h in range(hops)])  # fmt: skip
                stats = client.stats()
    print(f"\nfault injection: {proxy.summary()}; {hops} PROCESS frames, "
          f"{client.retries} retries, device frame errors {stats.frame_errors}")
    assert np.array_equal(out, clean)  # bit-identical to the fault-free pipeline
    assert stats.hops == hops  # no hop was processed twice
    assert proxy.injected > 50 and client.retries > 10 and stats.frame_errors > 0
