"""Execution traces: the recorder and its exporters (Perfetto JSON, CSV, timeline)."""

from desim.trace.recorder import Recorder

__all__ = ["Recorder"]
