"""`hushkit proxy`: a fault-injecting serial link between the host tools and a device.

    hushkit emulate --target qemu-m4                         # serial: socket://127.0.0.1:4321
    hushkit proxy --to socket://127.0.0.1:4321 --rate 1e-3 --seed 7
    hushkit stream --port socket://127.0.0.1:PROXY --block-hops 1 in.wav out.wav

Every byte that passes (both directions) is, with probability `rate`, dropped, bit-flipped,
duplicated, preceded by a random byte, or delayed; which fault, where and which bit come from
seeded generators per direction (one decides which bytes are hit, one what happens to them),
so the same byte stream gets the same faults however TCP splits it into packets. It is the
noisy USB cable of a bench, made reproducible: the protocol must never accept a corrupted
frame, and a run must end bit-identical to the fault-free one or fail with a clear error.

In Python: `with FaultProxy("socket://127.0.0.1:4321", rate=1e-3, seed=7) as proxy:` then
connect to `proxy.url`; `proxy.counts` holds the faults injected per kind and direction.
"""

from __future__ import annotations

import argparse
import collections
import socket
import threading
import time

import numpy as np

from hushkit import argtypes
from hushkit.errors import UsageError

FAULT_KINDS = ("drop", "flip", "duplicate", "insert", "delay")
# A delayed byte waits this long before it is forwarded (and everything after it with it).
DELAY_S = 0.005
RECV_BYTES = 4096
# How long the proxy tries to reach its target when a client connects.
CONNECT_TIMEOUT_S = 5.0


def _parse_socket_url(url: str) -> tuple[str, int]:
    if not url.startswith("socket://"):
        raise UsageError(f"the proxy forwards to a TCP serial port (socket://HOST:PORT), not {url}")
    host, _, port = url[len("socket://") :].partition(":")
    if not port.isdigit():
        raise UsageError(f"{url}: give socket://HOST:PORT")
    return host or "127.0.0.1", int(port)


def fault_generators(seed: int, connection: int,
                     direction: str) -> tuple[np.random.Generator, np.random.Generator]:
    """(which bytes are hit, what happens to them) for one direction of one connection."""
    key = [seed, connection, direction == "to_host"]
    return np.random.default_rng([*key, 0]), np.random.default_rng([*key, 1])


class FaultProxy:
    """One client at a time, forwarded to `target` with seeded byte faults."""

    def __init__(self, target: str, rate: float, seed: int = 0,
                 kinds: tuple[str, ...] = FAULT_KINDS, listen_port: int = 0):
        if not 0.0 <= rate <= 1.0:
            raise UsageError(f"fault rate {rate} is not a probability per byte (0..1)")
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not kinds:
            raise UsageError(f"fault kinds must be among {', '.join(FAULT_KINDS)}")
        self.target = _parse_socket_url(target)
        self.rate = rate
        self.seed = seed
        self.kinds = tuple(kinds)
        self.counts: collections.Counter[str] = collections.Counter()
        self.bytes = collections.Counter()  # bytes seen per direction
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", listen_port))
        self.port = self._server.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._closing = False

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    @property
    def injected(self) -> int:
        return sum(self.counts.values())

    def __enter__(self) -> FaultProxy:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing = True
        self._server.close()
        for s in self._sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(timeout=2)

    def _accept(self) -> None:
        generation = 0
        while not self._closing:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=CONNECT_TIMEOUT_S)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._sockets.append(s)
            for direction, src, dst in (("to_device", client, upstream),
                                        ("to_host", upstream, client)):
                rng = fault_generators(self.seed, generation, direction)
                t = threading.Thread(target=self._pump, args=(direction, src, dst, rng),
                                     daemon=True)
                t.start()
                self._threads.append(t)
            generation += 1

    def _pump(self, direction: str, src: socket.socket, dst: socket.socket,
              rng: tuple[np.random.Generator, np.random.Generator]) -> None:
        try:
            while True:
                data = src.recv(RECV_BYTES)
                if not data:
                    break
                for chunk, pause in self.mangle(data, rng, direction):
                    if pause:
                        time.sleep(pause)
                    if chunk:
                        dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def mangle(self, data: bytes, rng: tuple[np.random.Generator, np.random.Generator],
               direction: str) -> list[tuple[bytes, float]]:
        """`data` with faults, as (bytes to send, pause before them) pieces."""
        where, what = rng
        hits = np.flatnonzero(where.random(len(data)) < self.rate)
        with self._lock:
            self.bytes[direction] += len(data)
        if hits.size == 0:
            return [(data, 0.0)]
        pieces: list[tuple[bytes, float]] = []
        out = bytearray()
        start = 0
        for i in hits:
            out += data[start:i]
            byte = data[i]
            kind = self.kinds[int(what.integers(len(self.kinds)))]
            if kind == "flip":
                out.append(byte ^ (1 << int(what.integers(8))))
            elif kind == "duplicate":
                out += bytes([byte, byte])
            elif kind == "insert":
                out += bytes([int(what.integers(256)), byte])
            elif kind == "delay":
                pieces.append((bytes(out), 0.0))
                out = bytearray([byte])
                pieces.append((b"", DELAY_S))
            # "drop": nothing is forwarded
            start = i + 1
            with self._lock:
                self.counts[f"{direction}:{kind}"] += 1
        out += data[start:]
        pieces.append((bytes(out), 0.0))
        return pieces

    def summary(self) -> str:
        parts = [f"{k} {v}" for k, v in sorted(self.counts.items())]
        seen = ", ".join(f"{d} {n} bytes" for d, n in sorted(self.bytes.items()))
        kinds = ", ".join(parts) or "none"
        return f"{self.injected} faults injected ({kinds}); {seen or 'no traffic'}"


def run_proxy(args: argparse.Namespace) -> int:
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    with FaultProxy(args.to, args.rate, args.seed, kinds, args.listen) as proxy:
        print(f"forwarding {proxy.url} -> {args.to} with {args.rate:g} faults per byte "
              f"({', '.join(kinds)}), seed {args.seed}  (Ctrl-C stops)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            print(proxy.summary(), flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "proxy",
        help="a fault-injecting serial link (drops, bit flips, ...) in front of a device",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--to", required=True, help="the device's TCP serial port, socket://HOST:PORT")
    p.add_argument("--rate", type=argtypes.float_range(0.0, 1.0), default=1e-3,
                   help="faults per byte, each direction (default %(default)g)")
    p.add_argument("--seed", type=argtypes.non_negative_int, default=0, help="fault generator seed")
    p.add_argument("--kinds", default=",".join(FAULT_KINDS),
                   help="comma-separated fault kinds (default: all)")
    p.add_argument("--listen", type=argtypes.int_range(0, 65535), default=0,
                   help="local port to listen on (default: any free port)")
    p.set_defaults(func=run_proxy)
