"""CSV export of a trace's busy intervals: one row per interval, times in picoseconds."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from desim.fileio import atomic_open
from desim.trace.recorder import Recorder

COLUMNS = ("component", "lane", "name", "category", "start_ps", "end_ps", "duration_ps", "args")


def write(rec: Recorder, path: str | os.PathLike[str]) -> Path:
    """Write every interval of ``rec`` as CSV, in time order, atomically."""
    rows = sorted(rec.intervals, key=lambda iv: (iv.start, iv.path, iv.lane))
    with atomic_open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for iv in rows:
            args = json.dumps(iv.args, sort_keys=True) if iv.args else ""
            out.writerow((iv.path, iv.lane, iv.name, iv.cat, iv.start, iv.end,
                          iv.end - iv.start, args))
    return Path(path)
