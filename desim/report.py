"""Readable text tables of a run's summary."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def _si_time(ps: float) -> str:
    for unit, scale in (("s", 1e12), ("ms", 1e9), ("us", 1e6), ("ns", 1e3)):
        if ps >= scale:
            return f"{ps / scale:.3f} {unit}"
    return f"{ps:.0f} ps"


def _bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _time_unit(largest_ps: float) -> tuple[str, float]:
    """One time unit for a whole column: the largest that keeps its biggest value >= 1."""
    for unit, scale in (("s", 1e12), ("ms", 1e9), ("us", 1e6), ("ns", 1e3)):
        if largest_ps >= scale:
            return unit, scale
    return "ps", 1.0


def _byte_unit(largest: float) -> tuple[str, float]:
    """One byte unit for a whole column."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if largest >= scale:
            return unit, scale
    return "B", 1.0


def format_summary(doc: dict[str, Any]) -> str:
    """The summary printed by ``desim run``: time, cycles, utilisation, simulator speed."""
    sim = doc["sim"]
    lines = [
        f"platform  {doc['platform']['name']}    workload  {doc['workload']['name']}    "
        f"seed  {doc['seed']}",
        f"simulated {_si_time(doc['total_ps'])}  =  {doc['cycles']:,.0f} cycles "
        f"@ {doc['clock_hz'] / 1e6:g} MHz",
    ]
    if doc.get("macs"):
        lines.append(f"MACs      {doc['macs']:,}  ({doc['macs'] / max(doc['cycles'], 1):.2f} "
                     "MAC/cycle)")
    shown = {p: c for p, c in doc["components"].items()
             if c["busy_ps"] or c["bytes_read"] or c["bytes_written"]}
    t_unit, t_scale = _time_unit(max((c["busy_ps"] for c in shown.values()), default=0))
    b_unit, b_scale = _byte_unit(max((max(c["bytes_read"], c["bytes_written"])
                                      for c in shown.values()), default=0))
    lines += ["", f"{'component':<28} {'kind':<13} {'util':>7} {'busy ' + t_unit:>12} "
              f"{'read ' + b_unit:>10} {'written ' + b_unit:>12}"]
    for path, c in shown.items():
        lines.append(f"{path:<28} {c['kind']:<13} {c['utilization'] * 100:6.1f}% "
                     f"{c['busy_ps'] / t_scale:>12.3f} {c['bytes_read'] / b_scale:>10.1f} "
                     f"{c['bytes_written'] / b_scale:>12.1f}")
    energy = doc.get("energy_pj")
    if energy:
        parts = ", ".join(f"{k.split('.')[-1]} {v / 1e6:.2f}" for k, v in energy.items()
                          if k != "total")
        lines += ["", f"energy    {energy['total'] / 1e6:.2f} uJ  ({parts} uJ)"]
        static = (doc.get("energy_static_pj") or {}).get("total", 0.0)
        if static:
            lines.append(f"          dynamic {(energy['total'] - static) / 1e6:.2f} uJ, "
                         f"static {static / 1e6:.2f} uJ (background, idle)")
    layers = doc.get("layers") or []
    engines = dict.fromkeys(x["engine"] for x in layers)
    usage = [f"{name:<9} {doc[name]['usage']}" for name in engines
             if isinstance(doc.get(name), dict) and "usage" in doc[name]]
    if usage:
        lines += ["", *usage]
    if layers:
        lines += ["", _layer_table(layers, LAYER_ROWS)]
    lines.append("")
    lines.append(f"simulator {sim['events']:,} events in {sim['wall_s']:.3f} s "
                 f"({sim['events_per_s']:,.0f} events/s)")
    return "\n".join(lines)


#: layers listed in the printed summary (all of them are in summary.json)
LAYER_ROWS = 24


def _layer_table(layers: list[dict[str, Any]], rows: int) -> str:
    """The layers in order, or the slowest ``rows`` of them when there are more."""
    shown = layers if len(layers) <= rows else sorted(
        sorted(layers, key=lambda x: -x["cycles"])[:rows], key=lambda x: x["index"])
    unit, scale = _byte_unit(max(x["bytes"]["dram"] for x in shown))
    head = (f"{'#':>3}  {'layer':<22} {'engine':<9} {'tiles':>5} {'cycles':>12} "
            f"{'setup':>11} {'MAC/cyc':>8}  bound     {'DRAM ' + unit:>9}")
    out = [head]
    for x in shown:
        out.append(f"{x['index']:>3}  {x['name'][:22]:<22} {x['engine'][:9]:<9} {x['tiles']:>5} "
                   f"{x['cycles']:>12,.0f} {x.get('setup_cycles', 0):>11,.0f} "
                   f"{x['macs_per_cycle']:>8.2f}  {x['bound']:<9} "
                   f"{x['bytes']['dram'] / scale:>9.{0 if scale == 1 else 1}f}")
    if len(shown) < len(layers):
        out.append(f"({rows} slowest of {len(layers)} layers; all in summary.json, "
                   "or desim trace summary)")
    return "\n".join(out)


def format_params(spec: Any, markdown: bool = False) -> str:
    """Every parameter of a platform spec: key, value, unit, description and source."""
    from desim.spec import describe

    rows = describe(spec)
    if markdown:
        out = ["| parameter | default | unit | description | source |", "|---|---|---|---|---|"]
        for r in rows:
            cells = [f"`{r['key']}`", f"`{_value(r['value'])}`", r["unit"], r["doc"], r["source"]]
            out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        return "\n".join(out)
    width = max(len(r["key"]) for r in rows)
    return "\n".join(f"{r['key']:<{width}}  {_value(r['value']):>14} {r['unit']:<10} {r['doc']}"
                     + (f"  [{r['source']}]" if r["source"] else "") for r in rows)


def _value(v: Any) -> str:
    if isinstance(v, tuple):
        return ",".join(map(str, v)) or "()"
    if isinstance(v, float) and v >= 1e5:
        return f"{v:.4g}"
    return str(v)


def results_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """The README's results table (Markdown): one row per network x platform run.

    Each row holds ``workload``, ``platform``, ``note`` (what sets the platform apart,
    shown on its first row), ``total_ps``, ``cycles``, ``macs``, ``energy_pj`` (total) and
    ``dram_bytes`` (read + written). ``benchmarks/zoo_bench.py --markdown`` prints it from
    runs and tests/test_readme_results.py rebuilds it from the golden baselines, so both
    share this one formatting.
    """
    def three_digits(value: float, units: tuple[str, ...]) -> str:
        """``value`` (in ``units[-1]``, each unit 1000x the next) to 3 significant digits,
        in the largest unit that keeps it at least 1."""
        i = 0
        while i < len(units) - 1 and value < 1000 ** (len(units) - 1 - i):
            i += 1
        scaled = value / 1000 ** (len(units) - 1 - i)
        return f"{scaled:.{max(0, 2 - int(math.log10(max(scaled, 1))))}f} {units[i]}"

    out = ["| network | platform | latency | MAC/cycle | energy | DRAM traffic |",
           "|---|---|---:|---:|---:|---:|"]
    seen: set[str] = set()
    for r in rows:
        platform = r["platform"]
        if platform not in seen and r["note"]:
            platform = f"{platform} ({r['note']})"
        seen.add(r["platform"])
        cells = [r["workload"], platform,
                 three_digits(r["total_ps"], ("s", "ms", "us", "ns", "ps")),
                 f"{r['macs'] / r['cycles']:.1f}",
                 three_digits(r["energy_pj"], ("J", "mJ", "uJ", "nJ", "pJ")),
                 _bytes(r["dram_bytes"]) if r["dram_bytes"] else "0"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
