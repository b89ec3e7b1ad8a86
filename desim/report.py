"""Readable text tables of a run's summary."""

from __future__ import annotations

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
    lines += ["", f"{'component':<28} {'kind':<13} {'util':>7} {'busy':>12} {'read':>10} "
              f"{'written':>10}"]
    for path, c in doc["components"].items():
        if not (c["busy_ps"] or c["bytes_read"] or c["bytes_written"]):
            continue
        lines.append(f"{path:<28} {c['kind']:<13} {c['utilization'] * 100:6.1f}% "
                     f"{_si_time(c['busy_ps']):>12} {_bytes(c['bytes_read']):>10} "
                     f"{_bytes(c['bytes_written']):>10}")
    lines.append("")
    lines.append(f"simulator {sim['events']:,} events in {sim['wall_s']:.3f} s "
                 f"({sim['events_per_s']:,.0f} events/s)")
    return "\n".join(lines)


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
