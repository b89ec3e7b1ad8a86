"""``desim sweep``: run a design-space sweep, and ``desim sweep plot`` its table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from desim.errors import SpecError


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run every point of a sweep not yet done in OUTDIR and write OUTDIR/results.parquet."""
    if args.target == "plot":
        return _plot(args)
    if args.dir is not None:
        raise SpecError(f"unexpected argument {args.dir!r}; give options after PLATFORM")
    import desim.sweep as sweep
    from desim.sweep.points import Study, parse_grid, parse_range

    if args.target.endswith(".toml"):
        if args.workload or args.grid or args.random or args.range:
            raise SpecError("a sweep file holds the whole study: give no -w, --grid, "
                            "--random or --range with it")
        study = sweep.load_toml(args.target)
    else:
        grid: dict[str, list[Any]] = {"platform": [args.target],
                                      "workload": args.workload or ["resnet8"]}
        grid.update(parse_grid(args.grid))
        ranges = dict(parse_range(item) for item in args.range)
        study = Study(grid, ranges, args.random, args.seed)
    if args.jobs is not None and args.jobs < 1:
        raise SpecError(f"--jobs {args.jobs}: give at least 1")
    from desim.result import output_dir

    # the folder is locked while the sweep runs, and removed again if it was new and the
    # sweep failed before any point finished
    with output_dir(args.outdir, "desim sweep"):
        frame = sweep.run(study, args.outdir, jobs=args.jobs, scheduler=args.scheduler)
    failed = int((frame["status"] != "ok").sum())
    print(f"{len(frame)} points ({failed} failed): wrote {Path(args.outdir) / 'results.parquet'}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from desim.sweep import load
    from desim.sweep.plot import plot

    if args.dir is None:
        raise SpecError("desim sweep plot DIR: give the sweep's output folder")
    if not args.x or not args.y:
        raise SpecError("desim sweep plot: give --x KEY and --y METRIC")
    frame = load(args.dir)
    name = f"{args.y}_vs_{args.x}" + (f"_by_{args.by}" if args.by else "") + ".png"
    path = plot(frame, args.output or Path(args.dir) / name, args.x, args.y,
                color=args.color, front=args.pareto, by=args.by)
    print(f"wrote {path}")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``desim sweep`` on the top-level subparsers."""
    p = sub.add_parser(
        "sweep", help="run many points (a grid, random draws or a TOML sweep file)",
        description=f"{cmd_sweep.__doc__} `desim sweep plot DIR --x K --y M` draws it.")
    p.add_argument("target", metavar="PLATFORM|FILE.toml|plot",
                   help="platform name or script, a TOML sweep file, or `plot`")
    p.add_argument("dir", nargs="?", metavar="DIR", help="(plot) the sweep's output folder")
    run = p.add_argument_group("running")
    run.add_argument("-w", "--workload", action="append", default=[],
                     help="workload name or model path (repeat; default: resnet8)")
    run.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                     help="sweep a dotted parameter, a preset (dram=...), platform or workload")
    run.add_argument("--random", type=int, default=0, metavar="N",
                     help="N random draws of the --range parameters")
    run.add_argument("--seed", type=int, default=0, help="seed of the random draws")
    run.add_argument("--range", action="append", default=[], metavar="KEY=LO:HI[:log]",
                     help="interval of a random parameter (integers if LO and HI are)")
    run.add_argument("-o", "--outdir", default="sweep", help="output folder (default: sweep)")
    run.add_argument("--jobs", type=int, help="worker processes (default: the core count)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run on this dask.distributed scheduler (local: a LocalCluster)")
    draw = p.add_argument_group("plot")
    draw.add_argument("--x", help="column on the x axis")
    draw.add_argument("--y", help="column on the y axis")
    draw.add_argument("--color", help="colour the points by this column")
    draw.add_argument("--pareto", action="store_true", help="draw the Pareto front (lower "
                      "is better on both axes)")
    draw.add_argument("--by", help="one line per value of this column (sensitivity)")
    draw.add_argument("--output", help="PNG path (default: DIR/Y_vs_X.png)")
    p.set_defaults(func=cmd_sweep)
