"""Signed-image benchmark: what the Ed25519 check costs and what a keyed bootloader refuses.

    python tests/sign_bench.py [--out build/bench/sign.json]

Builds (shipped model, build/firmware) the bootloader without and with a freshly generated
test key, the slot images signed with it, and on QEMU (-icount shift=0): flashes a signed
image (the bootloader reports the instructions one signature check took), then tries each
refused case of tests/test_flash_sign.py and prints the device's answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flash_fixtures as ff  # noqa: E402
import sign_fixtures as sf  # noqa: E402

from hushkit import firmware_build, protocol, targets  # noqa: E402
from hushkit.client import DeviceError  # noqa: E402
from hushkit.flash import flash, to_bootloader  # noqa: E402


def try_case(client, data: bytes, slot: str) -> str:
    to_bootloader(client)
    sf.write_raw(client, data, slot)
    try:
        client.mark_pending(sf.index(slot))
    except DeviceError as exc:
        return protocol.Status(exc.status).name if exc.status is not None else str(exc)
    return "ACCEPTED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=targets.REPO_ROOT / "build/bench/sign.json")
    args = parser.parse_args()
    work = targets.REPO_ROOT / "build" / "bench" / "sign"
    rig = ff.make_rig(firmware_build.DEFAULT_MODEL_DIR, targets.BUILD_ROOT, work)
    plain = firmware_build.memory_usage(rig.boot_bin.with_suffix(".elf"))
    with tempfile.TemporaryDirectory() as tmp:
        keyed = sf.make_keyed_rig(rig, targets.BUILD_ROOT.parent / "firmware-keyed", Path(tmp))
        report = {
            "bootloader_flash_bytes": {
                "without_key": plain["flash_bytes"],
                "with_key": firmware_build.memory_usage(keyed.boot_bin.with_suffix(".elf"))[
                    "flash_bytes"
                ],
            },
        }
        path = keyed.fresh_flash("bench.bin")
        with rig.device(path) as (client, _):
            result = flash(client, keyed.images["old"], progress=False)
            report["valid signature"] = result.state
            report["signature_check_instructions"] = sf.verify_instructions(
                result.signature_check
            )
            new = keyed.slot_image("new", "app1")
            other = keyed.slot_image("other_key", "app1")
            cases = {
                "body bit flipped, hash fixed": sf.flip_body_bit(new),
                "signature bit flipped": sf.flip_signature_bit(new),
                "another key": other,
                "another key, forged key hash": sf.forge_keyhash(other, keyed.keys["a"]),
                "unsigned": keyed.slot_image("unsigned", "app1"),
            }
            for what, data in cases.items():
                report[what] = try_case(client, data, "app1")
            client.boot()
            ident = client.wait_identity(lambda i: i.running_slot is not None)
            report["boots afterwards"] = ident.slot(ident.running_slot).image_hash == (
                result.image_sha256
            )
            assert flash(client, keyed.images["new"], progress=False).state == "confirmed"
            report["older version (0.1.0 after 0.1.1)"] = try_case(
                client, keyed.slot_image("old", "app0"), "app0"
            )
            report["newer version, lower security counter"] = try_case(
                client, keyed.slot_image("newer_counter_down", "app0"), "app0"
            )
    report["bootloader_flash_bytes"]["key_costs"] = (
        report["bootloader_flash_bytes"]["with_key"]
        - report["bootloader_flash_bytes"]["without_key"]
    )
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
