"""Refusing up front a run that would not finish in minutes.

A run's wall time is set by what its mapped schedule moves, known before anything is
simulated: each DRAM request of the schedule's L1<->DRAM copies costs about
:data:`DRAM_REQUEST_S` of simulation and each tile about :data:`TILE_S` (measured on the
MLPerf Tiny networks on the built-in platforms: MobileNetV2's 20,000-340,000 DRAM requests
took 0.08-0.33 ms each, MobileNetV1-VWW's 78-137 tiles 2-4 ms each; ``benchmarks/
zoo_bench.py`` times those runs). A DRAM replay's time is set by its requests and by the
refreshes up to its last arrival (:data:`REFRESH_S` each). The estimate is deterministic:
the same run is refused or accepted on every machine, whatever its speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from desim.errors import DesimError

#: seconds of simulation per DRAM request (0.08-0.33 ms measured, see above)
DRAM_REQUEST_S = 2e-4
#: seconds of simulation per tile (2-4 ms measured, see above)
TILE_S = 4e-3
#: seconds of simulation per component (building it, summarising it; assumed)
COMPONENT_S = 1e-3
#: seconds per request and per refresh of ``desim dram-replay`` (measured on ddr4_3200:
#: 200,000 random requests in 0.69 s; an idle trace of 10^10 cycles, 1.6 M refreshes, in
#: 0.43 s)
REPLAY_REQUEST_S, REFRESH_S = 4e-6, 3e-7
#: runs estimated to take longer are refused unless the caller raises the limit
DEFAULT_MAX_MINUTES = 30.0
#: trace records a run keeps at most: about 1.7 GB at ~170 B a record, six times the 1.65 M
#: records of MobileNetV2 on pulp_cluster, the largest zoo network
DEFAULT_TRACE_CAP = 10_000_000


@dataclass(frozen=True)
class Work:
    """What a run will simulate, and about how long that takes."""

    tiles: int = 0
    dram_requests: int = 0
    components: int = 0
    #: requests and refreshes of a DRAM trace replay
    replay_requests: int = 0
    refreshes: int = 0

    @property
    def seconds(self) -> float:
        return (self.tiles * TILE_S + self.dram_requests * DRAM_REQUEST_S
                + self.components * COMPONENT_S + self.replay_requests * REPLAY_REQUEST_S
                + self.refreshes * REFRESH_S)

    def describe(self) -> str:
        parts = [f"{n:,} {what}" for n, what in ((self.tiles, "tiles"),
                                                 (self.dram_requests, "DRAM requests"),
                                                 (self.replay_requests, "requests"),
                                                 (self.refreshes, "DRAM refreshes"),
                                                 (self.components, "components")) if n]
        return ", ".join(parts) or "nothing"


def schedule_work(soc: Any, plan: Any) -> Work:
    """The work of running ``plan`` (a Schedule, or a workload a SoC runs as it is) on
    ``soc``."""
    from desim.mapping import Schedule

    components = sum(1 for _ in soc.walk())
    if not isinstance(plan, Schedule):
        return Work(tiles=int(getattr(plan, "n_tiles", 0)), components=components)
    txn = soc.memory("dram").spec.txn_bytes if soc.has_memory("dram") else 64
    dram = sum(c.nbytes for layer in plan.layers for tile in layer.tiles
               for c in (*tile.loads, *tile.stores) if c.level == "dram")
    tiles = sum(len(layer.tiles) for layer in plan.layers)
    return Work(tiles=tiles, dram_requests=-(-dram // txn), components=components)


def check(work: Work, max_minutes: float | None, option: str = "--max-minutes",
          instead: str = "run a smaller workload or platform") -> None:
    """Refuse ``work`` estimated beyond ``max_minutes`` (None or 0: no limit), naming the
    estimate, ``option`` (the option that lifts the limit) and what to do ``instead``."""
    if max_minutes is not None and not (isinstance(max_minutes, int | float)
                                        and 0 <= max_minutes < math.inf):
        raise DesimError(f"{option} {max_minutes!r}: give a number of minutes >= 0 "
                         "(0: no limit)")
    if not max_minutes or work.seconds <= max_minutes * 60:
        return
    minutes = work.seconds / 60
    need = max(int(minutes * 2) + 1, 1)
    raise DesimError(
        f"this would take about {_duration(work.seconds)} to simulate ({work.describe()}), "
        f"more than the {max_minutes:g} min limit; raise it with {option} {need} "
        f"({option} 0: no limit), or {instead}")


def check_trace_cap(cap: Any, option: str = "--trace-cap") -> None:
    """Refuse a trace cap that is not a whole number >= 1 (or None: no cap)."""
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise DesimError(f"{option} {cap!r}: give a whole number of records >= 1")


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"
