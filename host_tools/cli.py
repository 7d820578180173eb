"""`hushkit` command line: one subcommand per job of the pipeline.

Each subcommand lives in the module that does the job and exposes `register(subparsers)`,
which adds its parser and sets `func`. Those modules import heavy libraries (torch,
TensorFlow) inside their functions, so `hushkit --help` and the bench tools stay fast and
work on the light base install.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import traceback

from hushkit import __version__
from hushkit.errors import HushkitError

# (module, in the order the pipeline runs them). Each imports its optional extras (torch,
# TensorFlow, PlatformIO) inside its functions, so every subcommand is listed on the base
# install and a missing extra fails only when its command runs; a module absent from this
# checkout is left out.
COMMAND_MODULES = (
    "hushkit.training.data_cli",
    "hushkit.training.train",
    "hushkit.enhancers",  # enhance, eval: a model file of either stage
    "hushkit.training.operating_point",
    "hushkit.quantize.convert",
    "hushkit.firmware_export",
    "hushkit.firmware_build",
    "hushkit.flash",
    "hushkit.ops",
    "hushkit.faultproxy",
    "hushkit.bench",
    "hushkit.latency",
    "hushkit.demo",
)

EPILOG = """\
the pipeline, in order:
  hushkit data        prepare speech/noise material (Debian packages and your own folders)
  hushkit train       train the streaming mask network
  hushkit eval        score it against classic and published baselines
  hushkit operating-point
                      choose its mask-logit shift on a held-out-source set
  hushkit quantize    int8 TFLite model + parity report
  hushkit export      C array + config header the firmware compiles the model in with
  hushkit build       build the firmware for a target
  hushkit emulate     boot it on QEMU with a TCP serial port
  hushkit stream      stream a WAV file through a board or the emulator
  hushkit latency     delay, compute per hop, deadlines and link round trip of a device
  hushkit flash       flash an image through hushkit's bootloader

`hushkit COMMAND --help` explains each one.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hushkit",
        description="Neural noise suppression for Cortex-M headphone DSP boards.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hushkit {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when a command fails"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("hushkit"):
                continue  # a stage not built yet in this checkout
            raise
        module.register(sub)
    return parser


# Signals that end a command like Ctrl-C does: every `with` block unwinds, so child
# processes (QEMU) stop and temporary files go, before hushkit exits with 128 + the signal.
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _exit_on_signal(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = {sig: signal.signal(sig, _exit_on_signal) for sig in EXIT_SIGNALS}
    try:
        return _run(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except HushkitError as exc:
        # The one place user-facing errors are reported: one line, a traceback on request.
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a bug: still one line unless --debug
        if args.debug:
            raise
        print(f"error: internal error ({type(exc).__name__}: {exc}); run "
              "`hushkit --debug ...` for the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
