"""The contract every bad input must meet, checked on one call of the CLI or the API.

A CLI call ends with exit code 0 (the input was fine after all) or 2 (a user error;
``regress check`` may also end with 1, a figure that differs). On 2, standard error holds
exactly one line, ``desim: error: ...``, naming the field or file at fault and the fix. No
traceback in any case, no call lasts longer than :data:`TIME_LIMIT_S`, a failed call
leaves no output behind, and no file the call did not name as output changes. An API call
returns or raises :class:`desim.errors.DesimError`, within the same time limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import signal
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desim.errors import DesimError

#: seconds one case may take; a run of the small workloads the surfaces use takes < 1 s
TIME_LIMIT_S = 30.0

#: words by which an error message tells the user what to do about it
FIX = re.compile(
    r"\b(give|set|use|choose|export|download|re-run|re-record|re-export|re-save|convert|save|remove|delete|"
    r"fix|drop|pick|install|expected|must|needs?|supported|did you mean|available|valid|"
    r"only|create|raise|lower|enlarge|wait|rename|write|record|align|try|run|return|e\.g|"
    r"presets)\b", re.I)


class Hang(BaseException):
    """A case ran past its time limit (a BaseException, so no handler in desim eats it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` of wall time."""
    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (relative path -> content hash or 'dir')."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            try:
                digest = hashlib.sha1(Path(p).read_bytes()).hexdigest()
            except OSError as exc:
                digest = f"unreadable {exc.errno}"
            out[os.path.relpath(p, root)] = digest
    return out


@dataclass
class Call:
    """One CLI call of a case: its arguments, the folder it runs in, what it may write and
    what a refusal must name."""

    argv: list[str]
    root: Path
    #: files or folders the call names as output (relative to ``root`` or absolute)
    outputs: Sequence[Path | str] = ()
    #: an error must mention one of these (case-insensitive): the field, key or file
    names: Sequence[str] = ()
    #: exit codes that mean success (besides 2, a refusal)
    ok_codes: Sequence[int] = (0,)


@dataclass
class Outcome:
    """What a call did."""

    code: int | None
    out: str
    err: str
    escaped: str | None = None  # the traceback of an exception that left desim.cli.main
    hang: bool = False
    seconds: float = 0.0
    changed: list[str] = field(default_factory=list)


def _under(rel: str, outputs: Sequence[str]) -> bool:
    return any(rel == o or rel.startswith(o + os.sep) for o in outputs)


def run_cli(call: Call, time_limit_s: float = TIME_LIMIT_S) -> Outcome:
    """Run ``desim.cli.main(call.argv)`` in-process in ``call.root``; record what it did."""
    from desim.cli import main

    before = snapshot(call.root)
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    escaped, hang = None, False
    cwd = os.getcwd()
    t0 = time.perf_counter()
    try:
        os.chdir(call.root)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                time_limit(time_limit_s):
            code = main(call.argv)
    except Hang:
        hang = True
    except SystemExit as exc:  # argparse refuses a malformed command line with 2
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - anything escaping main is a violation
        escaped = traceback.format_exc()
    finally:
        os.chdir(cwd)
    seconds = time.perf_counter() - t0
    after = snapshot(call.root)
    outputs = [os.path.relpath(Path(call.root, o), call.root) for o in call.outputs]
    changed = sorted(k for k in before.keys() | after.keys()
                     if before.get(k) != after.get(k) and (code not in call.ok_codes
                                                           or not _under(k, outputs)))
    return Outcome(code, out.getvalue(), err.getvalue(), escaped, hang, seconds, changed)


def violations(call: Call, outcome: Outcome) -> list[str]:
    """Every way ``outcome`` breaks the contract (empty when it keeps it)."""
    bad: list[str] = []
    if outcome.hang:
        bad.append(f"no result within {TIME_LIMIT_S:g} s")
    if outcome.escaped:
        last = outcome.escaped.strip().splitlines()[-1]
        bad.append(f"an exception left main: {last}")
    if "Traceback" in outcome.err:
        bad.append("a traceback on standard error")
    if outcome.code is not None and outcome.code not in (*call.ok_codes, 2):
        bad.append(f"exit code {outcome.code}")
    if outcome.code == 2:  # a sweep's progress lines may come first
        lines = [ln for ln in outcome.err.strip().splitlines()
                 if not ln.startswith("desim sweep: ")]
        if len(lines) != 1 or not lines[0].startswith("desim: error: "):
            bad.append(f"{len(lines)} lines on standard error, not one 'desim: error:' line")
        text = outcome.err.lower()
        if call.names and not any(n.lower() in text for n in call.names):
            bad.append(f"the error names none of {list(call.names)}")
        if not FIX.search(outcome.err):
            bad.append("the error says nothing of a fix")
    if outcome.changed:
        what = "left behind or changed" if outcome.code != 0 else "changed (not an output)"
        bad.append(f"{what}: {', '.join(outcome.changed[:4])}")
    if bad:
        shown = outcome.err.strip().splitlines()
        bad.append(f"(argv {call.argv}; stderr: {shown[-1][:300] if shown else ''!r})")
    return bad


def check_cli(call: Call) -> list[str]:
    """Run ``call`` and return its contract violations."""
    return violations(call, run_cli(call))


def check_api(fn: Callable[[], Any], label: str,
              time_limit_s: float = TIME_LIMIT_S) -> list[str]:
    """Call ``fn``: it must return or raise DesimError within the time limit."""
    try:
        with time_limit(time_limit_s):
            fn()
    except Hang:
        return [f"{label}: no result within {time_limit_s:g} s"]
    except DesimError:
        return []
    except BaseException as exc:  # noqa: BLE001 - anything else is a violation
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return [f"{label}: {type(exc).__name__}: {str(exc)[:200]} "
                f"(at {Path(tb.filename).name}:{tb.lineno})"]
    return []
