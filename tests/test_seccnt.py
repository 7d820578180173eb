"""The security counter (anti-rollback) and the host's pre-check of images.

- The counter's flash records (firmware/boot/lib/boot_seccnt.c) on a host RAM flash: it only
  grows, a raise that does not raise writes nothing, a full sector refuses further raises,
  and a record torn by a power cut (every byte prefix, 20,000 random subsets of its bits)
  never lowers or invents a value (tests/c/boot/seccnt_harness.c).
- A keyed bootloader on QEMU: the counter rises only when an image is confirmed (not at
  MARK_PENDING, not for an image booted once and never confirmed); once raised, an older
  image is refused at MARK_PENDING and at boot even with the newer slot erased (the
  bootloader then stays, answering commands); a power cut in the middle of the raise keeps
  the old value and the next boot completes it.
- The host pre-check (`hushkit flash --key`, `model push --key`) refuses a flipped bit in
  the image, in the signature, and a wrong key in one line without opening the port.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import flash_fixtures as ff
import pytest
import sign_fixtures as sf

from hushkit import flash_image, flash_layout, flash_verify
from hushkit import protocol as p
from hushkit.client import DeviceError
from hushkit.flash import FlashError, flash, to_bootloader

LAYOUT = sf.LAYOUT
ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "tests" / "c" / "boot" / "seccnt_harness.c"


# ---- the records on a host RAM flash ------------------------------------------------------


def test_counter_records_only_grow_and_survive_torn_writes(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("needs a host C compiler")
    exe = tmp_path / "seccnt"
    includes = [ROOT / "firmware" / d for d in (
        "boot/include", "boot/layout/qemu-m4", "core/include", "hal/include")]  # fmt: skip
    subprocess.run(
        [cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
         *(f"-I{d}" for d in includes), str(HARNESS),
         str(ROOT / "firmware/boot/lib/boot_seccnt.c"), "-o", str(exe)],
        check=True,
    )  # fmt: skip
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "torn writes: 20035 cases, counter never lowered" in run.stdout
    assert "capacity: 256 raises" in run.stdout and run.stdout.endswith("ok\n")


def test_layout_keeps_the_counter_in_a_boot_owned_sector():
    for layout in flash_layout.LAYOUTS.values():
        layout.check()
        state = layout.region("state")
        assert state.start < layout.seccnt_start < state.start + state.size
        # Not writable over the protocol: no application or model slot covers it.
        for r in layout.app_slots + layout.model_slots:
            assert not r.start <= layout.seccnt_start < r.start + r.size
        # The application slots still hold the 192 KB application budget.
        assert all(layout.max_image_size(r) >= 192 * 1024 for r in layout.app_slots)
    small = flash_layout.FlashLayout(**{
        **LAYOUT.__dict__,
        "regions": tuple(
            flash_layout.Region(r.name, r.kind, r.start, LAYOUT.sector) if r.name == "state"
            else r for r in LAYOUT.regions
        ),
    })  # fmt: skip
    with pytest.raises(ValueError, match="two sectors"):
        small.check()


# ---- the host pre-check ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    pytest.importorskip("imgtool")
    root = tmp_path_factory.mktemp("keys")
    return {name: sf.keygen(root / f"{name}.pem") for name in ("a", "b")}


@pytest.fixture
def signed_pair(keys, tmp_path):
    """Slot images for app0 and app1 of one fake build, signed with key a (counter 4)."""
    body = bytes(range(256)) * 16
    (tmp_path / "fw.bin").write_bytes(body)
    paths = {}
    for i, slot in enumerate(LAYOUT.app_slots):
        out = tmp_path / f"fake-slot{i}" / "firmware.img"
        out.parent.mkdir()
        flash_image.sign(tmp_path / "fw.bin", out, ff.TARGET, slot, LAYOUT, "1.0.0",
                         key=keys["a"], security_counter=4)  # fmt: skip
        paths[slot.name] = out
    return paths


def test_precheck_accepts_good_images_and_says_when_it_could_not_check(keys, signed_pair):
    checks = flash_verify.precheck_build(signed_pair["app0"], keys["a"])
    assert set(checks) == {"app0", "app1"}
    assert all(c.signature.startswith("verified with") for c in checks.values())
    assert "security counter 4" in checks["app0"].summary
    unchecked = flash_verify.precheck_build(signed_pair["app0"])["app1"]
    assert "not checked" in unchecked.summary


@pytest.mark.parametrize("where", ["app0", "app1"])
@pytest.mark.parametrize(
    ("tamper", "key", "message"),
    [
        ("image bit", None, "hash does not match"),
        ("image bit, hash fixed", "a", "signature does not verify"),
        ("signature bit", "a", "signature does not verify"),
        ("none", "b", "another key"),
        ("key hash forged", "b", "signature does not verify"),
        ("TLV overrun", None, "past the end"),
    ],
)
def test_flash_refuses_bad_images_without_opening_the_port(
    keys, signed_pair, monkeypatch, capsys, where, tamper, key, message
):
    from hushkit import cli
    from hushkit import flash as flash_mod

    path = signed_pair[where]
    data = path.read_bytes()
    if tamper == "image bit":
        data = bytearray(data)
        data[flash_layout.IMAGE_HEADER_SIZE + 100] ^= 0x04
    elif tamper == "image bit, hash fixed":
        data = sf.flip_body_bit(data)
    elif tamper == "signature bit":
        data = sf.flip_signature_bit(data)
    elif tamper == "key hash forged":
        data = sf.forge_keyhash(data, keys["b"])
    elif tamper == "TLV overrun":
        data = bytearray(data)
        at = sf._tlv_offsets(bytes(data))[flash_layout.TLV_ED25519] - 2
        data[at : at + 2] = struct.pack("<H", 0x400)  # the signature TLV's length
    path.write_bytes(bytes(data))
    opened = []
    monkeypatch.setattr(flash_mod, "open_link", lambda *a, **k: opened.append(a))
    argv = ["flash", str(path), "--port", "socket://127.0.0.1:9"]
    if key is not None:
        argv += ["--key", str(keys[key])]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "refused by the host check" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert opened == []  # the port was never opened


def test_model_push_refuses_a_bad_model_image_without_opening_the_port(
    keys, tmp_path, monkeypatch, capsys
):
    from hushkit import cli
    from hushkit import flash as flash_mod

    model = tmp_path / "m.tflite"
    model.write_bytes(bytes(range(256)) * 8)
    img = flash_image.sign_model(model, tmp_path / "m.img", ff.TARGET, LAYOUT.model_slots[0],
                                 LAYOUT, "1.0.0", key=keys["a"])  # fmt: skip
    opened = []
    monkeypatch.setattr(flash_mod, "open_link", lambda *a, **k: opened.append(a))
    good = flash_verify.precheck_file(img, keys["a"])
    assert good.signature.startswith("verified")
    cases = [(sf.flip_signature_bit(img.read_bytes()), "a", "does not verify"),
             (img.read_bytes(), "b", "another key")]  # fmt: skip
    for data, key, message in cases:
        bad = tmp_path / f"bad-{key}.img"
        bad.write_bytes(data)
        argv = ["model", "push", str(bad), "--port", "socket://127.0.0.1:9", "--key",
                str(keys[key])]  # fmt: skip
        assert cli.main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert opened == []


# ---- a keyed bootloader on QEMU -------------------------------------------------------------


@pytest.fixture(scope="module")
def rig(firmware_model, firmware_build_root, tmp_path_factory) -> ff.FlashRig:
    return ff.rig_or_skip(firmware_model[1], firmware_build_root, tmp_path_factory.mktemp("sc"))


@pytest.fixture(scope="module")
def keyed(rig, firmware_build_root, tmp_path_factory) -> sf.KeyedRig:
    root = firmware_build_root.parent / f"{firmware_build_root.name}-keyed"
    k = sf.make_keyed_rig(rig, root, tmp_path_factory.mktemp("sckeyed"))
    k.images["raised"] = ff.sign_versions(
        rig.slot_elfs, k.work / "raised", "0.1.1", key=k.keys["a"], security_counter=5
    )
    return k


def _counter(client) -> int:
    reply = client.security_counter()
    assert reply is not None and reply["keyed"] == 1
    return reply["value"]


@pytest.mark.slow
@pytest.mark.qemu
def test_counter_rises_on_confirm_only_and_old_images_never_boot_again(rig, keyed, tmp_path):
    path = keyed.fresh_flash("sc.bin")
    raised = keyed.slot_image("raised", "app1")
    with rig.device(path) as (client, _):
        assert _counter(client) == 0  # fresh device (the bootloader answers)
        first = flash(client, keyed.images["old"], progress=False)
        assert (first.state, first.image_security_counter) == ("confirmed", 2)
        assert first.device_security_counter == 2  # raised by the confirm
        # Written and marked pending: not raised. Booted once, never confirmed: not raised.
        to_bootloader(client)
        sf.write_raw(client, raised, "app1")
        client.mark_pending(sf.index("app1"))
        assert _counter(client) == 2
        sf.set_copy_done(client, "app1")
        assert client.identify().slot(sf.index("app1")).state == p.SlotState.TESTING
        client.boot()
        ident = client.wait_identity(lambda i: i.mode == p.BootMode.APPLICATION)
        assert LAYOUT.regions[ident.running_slot].name == "app0"  # reverted
        assert _counter(client) == 2
        # Confirmed: raised.
        result = flash(client, keyed.images["raised"], progress=False)
        assert (result.slot, result.state) == ("app1", "confirmed")
        assert (result.image_security_counter, result.device_security_counter) == (5, 5)
        # The old image (counter 2) still verifies by signature but never runs again ...
        to_bootloader(client)
        assert client.identify().slot(sf.index("app0")).state == p.SlotState.INVALID
        with pytest.raises(DeviceError) as err:
            client.mark_pending(sf.index("app0"))
        assert err.value.status == p.Status.DOWNGRADE
        # ... not even with the newer slot erased: the bootloader stays, protocol alive.
        client.erase(LAYOUT.region("app1").start, LAYOUT.sector)
        client.boot()
        ident = client.wait_identity(lambda i: True)
        assert (ident.mode, ident.reason) == (p.BootMode.BOOTLOADER, p.BootReason.NO_IMAGE)
        assert _counter(client) == 5
        # The host refuses it before writing a byte, with the device's status.
        ops = client.identify().flash_ops
        with pytest.raises(FlashError, match="below the device's 5") as err:
            flash(client, keyed.images["old"], progress=False)
        assert err.value.status == p.Status.DOWNGRADE
        assert client.identify().flash_ops == ops
    # A power cycle keeps it (the flash file), and a new enough image goes in.
    assert sf.stored_counter(path) == (5, 2)
    with rig.device(path) as (client, _):
        assert _counter(client) == 5
        assert flash(client, keyed.images["raised"], progress=False).state == "confirmed"


@pytest.mark.slow
@pytest.mark.qemu
def test_power_cut_in_the_counter_raise_never_lowers_it(rig, keyed, tmp_path):
    base = keyed.fresh_flash("sc-base.bin")
    with rig.device(base) as (client, _):
        assert flash(client, keyed.images["old"], progress=False).device_security_counter == 2
    count = ff.copy(base, tmp_path / "count.bin")
    with rig.device(count) as (client, _):
        assert flash(client, keyed.images["raised"], progress=False).device_security_counter == 5
        total = client.identify().flash_ops  # the raise is the update's last operation
    assert sf.stored_counter(count) == (5, 2)
    torn = ff.copy(base, tmp_path / "torn.bin")
    # Operations count from the emulator's start, so the same update reaches the raise at
    # the same operation number: lose power in the middle of it.
    with rig.device(torn, power_cut_at=total) as (client, emu):
        with pytest.raises((DeviceError, FlashError, OSError)):
            flash(client, keyed.images["raised"], progress=False)
        assert emu.wait(10) == ff.POWER_CUT_EXIT
    value, records = sf.stored_counter(torn)
    assert (value, records) == (2, 2)  # half a record landed: it counts for nothing
    with rig.device(torn) as (client, _):
        ident = client.wait_identity(lambda i: i.mode == p.BootMode.APPLICATION)
        assert LAYOUT.regions[ident.running_slot].name == "app1"  # confirmed before the cut
        assert _counter(client) == 5  # the bootloader completed the raise
    assert sf.stored_counter(torn) == (5, 3)
