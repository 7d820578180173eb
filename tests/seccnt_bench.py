"""Security counter and host pre-check: what a keyed device and `hushkit flash` do, case by case.

    python tests/seccnt_bench.py [--out build/bench/seccnt.json]

Builds (shipped model, build/firmware) the bootloader with a freshly generated test key and
the slot images signed with it (security counters 2 and 5), then on QEMU: the stored counter
after each step of an update, an old image with the newer slot erased, and a power cut in the
middle of the counter's raise. Then runs the real `hushkit flash` / `hushkit model push` on
tampered images against a listening TCP port and records whether anything connected to it.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flash_fixtures as ff  # noqa: E402
import sign_fixtures as sf  # noqa: E402

from hushkit import firmware_build, flash_image, targets  # noqa: E402
from hushkit import protocol as p  # noqa: E402
from hushkit.client import DeviceError  # noqa: E402
from hushkit.flash import FlashError, flash, to_bootloader  # noqa: E402

LAYOUT = sf.LAYOUT


def counter_cases(rig: ff.FlashRig, keyed: sf.KeyedRig, work: Path) -> dict:
    out = {}
    path = keyed.fresh_flash("bench.bin")
    raised = keyed.slot_image("raised", "app1")
    with rig.device(path) as (client, _):
        out["fresh device"] = client.security_counter()["value"]
        out["0.1.0 (counter 2) flashed and confirmed"] = flash(
            client, keyed.images["old"], progress=False
        ).device_security_counter
        to_bootloader(client)
        sf.write_raw(client, raised, "app1")
        client.mark_pending(sf.index("app1"))
        out["0.1.1 (counter 5) written and marked pending"] = client.security_counter()["value"]
        sf.set_copy_done(client, "app1")
        client.boot()
        client.wait_identity(lambda i: i.mode == p.BootMode.APPLICATION)
        out["0.1.1 booted once, never confirmed (reverted)"] = client.security_counter()["value"]
        out["0.1.1 (counter 5) flashed and confirmed"] = flash(
            client, keyed.images["raised"], progress=False
        ).device_security_counter
        to_bootloader(client)
        try:
            client.mark_pending(sf.index("app0"))
            out["MARK_PENDING 0.1.0 (counter 2)"] = "ACCEPTED"
        except DeviceError as exc:
            out["MARK_PENDING 0.1.0 (counter 2)"] = p.Status(exc.status).name
        client.erase(LAYOUT.region("app1").start, LAYOUT.sector)
        client.boot()
        ident = client.wait_identity(lambda i: True)
        out["app1 erased, reset: the device runs"] = (
            f"{ident.mode.name.lower()} ({ident.reason.name.lower()})"
        )
        try:
            flash(client, keyed.images["old"], progress=False)
            out["hushkit flash 0.1.0 (counter 2)"] = "flashed"
        except FlashError as exc:
            out["hushkit flash 0.1.0 (counter 2)"] = f"{p.Status(exc.status).name}: {exc}"
    base = keyed.fresh_flash("cut-base.bin")
    with rig.device(base) as (client, _):
        flash(client, keyed.images["old"], progress=False)
    count = ff.copy(base, work / "count.bin")
    with rig.device(count) as (client, _):
        flash(client, keyed.images["raised"], progress=False)
        total = client.identify().flash_ops
    torn = ff.copy(base, work / "torn.bin")
    with rig.device(torn, power_cut_at=total) as (client, emu):
        try:
            flash(client, keyed.images["raised"], progress=False)
        except (DeviceError, FlashError, OSError):
            pass
        emu.wait(10)
    out["power cut in the raise 2 -> 5: stored (value, records)"] = list(sf.stored_counter(torn))
    with rig.device(torn) as (client, _):
        client.wait_identity(lambda i: i.mode == p.BootMode.APPLICATION)
        out["after the restart"] = client.security_counter()["value"]
    return out


def _cli_refusal(argv: list[str]) -> tuple[str, bool]:
    """Run hushkit with --port on a listening socket: (its stderr, whether it connected)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        port = server.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "hushkit.cli", *argv, "--port", f"socket://127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        try:
            server.accept()[0].close()
            connected = True
        except TimeoutError:
            connected = False
    return f"exit {run.returncode}: {run.stderr.strip().splitlines()[-1]}", connected


def precheck_cases(keyed: sf.KeyedRig, work: Path) -> dict:
    image = keyed.images["raised"]
    good = image.read_bytes()
    model = work / "m.tflite"
    model.write_bytes(bytes(range(256)) * 8)
    model_img = flash_image.sign_model(model, work / "m.img", ff.TARGET, LAYOUT.model_slots[0],
                                       LAYOUT, "0.1.1", key=keyed.keys["a"])  # fmt: skip
    flipped = bytearray(good)
    flipped[0x200 + 1000] ^= 0x01
    cases = {
        "flash: one image bit flipped": ("flash", bytes(flipped), "a"),
        "flash: one image bit flipped, SHA-256 TLV fixed": ("flash", sf.flip_body_bit(good), "a"),
        "flash: one signature bit flipped": ("flash", sf.flip_signature_bit(good), "a"),
        "flash: checked against another key": ("flash", good, "b"),
        "flash: image bit flipped, hash fixed, no --key": ("flash", sf.flip_body_bit(good), None),
        "model push: one signature bit flipped (.img)": (
            "model", sf.flip_signature_bit(model_img.read_bytes()), "a"),
        "model push: checked against another key (.img)": ("model", model_img.read_bytes(), "b"),
    }  # fmt: skip
    out = {}
    for what, (command, data, key) in cases.items():
        bad = work / what.replace(" ", "_").replace(":", "").replace(",", "") / "x-slot0"
        bad.mkdir(parents=True)
        path = bad / ("firmware.img" if command == "flash" else "model.img")
        path.write_bytes(data)
        argv = ["flash", str(path)] if command == "flash" else ["model", "push", str(path)]
        if key is not None:
            argv += ["--key", str(keyed.keys[key])]
        line, connected = _cli_refusal(argv)
        out[what] = {"result": line, "port_opened": connected}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=targets.REPO_ROOT / "build/bench/seccnt.json")
    args = parser.parse_args()
    work = targets.REPO_ROOT / "build" / "bench" / "seccnt"
    rig = ff.make_rig(firmware_build.DEFAULT_MODEL_DIR, targets.BUILD_ROOT, work)
    with tempfile.TemporaryDirectory() as tmp:
        keyed = sf.make_keyed_rig(rig, targets.BUILD_ROOT.parent / "firmware-keyed", Path(tmp))
        keyed.images["raised"] = ff.sign_versions(
            rig.slot_elfs, keyed.work / "raised", "0.1.1", key=keyed.keys["a"],
            security_counter=5,
        )  # fmt: skip
        report = {
            "keyed_bootloader_flash_bytes": firmware_build.memory_usage(
                keyed.boot_bin.with_suffix(".elf")
            )["flash_bytes"],
            "counter": counter_cases(rig, keyed, Path(tmp)),
            "host_precheck": precheck_cases(keyed, Path(tmp)),
        }
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
