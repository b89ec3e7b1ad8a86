"""The rows of a timeline: one per lane, except where many identical components crowd it.

Components whose names differ only by a trailing number under one parent form a group
(``soc.aimc.xbar0`` ... ``xbar33``, ``soc.cluster.core0`` ... ``core7``). Within a time
window, per group:

- members with no interval on any lane share one row, e.g. ``aimc.xbar2-33 idle``;
- per lane, more than ``group_max`` busy members share one row (``aimc.xbar0-31/mvm``)
  that is busy whenever one of them is, and members busy elsewhere but idle on that lane
  share one ``... idle`` row;
- otherwise each busy member keeps a row of its own.

Every other lane keeps its row, busy or not. A component known to exist without any lane
(say a crossbar that never ran, listed by the summary) shows in its group's idle row.
So a big platform stays a page high, and what never worked is said in one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from desim.trace.recorder import natural_key

Track = tuple[str, str]

_NUMBERED = re.compile(r"^(.*\D)(\d+)$")
#: the longest a row label may be before it is shortened from the left
LABEL_CHARS = 28


@dataclass(frozen=True)
class Row:
    """One row: its label, the lanes drawn on it, and whether they are all idle."""

    label: str
    tracks: tuple[Track, ...]
    idle: bool = False

    @property
    def merged(self) -> bool:
        """Several busy lanes drawn as one."""
        return len(self.tracks) > 1 and not self.idle


def rows(tracks: Iterable[Track], active: Iterable[Track], group_max: int | None = 8,
         components: Iterable[str] = ()) -> list[Row]:
    """The rows showing ``tracks`` (component path, lane) when ``active`` ones are busy;
    ``components`` names components that exist without a track (they show in their
    group's idle row, if they have a group); ``group_max`` None keeps a row per lane."""
    busy = set(active)
    every = set(tracks) | busy
    groups = group_members({p for p, _ in every} | set(components))
    out: list[tuple[Any, Row]] = []
    for path, lane in every:
        m = _NUMBERED.match(path)
        if not (m and m[1] in groups):
            out.append(((natural_key(path), 0, natural_key(lane), -1),
                        Row(label(path, lane), ((path, lane),), (path, lane) not in busy)))
    busy_paths = {p for p, _ in busy}
    for stem, paths in groups.items():
        per_lane: dict[str, list[int]] = {}
        for path, lane in every:
            m = _NUMBERED.match(path)
            if m and m[1] == stem:
                per_lane.setdefault(lane, []).append(int(m[2]))
        for lane, numbers in per_lane.items():
            on = sorted(n for n in numbers if (paths[n], lane) in busy)
            off = sorted(n for n in numbers if (paths[n], lane) not in busy
                         and paths[n] in busy_paths)
            spans = [[n] for n in on] if group_max is None or len(on) <= group_max else [on]
            for ns in spans:
                out.append(((natural_key(stem), 0, natural_key(lane), ns[0]),
                            Row(label(stem, lane, ns), tuple((paths[n], lane) for n in ns))))
            if off:
                out.append(((natural_key(stem), 0, natural_key(lane), off[0]),
                            Row(label(stem, lane, off, idle=True),
                                tuple((paths[n], lane) for n in off), idle=True)))
        idle = sorted(n for n, p in paths.items() if p not in busy_paths)
        if idle:
            out.append(((natural_key(stem), 1, (), idle[0]),
                        Row(label(stem, "", idle, idle=True),
                            tuple((paths[n], "") for n in idle), idle=True)))
    return [row for _, row in sorted(out, key=lambda kr: kr[0])]


def group_members(paths: Iterable[str]) -> dict[str, dict[int, str]]:
    """The groups among ``paths``: stem (``soc.aimc.xbar``) -> number -> path, for stems
    shared by at least two paths."""
    members: dict[str, dict[int, str]] = {}
    for path in paths:
        m = _NUMBERED.match(path)
        if m:
            members.setdefault(m[1], {})[int(m[2])] = path
    return {stem: paths for stem, paths in members.items() if len(paths) > 1}


def label(path: str, lane: str = "", numbers: list[int] | None = None,
          idle: bool = False) -> str:
    """A row's label: ``path`` below the root (with the member ``numbers`` of a group
    appended as ranges, e.g. ``xbar0-3,8``), ``/lane``, ``idle``; shortened from the left
    to :data:`LABEL_CHARS`."""
    text = path.split(".", 1)[-1] if "." in path else path
    if numbers is not None:
        text += ranges(numbers)
    if lane:
        text += f"/{lane}"
    if idle:
        text += " idle"
    return text if len(text) <= LABEL_CHARS else "…" + text[-LABEL_CHARS + 1:]


def ranges(numbers: list[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` as ``0-2,5,7-8``; more than three runs as ``*`` and a count."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    if len(runs) > 3:
        return f"* ({len(numbers)})"
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
