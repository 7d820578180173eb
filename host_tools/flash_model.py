"""`hushkit model push --port URL model.tflite`: a new int8 model for a running application.

The .tflite file is wrapped into an MCUboot image (imgtool: header, SHA-256 TLV, target TLV;
with `--sign-key KEY.pem` also imgtool's Ed25519 signature of the image hash, as for
application images) and written into the model slot that is not in use, sector by sector
(sectors whose hash already matches are skipped); the device then validates it (image
hash, signature, flatbuffer schema, supported int8 operators, tensor shapes against its DSP
configuration, arena size) and switches to it between two hops. A model it rejects never
runs: the old one keeps running and the error says why. `hushkit info` then reports the
new model's SHA-256. A device whose bootloader was built with a key (`hushkit build
--sign-key`) runs only models signed with that key: an unsigned one, or one signed with
another key, is refused the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

from hushkit import flash_image, flash_layout, flash_verify, payloads
from hushkit import protocol as p
from hushkit.client import DeviceError
from hushkit.flash import FlashError, FlashResult, _retrying, _write_image, run_over_link
from hushkit.flash_client import FlashClient


def model_image(
    tflite: Path, target: str, layout: flash_layout.FlashLayout, sign_key: Path | None = None
) -> bytes:
    """The MCUboot image of a .tflite file for the model slots of `layout` (signed with
    `sign_key` when given)."""
    from hushkit.flash_build import project_version

    tflite = Path(tflite)
    if not tflite.is_file():
        raise FlashError(f"{tflite} not found")
    slot = layout.model_slots[0]
    if tflite.stat().st_size > layout.max_image_size(slot) - flash_image.IMAGE_ROOM:
        raise FlashError(f"{tflite} does not fit the {slot.size // 1024} KB model slot")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.img"
        flash_image.sign_model(tflite, out, target, slot, layout, project_version(), sign_key)
        return flash_image.load(out).data


def prebuilt(path: Path, key: Path | None = None) -> flash_verify.Precheck | None:
    """A model image made beforehand (`.img`, e.g. signed on a release machine), checked by
    the host (structure; signature with `key`) before any port is opened; None for a .tflite
    (wrapped and signed here, after the device names its target)."""
    if Path(path).suffix != flash_image.IMAGE_SUFFIX:
        return None
    try:
        check = flash_verify.precheck_file(path, key)
    except (flash_image.ImageError, ValueError) as exc:
        raise FlashError(f"{path} refused by the host check: {exc}") from None
    if check.image.rom_fixed is not None:
        raise FlashError(f"{path} is an application image: flash it with `hushkit flash`")
    return check


def push(
    client: FlashClient,
    tflite: Path,
    progress: bool = True,
    sign_key: Path | None = None,
    key: Path | None = None,
) -> FlashResult:
    """Write a model (.tflite, wrapped and signed with `sign_key`; or a model image .img made
    beforehand) into the free model slot and switch to it. With `key` the host checks the
    image's signature with that key before sending it."""
    start = time.monotonic()
    check = prebuilt(tflite, key)
    ident = client.identify()
    if ident.mode != p.BootMode.APPLICATION or not ident.slots:
        raise FlashError(
            "model push needs the application running from hushkit's bootloader "
            f"(the device answers as {ident.mode.name.lower()})"
        )
    layout = flash_layout.get(ident.target)
    if check is None:
        data = model_image(tflite, ident.target, layout, sign_key)
        try:
            check = flash_verify.precheck(data, key or sign_key)
        except flash_image.ImageError as exc:
            raise FlashError(f"the model image made from {tflite} is refused: {exc}") from None
    else:
        data = check.image.data
        if check.image.target != ident.target:
            raise FlashError(f"{tflite} is built for target {check.image.target!r}, the device "
                             f"is {ident.target!r}")
    models = [s for s in ident.slots if s.kind == flash_layout.SlotKind.MODEL]
    in_use = [s for s in models if s.state == p.SlotState.CONFIRMED]
    slot = next((s for s in models if s not in in_use), models[0])
    region = layout.regions[slot.index]
    body = data[flash_layout.IMAGE_HEADER_SIZE : flash_layout.IMAGE_HEADER_SIZE + _body_size(data)]
    sha = hashlib.sha256(body).hexdigest()
    result = FlashResult(slot=region.name, image_sha256=sha, host_check=check.summary)
    result.image_security_counter = check.image.security_counter
    _write_image(client, data, region, layout, result, progress)
    whole = _retrying(result, "verify", lambda: client.hash(region.start, len(data)))
    if whole != hashlib.sha256(data).digest():
        raise FlashError(f"verification failed: slot {region.name} does not hold the model")
    try:
        request = payloads.MODEL_ACTIVATE_REQUEST.pack(region=slot.index)
        client.transact(p.Opcode.MODEL_ACTIVATE, request)
    except DeviceError as exc:
        err = FlashError(str(exc))
        err.status = exc.status
        raise err from exc
    info = client.info()
    if info.model_sha256 != result.image_sha256:
        raise FlashError(f"device reports model {info.model_sha256} after the switch")
    result.state = "active"
    result.seconds = time.monotonic() - start
    return result


def _body_size(data: bytes) -> int:
    return flash_image.HEADER.unpack_from(data)[4]


def run_push(args: argparse.Namespace) -> int:
    check = prebuilt(args.model, args.key)  # a bad .img never opens the port
    if check is not None and not args.json:
        print(check.summary, file=sys.stderr)

    def operation(client: FlashClient) -> FlashResult:
        try:
            return push(client, args.model, progress=not args.json, sign_key=args.sign_key,
                        key=args.key)
        except ValueError as exc:  # a file imgtool or the slot layout refuses
            raise FlashError(str(exc)) from None

    return run_over_link(
        args,
        operation,
        lambda r: f"model {r.image_sha256[:16]}… active from {r.slot}: {r.bytes_written} bytes "
        f"written, {r.chunks_skipped} sectors unchanged, {r.retries} retries, {r.seconds:.1f} s",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "model",
        help="manage the model of a running device (push a new .tflite)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    push_p = sub.add_parser("push", help="send an int8 .tflite into the device's model slot")
    push_p.add_argument(
        "model",
        type=Path,
        help="int8 model (.tflite, `hushkit quantize`), or a model image (.img) made and signed "
        "beforehand",
    )
    push_p.add_argument(
        "--key",
        type=Path,
        default=None,
        help="Ed25519 key (public or private PEM) the model image must be signed with: checked "
        "by the host before sending (a .img: before opening the port)",
    )
    push_p.add_argument("--port", required=True, help="/dev/ttyUSB0 or socket://HOST:PORT")
    push_p.add_argument(
        "--sign-key",
        type=Path,
        default=None,
        help="Ed25519 key to sign the model with (needed when the bootloader was built with "
        "`hushkit build --sign-key`)",
    )
    push_p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    push_p.add_argument("--trace", action="store_true", help="hex-dump the traffic to stderr")
    push_p.set_defaults(func=run_push)
