"""`hushkit flash`: put an application image on a device through hushkit's bootloader.

    hushkit flash --port socket://127.0.0.1:PORT build/firmware/qemu-m4-slot0/firmware.img

First, before any port is opened, the host checks the images itself (structure and hash;
with `--key KEY.pem` also their Ed25519 signature) and refuses a bad one in one line.
Then: read the device's identity (an application is first asked to reboot into the
bootloader); refuse an image built for another target; pick the application slot that is
not running (updates never touch the running image) and the image built for it; for each
sector, skip it when the device's hash of it already matches, else erase and write it, retrying
a failed exchange up to FLASH_RETRIES times; verify the whole image by hash; mark it pending;
reboot; wait for the application to confirm itself. A re-flash of the image already running
writes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import serial

from hushkit import flash_image, flash_layout, payloads
from hushkit import protocol as p
from hushkit.client import DeviceError
from hushkit.errors import HushkitError
from hushkit.flash_client import FlashClient, Identity
from hushkit.transport import open_link

# Exchanges that failed (timeout, CRC, unreadable reply) are retried this many times each
# before the flash gives up; every retry is counted in the summary.
FLASH_RETRIES = 3
# Per exchange: erasing a 4 KB sector and writing 2 KB take milliseconds; hashing a 320 KB
# slot on the emulated M4 about 0.1 s.
EXCHANGE_TIMEOUT_S = 3.0
CONFIRM_TIMEOUT_S = 15.0


class FlashError(HushkitError, RuntimeError):
    """A flash that cannot go on; the message says why and what to do. `status`: the
    device's refusal (protocol.Status), when it gave one."""

    status: int | None = None


@dataclasses.dataclass
class FlashResult:
    slot: str
    image_sha256: str
    bytes_written: int = 0
    chunks_written: int = 0
    chunks_skipped: int = 0
    retries: int = 0
    seconds: float = 0.0
    state: str = ""
    payload_bytes: int = 0  # image bytes sent in FLASH_WRITE frames
    wire_bytes: int = 0  # every byte sent and received, frames and all
    signature_check: str = ""  # a keyed bootloader: "signature checked in N instructions"
    host_check: str = ""  # the host's own check of the image before sending it
    image_security_counter: int | None = None  # the image's protected SEC_CNT
    device_security_counter: int | None = None  # the device's stored counter afterwards

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class _CountingLink:
    """Wraps a Link to count the bytes on the wire (for the protocol efficiency figure)."""

    def __init__(self, link):
        self._link = link
        self.sent = 0
        self.received = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)
        self._link.write(data)

    def read_until(self, terminator: bytes, size: int) -> bytes:
        data = self._link.read_until(terminator, size)
        self.received += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._link, name)


def _retrying(result: FlashResult, what: str, call):
    for attempt in range(FLASH_RETRIES + 1):
        try:
            return call()
        except DeviceError as exc:
            if exc.status is not None and exc.status not in (
                p.Status.BAD_CRC,
                p.Status.BAD_FRAME,
            ):
                err = FlashError(f"{what}: {exc}")
                err.status = exc.status
                raise err from exc
            if attempt == FLASH_RETRIES:
                raise FlashError(
                    f"{what}: the device stopped answering ({exc}); gave up after "
                    f"{FLASH_RETRIES} retries. Restart it: the bootloader keeps the running "
                    "image and a new `hushkit flash` resumes"
                ) from exc
            result.retries += 1


def to_bootloader(client: FlashClient) -> Identity:
    ident = client.identify()
    if ident.mode == p.BootMode.BOOTLOADER:
        return ident
    if not ident.slots:
        raise FlashError(
            "the device runs an application that was not started by hushkit's bootloader: "
            "flash the bootloader first (see README, 'Flashing a board')"
        )
    client.enter_bootloader()
    return client.wait_identity(lambda i: i.mode == p.BootMode.BOOTLOADER)


def choose_slot(ident: Identity) -> int:
    """The application slot to write: one that is not the image the device would boot."""
    apps = [s for s in ident.slots if s.kind == flash_layout.SlotKind.APP]
    live = {p.SlotState.CONFIRMED, p.SlotState.VALID, p.SlotState.PENDING}
    idle = [s for s in apps if s.state not in live]
    return (idle or apps[1:] or apps)[0].index


def flash(
    client: FlashClient, image_path: Path, progress: bool = True, wait_confirm: bool = True
) -> FlashResult:
    start = time.monotonic()
    ident = to_bootloader(client)
    try:
        layout = flash_layout.get(ident.target)
        images = flash_image.slot_images(image_path, layout)
    except (ValueError, flash_image.ImageError) as exc:
        raise FlashError(str(exc)) from exc
    some = next(iter(images.values()))
    _refuse_below_counter(client, some.security_counter)
    if some.target != ident.target:
        raise FlashError(
            f"{image_path} is built for target {some.target!r}, the device is {ident.target!r}: "
            f"build it with `hushkit build --target {ident.target}`"
        )
    by_name = {layout.regions[s.index].name: s for s in ident.slots}
    for name, image in images.items():
        slot = by_name[name]
        if slot.image_hash == image.sha256.hex() and slot.state == p.SlotState.CONFIRMED:
            # Already running this very image: nothing to write, just start it again.
            result = FlashResult(slot=name, image_sha256=image.sha256.hex())
            result.image_security_counter = image.security_counter
            result.chunks_skipped = -(-len(image.data) // layout.sector)
            client.boot()
            return _finish(client, result, ident, slot.index, start, wait_confirm)
    index = choose_slot(ident)
    region = layout.regions[index]
    image = images.get(region.name)
    if image is None:
        raise FlashError(
            f"the slot to update is {region.name}, but no image built for it was found next to "
            f"{image_path} (`hushkit build` writes one per slot)"
        )
    if len(image.data) > layout.max_image_size(region):
        raise FlashError(f"image of {len(image.data)} bytes does not fit slot {region.name}")
    result = FlashResult(slot=region.name, image_sha256=image.sha256.hex())
    result.image_security_counter = image.security_counter
    _write_image(client, image.data, region, layout, result, progress)
    whole = _retrying(result, "verify", lambda: client.hash(region.start, len(image.data)))
    if whole != hashlib.sha256(image.data).digest():
        raise FlashError(f"verification failed: slot {region.name} does not hold the image")
    result.signature_check = _retrying(result, "mark pending", lambda: client.mark_pending(index))
    client.boot()
    return _finish(client, result, ident, index, start, wait_confirm)


def _refuse_below_counter(client: FlashClient, counter: int | None) -> None:
    """Refuse, before writing anything, an image a keyed device would refuse anyway: its
    security counter is below the one the device stores (it would never boot)."""
    stored = _retrying(
        FlashResult(slot="", image_sha256=""), "security counter", client.security_counter
    )
    if stored is None or not stored["keyed"] or (counter or 0) >= stored["value"]:
        return
    err = FlashError(
        f"the image's security counter {counter or 0} is below the device's "
        f"{stored['value']}: it would never boot (build it with `--security-counter "
        f"{stored['value']}` or higher)"
    )
    err.status = p.Status.DOWNGRADE
    raise err


def _write_image(client, data, region, layout, result, progress) -> None:
    from tqdm import tqdm

    sector = layout.sector
    chunk = payloads.FLASH_WRITE_CHUNK
    padded = data + b"\xff" * (-len(data) % sector)
    bar = tqdm(
        total=len(padded), unit="B", unit_scale=True, unit_divisor=1024,
        desc=f"flash {region.name}", disable=not progress, file=sys.stderr,
    )  # fmt: skip
    with bar:
        for off in range(0, len(padded), sector):
            block = padded[off : off + sector]
            addr = region.start + off
            current = _retrying(result, f"hash @0x{addr:x}", lambda a=addr: client.hash(a, sector))
            if current == hashlib.sha256(block).digest():
                result.chunks_skipped += 1
                bar.update(len(block))
                continue
            _retrying(result, f"erase @0x{addr:x}", lambda a=addr: client.erase(a, sector))
            for c in range(0, sector, chunk):
                part = block[c : c + chunk]
                if part == b"\xff" * len(part):
                    continue  # erased already
                _retrying(
                    result,
                    f"write @0x{addr + c:x}",
                    lambda a=addr + c, d=part: _write_once(client, a, d),
                )
                result.bytes_written += len(part)
                result.payload_bytes += len(part)
            result.chunks_written += 1
            bar.update(len(block))


def _write_once(client: FlashClient, addr: int, data: bytes) -> None:
    """Write, accepting a retry of a write whose reply was lost but which did land."""
    try:
        client.write(addr, data)
    except DeviceError as exc:
        if exc.status != p.Status.FLASH_FAILED:
            raise
        if client.hash(addr, len(data)) != hashlib.sha256(data).digest():
            raise


def _finish(client, result, ident, index, start, wait_confirm) -> FlashResult:
    if wait_confirm:
        def confirmed(i: Identity) -> bool:
            return (
                i.mode == p.BootMode.APPLICATION
                and i.running_slot == index
                and i.slot(index).state == p.SlotState.CONFIRMED
            )

        try:
            final = client.wait_identity(confirmed, CONFIRM_TIMEOUT_S)
            result.state = final.slot(index).state.name.lower()
        except DeviceError as exc:
            raise FlashError(
                f"the new image did not confirm itself ({exc}); the bootloader rolls back to "
                "the previous image at the next reset"
            ) from exc
    else:
        result.state = "pending"
    try:
        counter = _retrying(result, "security counter", client.security_counter)
    except FlashError:
        counter = None  # the image is in and confirmed; only the report lacks the figure
    result.device_security_counter = None if counter is None else counter["value"]
    result.seconds = time.monotonic() - start
    return result


def run_flash(args: argparse.Namespace) -> int:
    if args.protocol == "stm32":
        from hushkit import flash_stm32

        return flash_stm32.run(args)
    from hushkit import flash_verify

    # Before any port is opened: a bad image never reaches the device.
    try:
        checks = flash_verify.precheck_build(args.image, args.key)
    except (flash_image.ImageError, ValueError) as exc:
        raise FlashError(f"{args.image} refused by the host check: {exc}") from None
    check = next(iter(checks.values())).summary
    if not args.json:
        print(check, file=sys.stderr)

    def operation(client: FlashClient) -> FlashResult:
        result = flash(client, args.image, progress=not args.json)
        result.host_check = check
        return result

    return run_over_link(
        args,
        operation,
        lambda r: f"flashed {r.slot}: {r.bytes_written} bytes written, {r.chunks_skipped} "
        f"sectors unchanged, {r.retries} retries, {r.seconds:.1f} s; image "
        f"{r.image_sha256[:16]}… {r.state}"
        + (f"; device security counter {r.device_security_counter}"
           if r.device_security_counter is not None else ""),
    )


def run_over_link(args: argparse.Namespace, operation: Callable[[FlashClient], FlashResult],
                  summary: Callable[[FlashResult], str]) -> int:
    """`operation` on the device at --port; its result as JSON (--json) or one summary line.

    Link, device and flash errors end the command as the CLI's one line (exit status 1)."""
    try:
        with open_link(args.port, timeout=EXCHANGE_TIMEOUT_S, trace=args.trace) as link:
            counting = _CountingLink(link)
            result = operation(FlashClient(counting, timeout=EXCHANGE_TIMEOUT_S))
            result.wire_bytes = counting.sent + counting.received
    except serial.SerialException as exc:
        raise FlashError(f"the device disconnected ({exc})") from None
    print(json.dumps(result.as_dict(), indent=2) if args.json else summary(result))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "flash",
        help="flash an image through hushkit's bootloader (or a bare STM32's ROM bootloader)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("image", type=Path, help="firmware.img (or .elf/.bin) of `hushkit build`")
    parser.add_argument("--port", required=True, help="/dev/ttyUSB0 or socket://HOST:PORT")
    parser.add_argument(
        "--protocol",
        choices=["hushkit", "stm32"],
        default="hushkit",
        help="hushkit: through hushkit's bootloader (default); stm32: a bare STM32's ROM "
        "bootloader (AN3155, first flash of a .bin, e.g. the bootloader)",
    )
    parser.add_argument(
        "--key",
        type=Path,
        default=None,
        help="Ed25519 key (public or private PEM) the images must be signed with: the host "
        "verifies their signature before opening the port. Without it only their structure "
        "and hash are checked",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    parser.add_argument("--trace", action="store_true", help="hex-dump the traffic to stderr")
    parser.set_defaults(func=run_flash)

    # `hushkit model push` writes model slots through the same commands.
    from hushkit import flash_model

    flash_model.register(subparsers)
