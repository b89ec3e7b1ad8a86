"""Mapping a workload graph onto a platform: the schedule the runtime executes."""

from desim.mapping.mapper import Level, Target, map_graph
from desim.mapping.schedule import Copy, Layer, Schedule, Tile
from desim.mapping.spec import MappingSpec

__all__ = ["Copy", "Layer", "Level", "MappingSpec", "Schedule", "Target", "Tile", "map_graph"]
