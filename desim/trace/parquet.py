"""Parquet export of a trace's busy intervals (needs pyarrow: ``pip install desim[parquet]``).

Same columns as the CSV export (``desim.trace.csv.COLUMNS``), typed: times are int64
picoseconds and ``args`` is the interval's arguments as JSON text. Rows are in time order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from desim.errors import DesimError
from desim.fileio import atomic_path
from desim.trace.csv import COLUMNS
from desim.trace.recorder import Recorder


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DesimError("Parquet export needs pyarrow: pip install desim[parquet] "
                         "(or choose --format csv)") from None
    return pa, pq


def write(rec: Recorder, path: str | os.PathLike[str]) -> Path:
    """Write every interval of ``rec`` as a Parquet table, atomically."""
    pa, pq = _pyarrow()
    rows = sorted(rec.intervals, key=lambda iv: (iv.start, iv.path, iv.lane))
    data = {
        "component": [iv.path for iv in rows],
        "lane": [iv.lane for iv in rows],
        "name": [iv.name for iv in rows],
        "category": [iv.cat for iv in rows],
        "start_ps": [iv.start for iv in rows],
        "end_ps": [iv.end for iv in rows],
        "duration_ps": [iv.end - iv.start for iv in rows],
        "args": [json.dumps(iv.args, sort_keys=True) if iv.args else "" for iv in rows],
    }
    types = {"start_ps": pa.int64(), "end_ps": pa.int64(), "duration_ps": pa.int64()}
    table = pa.table({c: pa.array(data[c], type=types.get(c, pa.string())) for c in COLUMNS})
    target = Path(path)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return target
