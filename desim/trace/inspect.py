"""Text reports of a finished run: ``desim trace summary`` and ``desim trace stalls``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from desim.trace import layers as layer_tables
from desim.trace.critical import CriticalPath, by_window, critical_path
from desim.trace.layers import LayerRow
from desim.trace.rundir import TraceRun
from desim.trace.stalls import ATTRIBUTION, compute_gaps, layer_stalls
from desim.trace.stats import link_stats, utilisation
from desim.trace.units import format_time

#: the most runs of a critical path listed before the rest is counted
MAX_PATH_RUNS = 40


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> list[str]:
    """Rows under headers, the first ``left`` columns left-aligned, the rest right."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(headers))]
    return ["  ".join(c.ljust(w) if k < left else c.rjust(w)
                      for k, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in cells]


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _cyc(ps: float, hz: float | None) -> str:
    return f"{ps * hz / 1e12:,.0f}" if hz else f"{ps / 1e6:,.3f} us"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def layer_rows(run: TraceRun) -> tuple[list[LayerRow], str]:
    """The run's layers and where they come from (summary, trace, or none)."""
    if run.layers:
        return layer_tables.from_summary(run.layers, run.clock_hz), "summary.json"
    if run.recorder is not None:
        rows = layer_tables.from_trace(run.recorder, run.clock_hz)
        if rows:
            return rows, "derived from the trace"
    return [], ""


def header(run: TraceRun) -> list[str]:
    hz = run.clock_hz
    clock = f" @ {hz / 1e6:g} MHz" if hz else ""
    lines = [f"{run.title}  ({run.source})",
             f"simulated {format_time(run.end_ps, hz)}{clock}"]
    macs = (run.summary or {}).get("macs")
    if macs and hz and run.end_ps:
        lines.append(f"MACs      {macs:,} ({macs / (run.end_ps * hz / 1e12):.2f} MAC/cycle)")
    return lines


def format_summary(run: TraceRun, top: int = 5) -> str:
    """Utilisation per component, traffic per link, the layer table and the top stalls."""
    total = run.end_ps
    lines = header(run) + [""]
    if run.summary is not None:
        comps = [(p, c["kind"], f"{100 * c['utilization']:.1f}%", format_time(c["busy_ps"]),
                  _size(c["bytes_read"]), _size(c["bytes_written"]))
                 for p, c in run.summary["components"].items()
                 if c["busy_ps"] or c["bytes_read"] or c["bytes_written"]]
        lines += table(("component", "kind", "util", "busy", "read", "written"), comps, 2)
    else:
        util = utilisation(run.need_trace(), total)
        lines += table(("component", "util (trace)", "busy"),
                       [(p, f"{100 * u:.1f}%", format_time(u * total)) for p, u in util.items()])
    if run.recorder is not None:
        links = link_stats(run.recorder, total)
        if links:
            lines += ["", *table(("link", "bytes", "peak B/cycle", "mean B/cycle", "active"),
                                 [(s.path, _size(s.bytes), f"{s.peak:.2f}", f"{s.mean:.2f}",
                                   f"{100 * s.active:.1f}%") for s in links])]
    rows, origin = layer_rows(run)
    lines.append("")
    if rows:
        lines.append(f"layers ({origin})")
        lines += table(("#", "layer", "kind", "engine", "cycles", "MAC/cycle", "bound"),
                       [(r.index, r.name, r.kind, r.engine, f"{r.cycles:,.0f}",
                         f"{r.macs_per_cycle:.2f}" if r.macs else "-", r.bound or "-")
                        for r in rows], 4)
    else:
        lines.append("layers: none (the workload reports no layers and no trace interval "
                     "names one)")
    if run.recorder is not None:
        lines += ["", "top stalls: longest stretches with no engine computing, and what "
                      "was busy"]
        lines += _gap_lines(run, rows, top)
    return "\n".join(lines)


def _layer_at(rows: list[LayerRow], t: int, args: dict[str, Any] | None) -> str:
    if args and args.get("layer"):
        return str(args["layer"])
    for r in rows:
        if r.start_ps <= t < r.end_ps:
            return r.name
    return ""


def _gap_lines(run: TraceRun, rows: list[LayerRow], top: int) -> list[str]:
    hz = run.clock_hz
    out = []
    for k, g in enumerate(compute_gaps(run.need_trace(), run.end_ps, top)):
        waits = ", ".join(f"{r} {_pct(v, g.duration)}" for r, v in g.waits.items() if v)
        where = (f"before {g.after.name} on {g.after.path}/{g.after.lane}" if g.after else
                 f"after {g.before.name} on {g.before.path}/{g.before.lane}" if g.before else
                 "no engine computed")
        layer = _layer_at(rows, g.start, g.after.args if g.after else None)
        out.append(f"  {k + 1}. {format_time(g.duration, hz)} from {format_time(g.start)}, "
                   f"{where}{f' [{layer}]' if layer else ''}: {waits}")
    return out or ["  none: an engine computed throughout"]


def format_stalls(run: TraceRun, top: int = 5) -> str:
    """The stall report: per-layer compute vs waiting, trace attribution, critical path."""
    hz = run.clock_hz
    rows, origin = layer_rows(run)
    lines = header(run)
    if run.layers:
        stalls = layer_stalls(rows, None)
        lines += ["", "per layer, from summary.json (cycles)"]
        body: list[tuple[str, ...]] = []
        for s in stalls:
            other = max(0.0, s.layer.cycles - s.compute - s.setup - s.dma - s.dram)
            body.append((s.layer.name, s.layer.engine, f"{s.layer.cycles:,.0f}",
                         f"{s.compute:,.0f}", f"{s.setup:,.0f}", f"{s.dma:,.0f}",
                         f"{s.dram:,.0f}", f"{other:,.0f}", s.layer.bound or "-"))
        lines += table(("layer", "engine", "cycles", "compute", "setup", "wait dma",
                        "wait dram", "other", "bound"), body, 2)
    rec = run.recorder
    if rec is None:
        lines += ["", "no trace: the attribution and the critical path need trace.json.gz"]
        return "\n".join(lines)
    windows = ([(r.name, r.start_ps, r.end_ps) for r in rows] if rows
               else [("(whole run)", 0, run.end_ps)])
    attributed = layer_stalls([LayerRow(0, n, lo, hi, 0.0) for n, lo, hi in windows], rec)
    cols = (*ATTRIBUTION, "idle")
    lines += ["", "time attributed from the trace: computing, else the innermost busy "
                  f"resource ({'layer windows ' + origin if rows else 'no layers'}; cycles)"]
    body = []
    for (name, lo, hi), a in zip(windows, attributed, strict=True):
        t = a.traced or {}
        body.append((name, _cyc(hi - lo, hz),
                     *(f"{_cyc(t[c], hz)} {_pct(t[c], hi - lo):>6}" for c in cols)))
    lines += table(("window", "length", *cols), body)
    lines += ["", "longest stretches with no engine computing"] + _gap_lines(run, rows, top)
    lines += ["", *format_path(critical_path(rec), rows, hz)]
    return "\n".join(lines)


def format_path(cp: CriticalPath, rows: list[LayerRow], hz: float | None) -> list[str]:
    """The critical path: time per role, then its steps grouped by track."""
    if not cp.steps:
        return ["critical path: the trace has no intervals"]
    span = cp.end - cp.start
    roles = cp.by_role()
    lines = [f"critical path: {len(cp.steps)} steps from {format_time(cp.start)} to "
             f"{format_time(cp.end, hz)}; "
             + ", ".join(f"{r} {_pct(v, span)}" for r, v in roles.items() if v)]
    per_layer = by_window(cp, [(r.name, r.start_ps, r.end_ps)
                               for r in sorted(rows, key=lambda r: r.index)])
    if len(per_layer) > 1:
        cols = [c for c in (*ATTRIBUTION, "wait") if any(c in a for _, a in per_layer)]
        lines += ["  time on the path per layer, in execution order (cycles)"]
        lines += ["  " + ln for ln in table(("layer", *cols),
                                             [(name, *(_cyc(a.get(c, 0), hz) for c in cols))
                                              for name, a in per_layer])]
    body = []
    runs = cp.runs()
    for grp in runs[-MAX_PATH_RUNS:]:
        first, last = grp[0].interval, grp[-1].interval
        names = first.name if len(grp) == 1 else f"{first.name} .. {last.name} ({len(grp)})"
        busy = sum(st.interval.end - st.interval.start for st in grp)
        wait = sum(st.wait for st in grp)
        body.append((f"{first.path}/{first.lane}" if first.lane else first.path, names,
                     _layer_at(rows, first.start, first.args), grp[0].via,
                     format_time(first.start), format_time(busy), format_time(wait)))
    if len(runs) > MAX_PATH_RUNS:
        lines.append(f"  ({len(runs) - MAX_PATH_RUNS} earlier groups of steps not listed)")
    lines += ["  " + ln for ln in table(("track", "steps", "layer", "via", "from", "busy",
                                         "wait"), body, 4)]
    return lines
