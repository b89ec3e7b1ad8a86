"""``desim regress ...``: record timing baselines and check a build against them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from desim.cli.args import parse_sets


def cmd_record(args: argparse.Namespace) -> int:
    """Run every platform x workload case and write one baseline JSON per case.

    Without --platform and --workload, re-record every case already in the folder (after
    an intended change of a timing model). With only one of them, the other is the
    default.
    """
    from desim.regress.baseline import Case, baseline_files, load_baseline, record, validate
    from desim.result import output_dir
    from desim.soc.loader import DEFAULT_PLATFORM
    from desim.workload import DEFAULT_WORKLOAD

    overrides = parse_sets(args.set)
    if args.platform or args.workload:
        cases = [Case.make(p, w, args.seed, overrides, args.folder)
                 for p in args.platform or [DEFAULT_PLATFORM]
                 for w in args.workload or [DEFAULT_WORKLOAD]]
    else:
        files = baseline_files(args.folder)
        cases = [load_baseline(p)[0] for p in files]
        validate(cases, args.folder, files)  # a bad file is named before anything runs
    # the folder is locked while recording, and removed again if it was new and nothing
    # was recorded; each baseline appears whole, or not at all
    with output_dir(args.folder, "desim regress record"):
        for path in record(args.folder, cases):
            print(f"wrote {path}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Re-run the case of every baseline in the folder and compare: exit 0 when every
    figure is within the tolerance, 1 when one is not, 2 on bad input."""
    from desim.regress.baseline import check, format_deltas, parse_tolerance

    tolerance = parse_tolerance(args.tolerance)
    results = check(args.folder, tolerance, parse_sets(args.set))
    print(format_deltas(results, tolerance, verbose=args.verbose))
    return 0 if all(r.ok for r in results) else 1


def add_parser(sub: Any) -> None:
    """Register ``desim regress record`` and ``desim regress check``."""
    regress = sub.add_parser("regress", help="timing regression baselines",
                             description=__doc__.strip().splitlines()[0])
    rsub = regress.add_subparsers(dest="regress_command", metavar="SUBCOMMAND", required=True)

    rec = rsub.add_parser("record", help="write baselines", description=cmd_record.__doc__)
    rec.add_argument("folder", metavar="BASELINE_DIR", type=Path)
    rec.add_argument("--platform", action="append", metavar="P",
                     help="platform name or script (repeat for several)")
    rec.add_argument("--workload", action="append", metavar="W",
                     help="workload name or model file (repeat for several)")
    rec.add_argument("--seed", type=int, default=0, help="root random seed (default: 0)")
    rec.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a platform parameter in every case recorded")
    rec.set_defaults(func=cmd_record)

    chk = rsub.add_parser("check", help="compare a fresh run of each case with its baseline",
                          description=cmd_check.__doc__)
    chk.add_argument("folder", metavar="BASELINE_DIR", type=Path)
    chk.add_argument("--tolerance", default="0", metavar="PCT",
                     help="allowed relative change, in percent: 0 (default, exact), 0.5%%, 2%%")
    chk.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a platform parameter on top of each case's own (to see "
                          "which baselines a model change breaks)")
    chk.add_argument("-v", "--verbose", action="store_true",
                     help="list every compared figure, not only those that changed")
    chk.set_defaults(func=cmd_check)
