"""``desim dram-replay``: replay a DRAM request trace through the controller model."""

from __future__ import annotations

import argparse
import json
from typing import Any

from desim.cli.args import parse_sets


def cmd_dram_replay(args: argparse.Namespace) -> int:
    """Replay a DRAM request trace and print its metrics."""
    from desim.hw.dram.replay import format_result, read_trace, replay
    from desim.hw.dram.spec import preset

    spec = preset(args.preset).with_overrides(parse_sets(args.set, example="tCCD_L=6"))
    result = replay(read_trace(args.trace, spec), spec)
    print(json.dumps(result.metrics()) if args.json else format_result(result, args.trace))
    return 0


def add_parser(sub: Any) -> None:
    """Register ``desim dram-replay`` on the top-level subparsers."""
    from desim.hw.dram.spec import PRESETS

    dr = sub.add_parser("dram-replay", help="replay a DRAM trace through the controller model",
                        description=cmd_dram_replay.__doc__)
    dr.add_argument("trace", metavar="TRACE", help="trace file (plain or .gz)")
    dr.add_argument("--preset", default="ddr4_3200", metavar="NAME",
                    help=f"DRAM part: {', '.join(PRESETS)} (default: ddr4_3200)")
    dr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a DRAM parameter, e.g. --set tCCD_L=6 (repeatable)")
    dr.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    dr.set_defaults(func=cmd_dram_replay)
