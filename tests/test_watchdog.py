"""The watchdog: a stuck hop resets the device into a safe state, and a trial image that
hangs is rolled back by the bootloader.

The QEMU cases run firmware built with the test suite's fault injection (the FAULT command,
compiled in only with `test_hooks`; a release build answers it UNKNOWN_OPCODE), in their own
build folder. FAULT makes the next PROCESS hop spin forever without feeding the watchdog; the
emulated board's CMSDK watchdog then raises NMI and the firmware resets. Everything checked
comes back over the protocol: STATS (reset count, what hung), SET (bypass), PROCESS output,
IDENTIFY (which slot runs).
"""

from __future__ import annotations

import shutil
import time

import flash_fixtures as ff
import numpy as np
import pytest
from conftest import TEST_BUILD_ROOT

from hushkit import flash_layout, framing, payloads
from hushkit import protocol as p
from hushkit.client import DeviceClient, DeviceError, Stats
from hushkit.emulator import QEMU, Emulator
from hushkit.flash import flash
from hushkit.ops import format_watchdog
from hushkit.transport import open_link

HOOKS_BUILD_ROOT = TEST_BUILD_ROOT.with_name("test-firmware-hooks")
# Watchdog time-out while the injected hang runs: short, so the test spins ~20 M instructions
# instead of the board's 500 ms (500 M instructions under -icount).
FAULT_TIMEOUT_MS = 20
# How long a reset device gets to answer again (QEMU restarts the image in well under 1 s).
COME_BACK_S = 30.0
LINK_TIMEOUT_S = 3.0


def _fault(client: DeviceClient) -> bytes:
    payload = payloads.FAULT_REQUEST.pack(kind=p.FaultKind.HANG_HOP, timeout_ms=FAULT_TIMEOUT_MS)
    return client.transact(p.Opcode.FAULT, payload)


def _hang_one_hop(client: DeviceClient, hop: int) -> None:
    """Arm the hang and send one hop without waiting for a reply (there is none: a retry of
    the request could reach the reset device and run there)."""
    _fault(client)
    request = payloads.PROCESS_REQUEST.pack(n_hops=1, flags=0) + bytes(2 * hop)
    frame = framing.Frame(p.Opcode.PROCESS, 0x7FFF, request)
    client.link.write(framing.DELIMITER + framing.encode_frame(frame))


def _wait_until_answering(client: DeviceClient) -> None:
    """Poll INFO until the reset device answers (requests sent while it spins are lost)."""
    deadline = time.monotonic() + COME_BACK_S
    client.timeout = 0.5
    while True:
        try:
            client.info()
            break
        except DeviceError:
            if time.monotonic() > deadline:
                raise
    client.timeout = LINK_TIMEOUT_S


def _speech_like(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(n) / 16000
    x = 6000 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return np.clip(x + rng.normal(0, 800, n), -32768, 32767).astype(np.int16)


def test_stats_line_names_the_reason_and_the_bypass():
    quiet = format_watchdog(Stats(0, 0, 0, 0, p.CostSource.NONE, 0, 0, 0))
    assert quiet == "watchdog resets   0"
    tripped = Stats(
        0, 0, 0, 0, p.CostSource.NONE, 0, 0, 0,
        watchdog_resets=2, watchdog_reason=p.WatchdogPhase.HOP, watchdog_rollbacks=1,
        watchdog_last_boot=1,
    )
    line = format_watchdog(tripped)
    assert "resets   2" in line and "stuck in a PROCESS hop" in line
    assert "1 trial images rolled back" in line and "bypassed" in line
    assert "phase 99" in format_watchdog(Stats(0, 0, 0, 0, p.CostSource.NONE, 0, 0, 0,
                                               watchdog_resets=1, watchdog_reason=99))


@pytest.mark.qemu
def test_release_firmware_refuses_fault_injection(emulator):
    """The build users get has no FAULT command, and reports no watchdog reset."""
    emu = emulator("qemu-m4")
    with open_link(emu.url, timeout=LINK_TIMEOUT_S) as link:
        client = DeviceClient(link, timeout=LINK_TIMEOUT_S)
        with pytest.raises(DeviceError) as err:
            _fault(client)
        assert err.value.status == p.Status.UNKNOWN_OPCODE
        stats = client.stats()
        assert (stats.watchdog_resets, stats.watchdog_last_boot) == (0, 0)
        assert client.set().bypass is False


@pytest.fixture(scope="module")
def hooks_elf(firmware_model):
    from hushkit import firmware_build

    if shutil.which(firmware_build.TOOLCHAIN_CC) is None or shutil.which(QEMU) is None:
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    return firmware_build.build(
        "qemu-m4", firmware_model[1], build_root=HOOKS_BUILD_ROOT, test_hooks=True
    ).elf


@pytest.mark.slow
@pytest.mark.qemu
def test_stuck_hop_resets_into_bypass_and_is_counted(hooks_elf):
    with Emulator("qemu-m4", hooks_elf) as emu, open_link(emu.url, timeout=LINK_TIMEOUT_S) as link:
        client = DeviceClient(link, timeout=LINK_TIMEOUT_S)
        info = client.info()
        x = _speech_like(info.hop * 40)
        modelled = client.process(x).pcm
        before = client.stats()
        assert before.watchdog_resets == 0 and before.hops == 40

        _hang_one_hop(client, info.hop)
        _wait_until_answering(client)

        stats = client.stats()
        assert stats.watchdog_resets == 1
        assert stats.watchdog_reason == p.WatchdogPhase.HOP
        assert stats.watchdog_last_boot == 1
        assert stats.hops == 0  # a fresh boot: the hung request was not half-applied
        assert client.set().bypass is True  # safe state: audio passes the model by

        bypassed = client.process(x).pcm
        client.reset()
        client.set(bypass=True)
        assert np.array_equal(client.process(x).pcm, bypassed)  # it is the bypass path
        client.reset()
        client.set(bypass=False)  # the host may turn the model back on
        assert np.array_equal(client.process(x).pcm, modelled)
        assert not np.array_equal(bypassed, modelled)

        # It counts every reset, and a second hang is caught the same way.
        _hang_one_hop(client, info.hop)
        _wait_until_answering(client)
        assert client.stats().watchdog_resets == 2


@pytest.fixture(scope="module")
def hooks_rig(firmware_model, tmp_path_factory) -> ff.FlashRig:
    return ff.rig_or_skip(
        firmware_model[1], HOOKS_BUILD_ROOT, tmp_path_factory.mktemp("wdflash"), test_hooks=True
    )


@pytest.mark.slow
@pytest.mark.qemu
def test_trial_image_that_trips_the_watchdog_is_rolled_back(hooks_rig):
    """The new image confirms itself at start-up, then hangs in its first run: the bootloader
    erases it and boots the previous image again."""
    layout = flash_layout.get(ff.TARGET)
    app0 = layout.regions.index(layout.region("app0"))
    app1 = layout.regions.index(layout.region("app1"))
    path = ff.flashed(hooks_rig)  # old image confirmed in app0
    with hooks_rig.device(path) as (client, _):
        result = flash(client, hooks_rig.new, progress=False)
        assert (result.slot, result.state) == ("app1", "confirmed")
        assert client.identify().running_slot == app1
        info = client.info()
        _hang_one_hop(client, info.hop)
        client.timeout = LINK_TIMEOUT_S
        ident = client.wait_identity(
            lambda i: i.mode == p.BootMode.APPLICATION and i.running_slot == app0, COME_BACK_S
        )
        assert ident.slot(app1).state in (p.SlotState.EMPTY, p.SlotState.INVALID)
        stats = client.stats()
        assert (stats.watchdog_resets, stats.watchdog_rollbacks) == (1, 1)
        assert stats.watchdog_reason == p.WatchdogPhase.HOP
        assert client.set().bypass is True

        # The old image is no trial: a hang there is counted but rolls nothing back.
        _hang_one_hop(client, info.hop)
        client.timeout = LINK_TIMEOUT_S
        ident = client.wait_identity(
            lambda i: i.mode == p.BootMode.APPLICATION and i.running_slot == app0, COME_BACK_S
        )
        stats = client.stats()
        assert (stats.watchdog_resets, stats.watchdog_rollbacks) == (2, 1)
