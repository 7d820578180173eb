"""The root of every error hushkit reports to its user.

Anything the user can fix — a missing or unreadable file, an option out of range, a port
that will not open, a device that does not answer — is raised as a `HushkitError` (or a
subclass) with a message that says what went wrong and what to do. The command line catches
it once (`hushkit.cli.main`) and prints that one line; `--debug` adds the traceback. Other
exceptions are bugs: they too end in one line without `--debug`, marked as internal.
"""

from __future__ import annotations


class HushkitError(Exception):
    """A problem the user can fix; `str(exc)` is the one line shown to them."""

    exit_code = 1


class UsageError(HushkitError, ValueError):
    """Bad arguments or paths, found before any work starts."""

    exit_code = 2


class InputError(HushkitError, ValueError):
    """An input file (audio, model, checkpoint) that cannot be used."""

    exit_code = 2
