"""QEMU running a firmware ELF with its UART0 on a local TCP port (`hushkit emulate`).

    with Emulator("qemu-m4", elf) as emu:
        link = serial.serial_for_url(emu.url)   # "socket://127.0.0.1:PORT"

QEMU runs with `-icount shift=0,align=off,sleep=off`: every guest instruction advances virtual
time by exactly 1 ns, so the firmware's SysTick cost counter is deterministic and reads in
instructions (see firmware/hal/include/hal_timer.h). Semihosting is on, so a firmware that
calls hal_sys_exit(code) makes QEMU exit with that status.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hushkit import targets
from hushkit.errors import HushkitError

QEMU = "qemu-system-arm"
# QEMU opens its TCP server within tens of milliseconds; allow for a loaded machine.
START_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02
# After terminate(), how long QEMU gets before it is killed.
STOP_TIMEOUT_S = 3.0
ICOUNT = "shift=0,align=off,sleep=off"


class EmulatorError(HushkitError, RuntimeError):
    pass


def qemu_command(
    target: str,
    elf: Path | None,
    serial: str,
    icount: bool = True,
    flash: Path | None = None,
    power_cut_at: int | None = None,
) -> list[str]:
    """The qemu-system-arm command line for `target` with UART0 on `serial` (a -serial spec).

    With `flash`, the board boots from that flash file instead of an ELF (see
    firmware/hal/flash_emu): it is preloaded at the flash base and named to the firmware on
    the semihosting command line, with `cut=N` when operation N is to lose power."""
    tgt = targets.get(target)
    if not tgt.machine:
        raise EmulatorError(f"{target} is a real board that QEMU does not emulate: flash it")
    cmd = [QEMU, "-machine", tgt.machine, "-nographic", "-monitor", "none"]
    semihosting = "enable=on,target=native"
    if flash is not None:
        flash = Path(flash).resolve()
        cmd += ["-device", f"loader,file={flash},addr=0x0,force-raw=on"]
        semihosting += f",arg={flash}" + (f",arg=cut={power_cut_at}" if power_cut_at else "")
    else:
        cmd += ["-kernel", str(elf)]
    cmd += ["-serial", serial]
    cmd += ["-semihosting-config", semihosting]
    if icount:
        cmd += ["-icount", ICOUNT]
    return cmd


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Where each QEMU machine boots from (its vector table): an ELF whose code lies elsewhere was
# built for another board.
BOOT_REGIONS = {
    "mps2-an386": (0x00000000, 4 << 20),
    "mps2-an500": (0x00000000, 4 << 20),
    "mps2-an505": (0x10000000, 4 << 20),
    "mps3-an547": (0x10000000, 512 << 10),
    "netduinoplus2": (0x08000000, 1 << 20),
}
ELF_MACHINE_ARM = 40
PT_LOAD = 1


def elf_load_addresses(elf: Path) -> list[int]:
    """Physical addresses of an ELF32 little-endian ARM file's loaded segments."""
    data = Path(elf).read_bytes()
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise EmulatorError(f"{elf} is not an ELF file: give the firmware.elf `hushkit build` made")
    if data[4] != 1 or data[5] != 1:
        raise EmulatorError(f"{elf} is not a 32-bit little-endian ELF (not Cortex-M firmware)")
    machine = int.from_bytes(data[18:20], "little")
    if machine != ELF_MACHINE_ARM:
        raise EmulatorError(f"{elf} is not ARM code (ELF machine {machine}): not Cortex-M firmware")
    phoff = int.from_bytes(data[28:32], "little")
    phentsize = int.from_bytes(data[42:44], "little")
    phnum = int.from_bytes(data[44:46], "little")
    addresses = []
    for i in range(phnum):
        at = phoff + i * phentsize
        entry = data[at : at + 32]
        if len(entry) < 32:
            raise EmulatorError(f"{elf} is truncated (program header {i} is cut off)")
        if int.from_bytes(entry[0:4], "little") == PT_LOAD and int.from_bytes(entry[16:20],
                                                                                 "little"):
            addresses.append(int.from_bytes(entry[12:16], "little"))
    return addresses


def check_elf_for_target(elf: Path, target: targets.Target) -> None:
    """Refuse, in one line, an ELF built for another board than `target`."""
    addresses = elf_load_addresses(elf)
    region = BOOT_REGIONS.get(target.machine)
    hint = f"build it with `hushkit build --target {target.name}`"
    if region is not None and addresses:
        base, size = region
        if not any(base <= a < base + size for a in addresses):
            raise EmulatorError(
                f"{elf} was not built for {target.name}: its code starts at "
                f"0x{min(addresses):08x}, {target.machine} boots from 0x{base:08x}; {hint}"
            )
    # The firmware names its target in INFO; a build for another known target holds that name.
    data = Path(elf).read_bytes()
    others = [t for t in targets.TARGETS if t != target.name and f"{t}\0".encode() in data]
    if others and f"{target.name}\0".encode() not in data:
        raise EmulatorError(f"{elf} is a build for {others[0]}, not {target.name}; {hint}")


def _check_runnable(elf: Path, target: targets.Target | None = None) -> None:
    if shutil.which(QEMU) is None:
        raise EmulatorError(f"{QEMU} not found: apt-get install qemu-system-arm")
    if not Path(elf).is_file():
        name = target.name if target else "TARGET"
        raise EmulatorError(f"{elf} not found: build it first with `hushkit build --target {name}`")
    if target is not None:
        check_elf_for_target(Path(elf), target)


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGKILL to QEMU when hushkit dies, however it
    dies (even SIGKILL, which no handler sees). Linux only; elsewhere a no-op."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class Emulator(contextlib.AbstractContextManager):
    """QEMU running `elf` for `target`, UART0 served on 127.0.0.1:`port`.

    QEMU waits (`wait=on`) for the first client before it starts the guest, so nothing the
    firmware sends at boot is lost; connect to `url` after entering the context.
    """

    def __init__(
        self,
        target: str,
        elf: Path | None = None,
        icount: bool = True,
        flash: Path | None = None,
        power_cut_at: int | None = None,
    ):
        self.target = targets.get(target)
        self.elf = Path(elf) if elf else self.target.elf()
        self.icount = icount
        self.flash = Path(flash) if flash is not None else None
        self.power_cut_at = power_cut_at
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._stderr = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def __enter__(self) -> Emulator:
        if self.flash is None:
            _check_runnable(self.elf, self.target)
        elif not self.flash.is_file():
            raise EmulatorError(f"flash file {self.flash} not found")
        self.port = free_port()
        serial = f"tcp:127.0.0.1:{self.port},server=on,wait=on,nodelay=on"
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            qemu_command(
                self.target.name, self.elf, serial, self.icount, self.flash, self.power_cut_at
            ),
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self) -> None:
        """Wait until QEMU listens, without connecting: the first connection is the client's.

        (A probe connection would itself be taken as the client and start the guest early.)
        """
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = " / ".join(line.strip() for line in self.output().splitlines()
                                  if line.strip())[:300]
                raise EmulatorError(
                    f"QEMU exited with status {self.process.returncode}"
                    + (f": {said}" if said else "")
                )
            if _is_listening(self.port):
                return
            time.sleep(POLL_INTERVAL_S)
        raise EmulatorError(f"QEMU did not open port {self.port} in {START_TIMEOUT_S} s")

    def output(self) -> str:
        """What QEMU printed so far (errors, semihosting messages)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the firmware to exit (hal_sys_exit) and return its status."""
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __exit__(self, *exc_info) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


PROC_NET_TCP = Path("/proc/net/tcp")
TCP_LISTEN = "0A"  # socket state in /proc/net/tcp
# Without /proc (not Linux), how long QEMU gets to open its port before the client connects.
BLIND_START_S = 0.5


def _is_listening(port: int) -> bool:
    if not PROC_NET_TCP.exists():
        time.sleep(BLIND_START_S)
        return True
    for line in PROC_NET_TCP.read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == TCP_LISTEN:
            return True
    return False


def run_to_exit(
    target: str, elf: Path, timeout: float = 60.0, icount: bool = True
) -> subprocess.CompletedProcess:
    """Run a firmware that ends with hal_sys_exit(); UART0 goes to the returned stdout."""
    _check_runnable(elf, targets.get(target))
    return subprocess.run(
        qemu_command(target, Path(elf), "stdio", icount),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
