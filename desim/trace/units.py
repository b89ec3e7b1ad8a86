"""Times with units on the command line: ``10us``, ``2500ns``, ``1500cycles``, ``10us:50us``.

A time is a number followed by a unit: ``ps``, ``ns``, ``us``, ``ms``, ``s``, or ``cycles``
(also ``cycle``, ``cyc``) of the run's main clock. A bare number counts cycles, the unit
desim reports lead with. A window is ``START:END``; either side may be left out (``:50us``
is from the start of the run, ``10us:`` runs to its end).
"""

from __future__ import annotations

import re

from desim.errors import DesimError

#: picoseconds per unit
PS_PER_UNIT = {"ps": 1, "ns": 1_000, "us": 1_000_000, "µs": 1_000_000, "ms": 10**9,
               "s": 10**12}
CYCLE_UNITS = ("cycles", "cycle", "cyc", "")

_TIME = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Zµ]*)\s*$")
_UNITS_HELP = "ps, ns, us, ms, s or cycles (a bare number counts cycles)"


def parse_time(text: str, clock_hz: float | None, what: str = "time") -> int:
    """``text`` in integer picoseconds; cycles need ``clock_hz`` (the run's main clock)."""
    m = _TIME.match(text)
    if not m:
        raise DesimError(f"{what} '{text}': expected a number and a unit, e.g. 10us, "
                         f"2500ns or 1500cycles; units: {_UNITS_HELP}")
    value, unit = float(m.group(1)), m.group(2).lower()
    if unit in PS_PER_UNIT:
        return round(value * PS_PER_UNIT[unit])
    if unit in CYCLE_UNITS:
        if not clock_hz:
            raise DesimError(f"{what} '{text}' is in cycles but the trace names no clock; "
                             "give the time in ps, ns, us, ms or s")
        return round(value * 1e12 / clock_hz)
    raise DesimError(f"{what} '{text}': unknown unit '{m.group(2)}'; use {_UNITS_HELP}")


def parse_window(text: str, clock_hz: float | None, end_ps: int) -> tuple[int, int]:
    """``START:END`` in picoseconds, checked against a run that ends at ``end_ps``.

    END beyond the run is cut to its end; a window that starts after the run, or whose
    start is not before its end, is refused.
    """
    start, sep, end = text.partition(":")
    if not sep:
        raise DesimError(f"window '{text}': expected START:END, e.g. 10us:50us, "
                         "2000:3000 (cycles) or :20us")
    lo = parse_time(start, clock_hz, "window start") if start.strip() else 0
    hi = parse_time(end, clock_hz, "window end") if end.strip() else end_ps
    if lo >= hi:
        raise DesimError(f"window '{text}': START must come before END")
    if lo >= end_ps:
        raise DesimError(f"window '{text}' lies outside the run, which ends at "
                         f"{format_time(end_ps, clock_hz)}; give START:END within it")
    return lo, min(hi, end_ps)


def format_time(ps: float, clock_hz: float | None = None) -> str:
    """``ps`` in a readable unit, with cycles of the main clock when it is known."""
    text = f"{ps:.0f} ps"
    for unit, scale in (("s", 1e12), ("ms", 1e9), ("us", 1e6), ("ns", 1e3)):
        if abs(ps) >= scale:
            text = f"{ps / scale:.3f} {unit}"
            break
    if clock_hz:
        text += f" ({ps * clock_hz / 1e12:,.0f} cycles)"
    return text
