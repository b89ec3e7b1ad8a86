"""The ``desim`` command: the top-level parser and the exit codes; one module per command.

Every error a user can fix (an unknown name, a malformed ``--set``, an unwritable folder)
is printed as one line naming the problem and the fix, with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import desim
from desim.cli import compare, dram, platforms, regress, run, sweep, trace, train, workloads
from desim.errors import DesimError, SimulationStalled

__all__ = ["build_parser", "main"]

COMMANDS = (run, train, platforms, workloads, trace, regress, dram, compare, sweep)


def build_parser() -> argparse.ArgumentParser:
    """The ``desim`` parser with every command module's subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="desim", description="Cycle-approximate discrete-event simulator of TinyML SoCs.")
    parser.add_argument("--version", action="version", version=f"desim {desim.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``desim`` command; return its exit code (2 on a user error, 3 on a stall)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        code: Any = args.func(args)
    except SimulationStalled as exc:
        print(f"desim: error: {exc}", file=sys.stderr)
        return 3
    except DesimError as exc:
        print(f"desim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("desim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. head)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    return int(code or 0)
