"""Host-side parsers of device replies under hostile bytes (property-based, hypothesis).

Whatever a device, a noisy cable or a malicious board sends, the host tools either decode
it or raise their own error (FrameError / DeviceError, both one line for the CLI): never an
IndexError, struct.error or a hang. The firmware-side decoders are fuzzed with libFuzzer
(tests/fuzz/).
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hushkit import framing  # noqa: E402
from hushkit import protocol as p  # noqa: E402
from hushkit.client import DeviceClient, DeviceError, _decode_resync  # noqa: E402

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=600))
def test_decode_frame_raises_only_frame_error(data):
    try:
        frame = framing.decode_frame(data)
    except framing.FrameError:
        return
    assert framing.encode_frame(frame)[:-1] == (data[:-1] if data.endswith(b"\x00") else data)


@FUZZ
@given(st.binary(max_size=300))
def test_cobs_round_trips(data):
    enc = framing.cobs_encode(data)
    assert b"\x00" not in enc and framing.cobs_decode(enc) == data


@FUZZ
@given(st.binary(max_size=400))
def test_resync_raises_only_device_error(data):
    try:
        _decode_resync(data + b"\x00")
    except DeviceError:
        pass


class ScriptedLink:
    """A Link whose replies are the given bytes (whatever the request)."""

    def __init__(self, reply: bytes):
        self.reply = reply
        self.timeout = 0.01

    def write(self, data: bytes) -> None:
        pass

    def read_until(self, terminator: bytes, size: int) -> bytes:
        out, self.reply = self.reply, b""
        end = out.find(terminator)
        return out if end < 0 else out[: end + 1]

    def discard_input(self) -> None:
        pass


def _client(payload: bytes, opcode: int, status: int = 0) -> DeviceClient:
    client = DeviceClient(ScriptedLink(b""), timeout=0.01)
    seq = (client._seq + 1) & 0xFFFF
    client.link.reply = framing.encode_frame(
        framing.Frame(opcode | framing.REPLY_FLAG, seq, payload, status)
    )
    return client


@FUZZ
@given(st.binary(max_size=300), st.integers(0, 255))
def test_info_reply_parser(payload, status):
    try:
        _client(payload, p.Opcode.INFO, status).info()
    except DeviceError:
        pass


@FUZZ
@given(st.binary(max_size=200))
def test_stats_and_safety_reply_parsers(payload):
    for call, opcode in (("stats", p.Opcode.STATS), ("safety", p.Opcode.SAFETY)):
        try:
            getattr(_client(payload, opcode), call)()
        except DeviceError:
            pass


INFO = dict(
    protocol_version=p.PROTOCOL_VERSION, fw_version=b"x", target=b"t", model_sha256=b"0",
    sample_rate=16000, n_fft=256, hop=128, n_bins=129, state_size=16, model_status=0,
    model_message=b"", arena_bytes=0, max_payload=framing.MAX_PAYLOAD, cost_source=1,
    feature_planes=1,
)  # fmt: skip


@FUZZ
@given(st.binary(max_size=1200), st.booleans())
def test_process_reply_parser(payload, taps):
    client = _client(payload, p.Opcode.PROCESS)
    from hushkit.client import DeviceInfo

    fields = {**INFO, "fw_version": "x", "target": "t", "model_sha256": "0",
              "model_message": "", "cost_source": p.CostSource(1)}  # fmt: skip
    client._info = DeviceInfo(**fields)
    try:
        client.process(np.zeros(128, np.int16), taps=taps)
    except DeviceError:
        pass


class RepliesLink(ScriptedLink):
    """A Link that answers each request with the next of the given frames."""

    def __init__(self, replies: list[bytes]):
        super().__init__(b"")
        self.replies = list(replies)

    def read_until(self, terminator: bytes, size: int) -> bytes:
        return self.replies.pop(0) if self.replies else b""


def test_info_refused_by_the_bootloader_says_so():
    from hushkit import framing, payloads

    identify = bytearray(payloads.IDENTIFY_REPLY.size)
    identify[0] = p.BootMode.BOOTLOADER
    client = DeviceClient(RepliesLink([]), timeout=0.01)
    client._first = False
    seq = client._seq
    client.link.replies = [
        framing.encode_frame(framing.Frame(p.Opcode.INFO | framing.REPLY_FLAG, seq + 1,
                                           status=p.Status.UNKNOWN_OPCODE)),
        framing.encode_frame(framing.Frame(p.Opcode.IDENTIFY | framing.REPLY_FLAG, seq + 2,
                                           bytes(identify))),
    ]  # fmt: skip
    with pytest.raises(DeviceError, match="the bootloader answered"):
        client.info()
