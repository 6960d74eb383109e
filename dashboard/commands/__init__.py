"""The `orca-dashboard` commands, one module each; every module has COMMAND, add_parser, run.

``add_parser(subparsers)`` adds the command's arguments; ``run(args) -> int`` does the work and
returns the exit code. dashboard.cli lists the modules in one table and dispatches to them.
"""

from __future__ import annotations

import argparse


class CliError(Exception):
    """A failure to report in plain words (no traceback) with a non-zero exit."""


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
