"""Opening what ``desim run`` wrote: a run directory, or a trace file on its own.

A run directory holds ``summary.json`` and, unless the run was made with ``--no-trace``,
``trace.json.gz``. The inspection commands accept either the directory (summary and
trace) or a trace file (the trace alone: everything is derived from it).
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import desim
from desim import schema
from desim.errors import DesimError
from desim.trace import chrome
from desim.trace.recorder import Recorder

TRACE_NAMES = ("trace.json.gz", "trace.json")


@dataclass
class TraceRun:
    """A run opened for inspection: its trace and/or its summary document."""

    source: Path
    recorder: Recorder | None
    summary: dict[str, Any] | None
    trace_path: Path | None = None

    @property
    def clock_hz(self) -> float | None:
        """Frequency of the platform's main clock, if the summary or trace names it."""
        if self.summary and self.summary.get("clock_hz"):
            return float(self.summary["clock_hz"])
        hz = self.recorder.meta.get("clock_hz") if self.recorder else None
        return float(hz) if hz else None

    @property
    def end_ps(self) -> int:
        """End of the run: ``total_ps`` of the summary or trace, else its last record."""
        if self.summary and self.summary.get("total_ps"):
            return int(self.summary["total_ps"])
        if self.recorder is None:
            return 0
        return int(self.recorder.meta.get("total_ps") or self.recorder.end_ps())

    @property
    def layers(self) -> list[dict[str, Any]]:
        """The summary's per-layer entries (empty without a summary or layers)."""
        return list((self.summary or {}).get("layers") or [])

    @property
    def title(self) -> str:
        """``workload on platform`` as far as the files tell."""
        doc = self.summary or {}
        meta = self.recorder.meta if self.recorder else {}
        platform = doc.get("platform", {}).get("name") or meta.get("platform")
        workload = doc.get("workload", {}).get("name") or meta.get("workload")
        if platform and workload:
            return f"{workload} on {platform}"
        return self.source.name

    def need_trace(self) -> Recorder:
        """The trace, or a one-line error saying how to get one."""
        if self.recorder is None:
            raise DesimError(f"{self.source} has no trace (the run was made with --no-trace?); "
                             "re-run 'desim run' without --no-trace")
        return self.recorder


def open_run(path: str | os.PathLike[str], trace: bool = True) -> TraceRun:
    """Open a run directory (summary.json and trace) or a trace file.

    With ``trace=False`` a directory without a trace file is accepted (its summary is
    read alone); a directory with neither file, a missing path or a corrupt file is a
    one-line :class:`DesimError`.
    """
    p = Path(path)
    if not p.exists():
        raise DesimError(f"{p} does not exist; give a run directory (desim run -o DIR) or "
                         "a trace.json(.gz) file")
    if not p.is_dir():
        return TraceRun(p, _load_trace(p), None, p)
    summary_path = p / "summary.json"
    summary = load_summary(summary_path) if summary_path.is_file() else None
    trace_path = next((p / n for n in TRACE_NAMES if (p / n).is_file()), None)
    if trace_path is None and (trace or summary is None):
        have = "only summary.json (a --no-trace run)" if summary else "neither file"
        raise DesimError(f"{p} holds no trace.json.gz ({have}); give a directory written "
                         "by 'desim run' without --no-trace, or a trace file")
    rec = _load_trace(trace_path) if trace_path is not None else None
    return TraceRun(p, rec, summary, trace_path)


def _load_trace(path: Path) -> Recorder:
    """The trace at ``path``; an unreadable file is a one-line error saying what to give."""
    try:
        return chrome.load(path)
    except DesimError as exc:
        text = str(exc)
        if "desim run" in text:
            raise
        raise DesimError(f"{text}; give a trace.json(.gz) written by 'desim run'") from None
    except zlib.error as exc:  # a damaged .gz
        raise DesimError(f"{path} is not a readable trace file ({exc}); give a "
                         "trace.json(.gz) written by 'desim run'") from None


def load_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a summary.json, refusing a file that is not one in a single line."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise DesimError(f"summary file {p} does not exist; give a run directory written by "
                         "'desim run'") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DesimError(f"{p} is not a readable summary.json ({exc}); re-run "
                         "'desim run' to write it again") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("components"), dict) \
            or not isinstance(doc.get("total_ps"), int):
        raise DesimError(f"{p} is not a desim summary.json (no 'components' or "
                         "'total_ps'); give the file 'desim run' wrote")
    if not isinstance(doc.get("layers", []), list):
        raise DesimError(f"{p}: 'layers' must be a list (see docs/summary.md)")
    try:  # every key the inspection commands read, as docs/summary.md gives it
        schema.validate(doc, partial=True)
    except DesimError as exc:
        raise DesimError(f"{p}: {exc}; give the summary.json of a run of this desim "
                         f"({desim.__version__}), or re-run 'desim run'") from None
    return doc
