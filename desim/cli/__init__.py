"""The ``desim`` command: the top-level parser and the exit codes; one module per command.

Every error a user can fix (an unknown name, a malformed ``--set``, an unwritable folder)
is printed as one line naming the problem and the fix, with exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

import desim
from desim.cli import compare, dram, platforms, regress, run, sweep, trace, train, workloads
from desim.errors import DesimError, SimulationStalled
from desim.lock import STAGING_PREFIX

__all__ = ["build_parser", "main"]

COMMANDS = (run, train, platforms, workloads, trace, regress, dram, compare, sweep)


class Parser(argparse.ArgumentParser):
    """An argument parser whose refusals are one ``desim: error:`` line, as desim's own
    are (the subcommands' parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"desim: error: {self.prog}: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``desim`` parser with every command module's subcommand registered."""
    parser = Parser(
        prog="desim", description="Cycle-approximate discrete-event simulator of TinyML SoCs.")
    parser.add_argument("--version", action="version", version=f"desim {desim.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that every clean-up runs as for Ctrl-C."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def _interrupted(exc: KeyboardInterrupt) -> int:
    """Say the run was interrupted or terminated; its exit code."""
    terminated = isinstance(exc, Terminated)
    print(f"desim: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
    return 143 if terminated else 130


def _wrapped_interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt (or :class:`Terminated`) behind ``exc``, when a library
    raised its own error from one (an extension module's import interrupted, say)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``desim`` command; return its exit code (2 on a user error, 3 on a stall,
    130 when interrupted, 143 when terminated)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        code: Any = args.func(args)
    except SimulationStalled as exc:
        print(f"desim: error: {exc}", file=sys.stderr)
        return 3
    except DesimError as exc:
        print(f"desim: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. head)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except OSError as exc:  # the machine's fault, not desim's: a full disk, a read-only folder
        print(f"desim: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except (OverflowError, MemoryError) as exc:  # numbers beyond what the models handle
        print(f"desim: error: a value overflowed ({type(exc).__name__}: {exc}): a parameter "
              "or a model dimension is far beyond what real designs use; check the --set "
              "values and the model's shapes", file=sys.stderr)
        return 2
    except Exception as exc:
        signal_ = _wrapped_interrupt(exc)
        if signal_ is not None:  # a library turned Ctrl-C or SIGTERM into its own error
            return _interrupted(signal_)
        cache = _numba_cache(exc)
        if cache is None:
            raise
        print(f"desim: error: the compiled-kernel cache {cache} is unreadable "
              f"({type(exc).__name__}: {exc}); delete that folder (desim compiles its kernels "
              "again) or set NUMBA_CACHE_DIR to another folder", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return int(code or 0)


def _one_line(exc: DesimError) -> str:
    """The message of ``exc`` on one line, unless it is a platform script's error (its
    first line, then the frames of the script)."""
    text = str(exc)
    if text.startswith("platform script "):
        return text
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _os_error(exc: OSError) -> str:
    """An operating-system error as one line: what failed on which file, and the fix. A
    file being staged is named by where it was going (``out/summary.json``)."""
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f" {re.sub(_STAGED, '', str(exc.filename))}" if exc.filename else ""
    fix = {errno.ENOSPC: "free some space or write elsewhere (-o)",
           errno.EDQUOT: "free some space or write elsewhere (-o)",
           errno.EROFS: "write to another folder (-o)",
           errno.EACCES: "check its permissions or write elsewhere (-o)",
           errno.EPERM: "check its permissions or write elsewhere (-o)",
           errno.EISDIR: "give a file path, not a folder",
           errno.ENOTDIR: "check the path"}.get(exc.errno or 0, "check the path and the disk")
    return f"cannot access{where}: {what}; {fix}"


#: the staging folder in a path (desim.result.staged)
_STAGED = re.compile(re.escape(os.sep + STAGING_PREFIX) + r"[^" + re.escape(os.sep) + "]+")


def _numba_cache(exc: BaseException) -> str | None:
    """The numba cache folder whose files ``exc`` (or the error it re-raises, as SimPy
    does for a process's exception) was raised reading, if it was."""
    seen: BaseException | None = exc
    while seen is not None:
        tb = seen.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_globals.get("__name__") == "numba.core.caching":
                folder = getattr(frame.f_locals.get("self"), "_cache_path", None)
                if folder:
                    return str(folder)
            tb = tb.tb_next
        seen = seen.__cause__
    return None
