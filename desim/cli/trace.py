"""``desim trace ...``: inspect, plot and export what a run recorded.

Every subcommand takes SOURCE: a run directory written by ``desim run`` (its
summary.json and trace.json.gz) or a trace file on its own.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desim.errors import DesimError

if TYPE_CHECKING:  # the trace modules load numpy: imported by the commands that need them
    from desim.trace.rundir import TraceRun

PLOT_KINDS = ("timeline", "energy", "roofline")
EXPORT_FORMATS = {"csv": ".csv", "parquet": ".parquet", "vcd": ".vcd",
                  "json": "_selection.json.gz"}
_SOURCE_HELP = "run directory (desim run -o DIR) or trace.json(.gz) file"
_WINDOW_HELP = ("time window START:END, e.g. 10us:50us, 2000:3000 (cycles), :20us; units "
                "ps, ns, us, ms, s or cycles (a bare number counts cycles)")
_GLOB_HELP = ("only components whose path (or an ancestor's) matches this glob, e.g. "
              "'soc.dma' or 'soc.cluster.core*'; repeat or separate with commas")


def _components(args: argparse.Namespace) -> list[str]:
    """The --components globs, split at commas."""
    return [p.strip() for item in (args.components or []) for p in item.split(",") if p.strip()]


def _selection(run: TraceRun, args: argparse.Namespace) -> tuple[Any, tuple[int, int] | None]:
    """The run's trace cut to --window and --components, and the window in ps."""
    from desim.trace.select import select
    from desim.trace.units import parse_window

    rec = run.need_trace()
    window = parse_window(args.window, run.clock_hz, run.end_ps) if args.window else None
    comps = _components(args)
    if window or comps:
        rec = select(rec, window, comps)
    return rec, window


def _output(run: TraceRun, given: str | None, suffix: str) -> Path:
    """``-o`` as given, else a file beside the trace named after it."""
    if given:
        out = Path(given)
    else:
        folder = run.source if run.source.is_dir() else run.source.parent
        stem = "trace" if run.source.is_dir() else run.source.name.split(".")[0]
        out = folder / f"{stem}{suffix}"
    if run.trace_path is not None and out.resolve() == run.trace_path.resolve():
        raise DesimError(f"output {out} is the trace being read; choose another name with -o")
    if not out.parent.is_dir():
        raise DesimError(f"output folder {out.parent} does not exist; create it or choose "
                         "another -o")
    return out


def cmd_summary(args: argparse.Namespace) -> int:
    """Print per-component utilisation, link traffic, the per-layer table and the top
    stalls of a run."""
    from desim.trace.inspect import format_summary
    from desim.trace.rundir import open_run

    print(format_summary(open_run(args.source, trace=False), top=args.top))
    return 0


def cmd_stalls(args: argparse.Namespace) -> int:
    """Print the stall report: per-layer compute vs waiting, the trace's attribution of
    time to compute/DRAM/interconnect/memory/DMA, and the critical path."""
    from desim.trace.inspect import format_stalls
    from desim.trace.rundir import open_run

    print(format_stalls(open_run(args.source, trace=False), top=args.top))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw the timeline, utilisation over time and bandwidth over time per link; or, with
    --kind energy or roofline, the per-layer energy by component or the roofline of each
    engine (from summary.json)."""
    from desim.trace.rundir import open_run

    if args.kind != "timeline":
        return _plot_summary(args)
    from desim.trace import peaks, timeline
    from desim.trace.inspect import layer_rows
    from desim.trace.select import matches
    from desim.trace.units import format_time

    run = open_run(args.source)
    full = run.need_trace()
    rec, window = _selection(run, args)
    out = _output(run, args.output, "_plot.png")
    layers = [(r.name, r.start_ps, r.end_ps) for r in layer_rows(run)[0]]
    title = run.title
    if window:
        title += f", {format_time(window[0])} to {format_time(window[1])}"
    panels = [p.strip() for p in args.panels.split(",") if p.strip()]
    comps = _components(args)
    known = [t for t in full.tracks() if not comps or matches(t[0], comps)]
    paths = [p for p in (run.summary or {}).get("components", {})
             if not comps or matches(p, comps)]
    soc = peaks.rebuild(run.summary) if run.summary and "bandwidth" in panels else None
    filtered = bool(comps) and any(c.name == "bandwidth" for c in full.counters)
    timeline.plot(rec, out, window=window or (0, max(run.end_ps, rec.end_ps(), 1)),
                  title=title, clock_hz=run.clock_hz, by=args.by, layers=layers,
                  panels=panels, bins=args.bins, known=known, components=paths,
                  group_max=None if args.expand else timeline.GROUP_MAX,
                  peaks=peaks.link_peaks(soc) if soc is not None else None,
                  counters_filtered=filtered)
    print(f"wrote {out}")
    return 0


def _plot_summary(args: argparse.Namespace) -> int:
    """``--kind energy`` or ``--kind roofline``: a picture of the summary's layers."""
    from desim.trace.rundir import open_run

    run = open_run(args.source, trace=False)
    if run.summary is None:
        raise DesimError(f"--kind {args.kind} reads summary.json; give the run directory "
                         f"(desim run -o DIR), not the trace file {run.source}")
    if args.window or args.components:
        raise DesimError(f"--kind {args.kind} plots whole layers; drop --window and "
                         "--components")
    out = _output(run, args.output, f"_{args.kind}.png")
    if args.kind == "energy":
        from desim.trace import energy_plot as picture
    else:
        from desim.trace import roofline as picture  # type: ignore[no-redef]
    picture.plot(run.summary, out, title=run.title)
    print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the trace (or a window / set of components of it) as CSV, Parquet, VCD or
    Perfetto JSON."""
    from desim.trace.rundir import open_run

    run = open_run(args.source)
    rec, _ = _selection(run, args)
    out = _output(run, args.output, EXPORT_FORMATS[args.format])
    if args.format == "csv":
        from desim.trace import csv as writer
    elif args.format == "parquet":
        from desim.trace import parquet as writer  # type: ignore[no-redef]
    elif args.format == "vcd":
        from desim.trace import vcd as writer  # type: ignore[no-redef]
    else:
        from desim.trace import chrome as writer  # type: ignore[no-redef]
    writer.write(rec, out)
    print(f"wrote {out} ({len(rec.intervals):,} intervals)")
    return 0


def _positive(text: str) -> int:
    """argparse type of a count: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_parser(sub: Any) -> None:
    """Register ``desim trace`` and its subcommands on the top-level subparsers."""
    trace = sub.add_parser("trace", help="inspect, plot and export a run's trace",
                           description=__doc__.strip().splitlines()[0])
    tsub = trace.add_subparsers(dest="trace_command", metavar="SUBCOMMAND", required=True)

    for name, func, help_ in (("summary", cmd_summary, "utilisation, layers, top stalls"),
                              ("stalls", cmd_stalls, "stall report and critical path")):
        p = tsub.add_parser(name, help=help_, description=func.__doc__)
        p.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
        p.add_argument("--top", type=_positive, default=5,
                       help="how many of the longest stalls to list (default: 5)")
        p.set_defaults(func=func)

    from desim.trace.timeline import BY, PANELS

    plot = tsub.add_parser("plot", help="timeline, utilisation and bandwidth over time; "
                           "energy per layer; roofline", description=cmd_plot.__doc__)
    plot.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    plot.add_argument("--kind", choices=PLOT_KINDS, default="timeline",
                      help="timeline (default; the trace), energy (stacked bars of each "
                           "layer's energy by component) or roofline (MAC/cycle against "
                           "MAC/byte per layer and engine); energy and roofline read "
                           "summary.json")
    plot.add_argument("--window", metavar="START:END", help=_WINDOW_HELP)
    plot.add_argument("--components", metavar="GLOB", action="append", help=_GLOB_HELP)
    plot.add_argument("--by", choices=BY, default="category",
                      help="colour bars by category, interval name or layer (default: category)")
    plot.add_argument("--panels", default=",".join(PANELS),
                      help=f"comma-separated panels out of {', '.join(PANELS)} (default: all)")
    plot.add_argument("--bins", type=_positive, default=300,
                      help="time bins of the utilisation and bandwidth panels (default: 300)")
    plot.add_argument("--expand", action="store_true",
                      help="a row per busy lane, even of many identical components (default: "
                           "more than 8 busy crossbars or cores share a row)")
    plot.add_argument("-o", "--output", metavar="FILE",
                      help="picture file, .png, .svg or .pdf (default beside the trace: "
                           "trace_plot.png, trace_energy.png, trace_roofline.png)")
    plot.set_defaults(func=cmd_plot)

    export = tsub.add_parser("export", help="write the trace as CSV, Parquet, VCD or JSON",
                             description=cmd_export.__doc__)
    export.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    export.add_argument("--format", required=True, choices=list(EXPORT_FORMATS),
                        help="csv and parquet: one row per interval; vcd: waveforms for "
                             "GTKWave; json: Perfetto trace of the selection")
    export.add_argument("--window", metavar="START:END", help=_WINDOW_HELP)
    export.add_argument("--components", metavar="GLOB", action="append", help=_GLOB_HELP)
    export.add_argument("-o", "--output", metavar="FILE",
                        help="output file (default: beside the trace: trace.csv, trace.parquet, "
                             "trace.vcd, trace_selection.json.gz)")
    export.set_defaults(func=cmd_export)
