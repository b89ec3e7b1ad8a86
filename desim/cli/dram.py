"""``desim dram-replay``: replay a DRAM request trace through the controller model."""

from __future__ import annotations

import argparse
import json
from typing import Any

from desim.cli.args import parse_sets

#: the format of a trace line, as the help and the errors give it
FORMAT = "'<hex address> READ|WRITE <arrival cycle>' per line, cycles from 0, # comments"
#: the latest arrival a trace may hold: 2^48 cycles is two days at 1.6 GHz, and keeps
#: every cycle count of the controller far below its 62-bit horizon
MAX_ARRIVAL = 2**48


def cmd_dram_replay(args: argparse.Namespace) -> int:
    """Replay a DRAM request trace and print its metrics."""
    from desim.hw.dram.replay import format_result, replay
    from desim.hw.dram.spec import preset
    from desim.limits import Work, check

    spec = preset(args.preset).with_overrides(parse_sets(args.set, example="tCCD_L=6"))
    trace = _read(args.trace, spec)
    last = max(trace.arrivals)
    refreshes = last // spec.tREFI if spec.refresh else 0
    check(Work(replay_requests=len(trace), refreshes=refreshes), args.max_minutes,
          instead="replay a shorter trace (or --set refresh=false)")
    result = replay(trace, spec)
    print(json.dumps(result.metrics()) if args.json else format_result(result, args.trace))
    return 0


def _read(path: str, spec: Any) -> Any:
    """The trace at ``path``, checked against ``spec``; every error names the file and the
    line format."""
    import zlib

    from desim.errors import SpecError
    from desim.hw.dram.replay import read_trace

    try:
        trace = read_trace(path, spec)
    except SpecError as exc:
        text = str(exc)
        if "READ|WRITE" in text:
            raise
        raise SpecError(f"{text}; a trace holds {FORMAT}") from None
    except (zlib.error, EOFError, OSError, ValueError) as exc:  # a damaged .gz file
        raise SpecError(f"trace {path}: unreadable ({type(exc).__name__}: {exc}); give a "
                        f"text trace or a .gz of one, {FORMAT}") from None
    late = next((i for i, t in enumerate(trace.arrivals) if t > MAX_ARRIVAL), None)
    if late is not None:
        raise SpecError(f"trace {path}: request {late + 1} arrives at cycle "
                        f"{trace.arrivals[late]:,}, beyond the {MAX_ARRIVAL:,} cycles desim "
                        "replays; give arrivals below that")
    return trace


def add_parser(sub: Any) -> None:
    """Register ``desim dram-replay`` on the top-level subparsers."""
    from desim.hw.dram.spec import PRESETS
    from desim.limits import DEFAULT_MAX_MINUTES

    dr = sub.add_parser("dram-replay", help="replay a DRAM trace through the controller model",
                        description=cmd_dram_replay.__doc__)
    dr.add_argument("trace", metavar="TRACE", help=f"trace file (plain or .gz): {FORMAT}")
    dr.add_argument("--preset", default="ddr4_3200", metavar="NAME",
                    help=f"DRAM part: {', '.join(PRESETS)} (default: ddr4_3200)")
    dr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a DRAM parameter, e.g. --set tCCD_L=6 (repeatable)")
    dr.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    dr.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_MINUTES, metavar="M",
                    help="refuse a replay estimated to take longer than M minutes (default: "
                         f"{DEFAULT_MAX_MINUTES:g}; 0: no limit)")
    dr.set_defaults(func=cmd_dram_replay)
