"""`hushkit emulate`: boot a firmware ELF on QEMU with its UART0 on a local TCP port.

    with Emulator("qemu-m4", elf) as emu:
        link = serial.serial_for_url(emu.url)   # "socket://127.0.0.1:PORT"

QEMU runs with `-icount shift=0,align=off,sleep=off`: every guest instruction advances virtual
time by exactly 1 ns, so the firmware's SysTick cost counter is deterministic and reads in
instructions (see firmware/hal/include/hal_timer.h). Semihosting is on, so a firmware that
calls hal_sys_exit(code) makes QEMU exit with that status.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hushkit import targets

QEMU = "qemu-system-arm"
# QEMU opens its TCP server within tens of milliseconds; allow for a loaded machine.
START_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02
# After terminate(), how long QEMU gets before it is killed.
STOP_TIMEOUT_S = 3.0
ICOUNT = "shift=0,align=off,sleep=off"


class EmulatorError(RuntimeError):
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


def _check_runnable(elf: Path) -> None:
    if shutil.which(QEMU) is None:
        raise EmulatorError(f"{QEMU} not found: apt-get install qemu-system-arm")
    if not Path(elf).is_file():
        raise EmulatorError(f"{elf} not found: build it with `hushkit build`")


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
            _check_runnable(self.elf)
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
                raise EmulatorError(
                    f"QEMU exited with status {self.process.returncode}:\n{self.output()}"
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
    _check_runnable(elf)
    return subprocess.run(
        qemu_command(target, Path(elf), "stdio", icount),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_emulate(args: argparse.Namespace) -> int:
    if args.flash is not None:
        from hushkit import flash_emulate

        return flash_emulate.run(args)
    try:
        with Emulator(args.target, args.elf, icount=not args.no_icount) as emu:
            print(f"{emu.target.name} on {emu.target.machine}: {emu.elf}")
            print(f"serial: {emu.url}  (Ctrl-C stops)", flush=True)
            status = emu.wait()
            print(emu.output(), end="", file=sys.stderr)
            print(f"firmware exited with status {status}")
            return status
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emulate",
        help="boot the firmware on QEMU with a TCP serial port",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", default=targets.DEFAULT_TARGET, choices=list(targets.TARGETS))
    parser.add_argument(
        "--elf", type=Path, default=None, help="firmware to boot (default: the target's build)"
    )
    parser.add_argument(
        "--flash",
        type=Path,
        default=None,
        metavar="FILE",
        help="boot hushkit's bootloader from this persistent flash file (created erased, "
        "holding only the bootloader, when missing); the application comes from `hushkit flash`",
    )
    parser.add_argument(
        "--no-icount",
        action="store_true",
        help="run as fast as possible (cost counters then vary from run to run)",
    )
    parser.set_defaults(func=run_emulate)
