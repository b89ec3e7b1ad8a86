"""Argument parsing shared by the commands: the one KEY=VALUE parser behind every ``--set``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from desim.errors import SpecError


def parse_sets(items: Sequence[str], option: str = "--set",
               example: str = "cluster.n_cores=16") -> dict[str, str]:
    """``KEY=VALUE`` items as a dict (a later key wins); a malformed item is a SpecError
    naming ``option``, the item and an example fix."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} {example}")
        out[key.strip()] = value.strip()
    return out


def add_limits(parser: argparse.ArgumentParser, what: str = "run") -> None:
    """The ``--trace-cap`` and ``--max-minutes`` options of a simulating command."""
    from desim.limits import DEFAULT_MAX_MINUTES, DEFAULT_TRACE_CAP

    parser.add_argument("--trace-cap", type=int, default=DEFAULT_TRACE_CAP, metavar="N",
                        help="keep at most N trace records (about 170 B each; default: "
                             f"{DEFAULT_TRACE_CAP:,}; 0: no cap); later ones are dropped, "
                             "with a warning")
    parser.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_MINUTES,
                        metavar="M", help=f"refuse a {what} estimated to take longer than M "
                        f"minutes to simulate (default: {DEFAULT_MAX_MINUTES:g}; 0: no limit)")


def warn_dropped(result: Any, cap: int) -> None:
    """Say on stderr when the trace reached its cap and dropped records."""
    rec = result.tracer
    if rec is not None and rec.dropped:
        print(f"desim: warning: the trace reached its cap of {cap:,} records and dropped "
              f"{rec.dropped:,} more (their timing is in the summary); raise the cap with "
              "--trace-cap N (0: no cap)", file=sys.stderr)
