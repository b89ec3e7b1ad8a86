"""Off-chip DRAM: part specs and presets, the controller timing engine, its SimPy
component, and the trace replay behind ``desim dram-replay``."""

from desim.hw.dram.component import DramController, record_requests
from desim.hw.dram.controller import DramEngine, Location
from desim.hw.dram.spec import PRESETS, DramSpec, preset

__all__ = ["PRESETS", "DramController", "DramEngine", "DramSpec", "Location", "preset",
           "record_requests"]
