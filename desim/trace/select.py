"""Selecting part of a trace: a time window and a set of components.

``--components`` takes shell-style globs (``fnmatch``) matched against component paths;
a pattern that names a component also selects everything below it (``soc.cluster``
selects ``soc.cluster.core3``), and counters follow their component (``soc.ic``
selects the ``soc.ic.l2->l1`` bandwidth counter).
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from desim.errors import DesimError
from desim.trace.recorder import Recorder, natural_key


def _ancestors(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def matches(path: str, patterns: Sequence[str]) -> bool:
    """Does ``path`` or one of its ancestors match one of ``patterns``?"""
    return any(fnmatchcase(a, pat) for a in _ancestors(path) for pat in patterns)


def component_paths(rec: Recorder) -> list[str]:
    """Every component path that has a record, in natural order."""
    paths = {iv.path for iv in rec.intervals} | {c.path for c in rec.counters}
    paths |= {i.path for i in rec.instants}
    return sorted(paths, key=natural_key)


def select(rec: Recorder, window: tuple[int, int] | None = None,
           components: Sequence[str] | None = None) -> Recorder:
    """A new Recorder with the records of ``rec`` inside ``window`` and ``components``.

    Kept: intervals overlapping the window (not clipped), instants and counter samples
    in it plus each counter's last sample before it (its value at the window's start),
    and flows whose two ends are selected and which overlap the window. A pattern that
    matches nothing is a :class:`DesimError` listing the components there are.
    """
    if components:
        known = component_paths(rec)
        for pat in components:
            if not any(matches(p, [pat]) for p in known):
                listing = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
                raise DesimError(f"--components '{pat}' matches no component in the trace; "
                                 f"components: {listing}")
    lo, hi = window if window else (-1, float("inf"))
    cache: dict[str, bool] = {}

    def keep(path: str) -> bool:
        if not components:
            return True
        hit = cache.get(path)
        if hit is None:
            hit = cache[path] = matches(path, components)
        return hit

    out = Recorder(meta=dict(rec.meta))
    for iv in rec.intervals:
        if iv.end > lo and iv.start < hi and keep(iv.path):
            out.interval(*iv)
    out.instants = [i for i in rec.instants if lo <= i.t <= hi and keep(i.path)]
    before: dict[tuple[str, str], int] = {}
    for k, c in enumerate(rec.counters):
        if c.t < lo and keep(c.path):
            before[(c.path, c.name)] = k
    first = set(before.values())
    out.counters = [c for k, c in enumerate(rec.counters)
                    if (k in first or lo <= c.t <= hi) and keep(c.path)]
    out.flows = [f for f in rec.flows if f.t_dst >= lo and f.t_src <= hi
                 and keep(f.src[0]) and keep(f.dst[0])]
    return out
