"""`hushkit emulate`: boot a firmware ELF on QEMU with its UART0 on a local TCP port.

The serial port is printed as `socket://127.0.0.1:PORT`: give it to `hushkit stream`, `info`,
`stats`, `latency` or `flash` as `--port`. QEMU runs with `-icount shift=0,align=off,sleep=off`,
so every guest instruction advances virtual time by exactly 1 ns and the firmware's cost
counters repeat run after run (`--no-icount` runs as fast as possible instead). With `--flash`
it boots hushkit's bootloader from a persistent flash file, as a board with a bootloader does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hushkit import targets
from hushkit.emulator import Emulator


def run_emulate(args: argparse.Namespace) -> int:
    if args.flash is not None:
        from hushkit import flash_emulate

        return flash_emulate.run(args)
    # EmulatorError is reported by hushkit.cli.main; a signal (SIGTERM from `timeout` or a
    # cancelled CI job) unwinds through Emulator.__exit__, which stops QEMU.
    with Emulator(args.target, args.elf, icount=not args.no_icount) as emu:
        print(f"{emu.target.name} on {emu.target.machine}: {emu.elf}")
        print(f"serial: {emu.url}  (Ctrl-C stops)", flush=True)
        status = emu.wait()
        print(emu.output(), end="", file=sys.stderr)
        print(f"firmware exited with status {status}")
        return status


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
