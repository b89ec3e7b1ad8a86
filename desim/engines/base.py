"""The engine interface: what mapping, runtime, functional mode and reports ask of an engine.

An engine is a compute unit of a platform (the cluster cores, the AIMC crossbars, a
systolic array a platform script defines) seen through one small interface, so that no
layer above the hardware models names an engine:

* **mapping** (pure, no simulation): which ops it runs (:meth:`Engine.supports`, a reason
  when not), what a tile needs in L1 (:meth:`Engine.l1_needs`), what a tile costs
  (:meth:`Engine.tile_cycles`, :meth:`Engine.tile_energy_pj`), and the engine-wide
  allocation of the layers it was given (:meth:`Engine.allocate`: the engine's payload of
  each layer in the schedule, the layers it cannot hold, those whose weights it keeps);
* **runtime** (SimPy generators, with the runtime's data movement at hand): work before
  the run (:meth:`Engine.preload`) and before a layer (:meth:`Engine.before_layer`), the
  jobs a tile becomes (:meth:`Engine.run_tile`), where it shows in the trace
  (:meth:`Engine.track`), and its summary entry (:meth:`Engine.results`);
* **functional mode**: a digital engine computes a tile exactly through the runtime's
  functional state; an engine with numerics of its own returns a model from
  :meth:`Engine.functional_model`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from desim.kernel import Component

if TYPE_CHECKING:
    from desim.mapping.schedule import Layer, Schedule, Tile
    from desim.mapping.tiler import Geometry
    from desim.runtime.executor import Runtime
    from desim.workload.op import Op


@dataclass(frozen=True)
class L1Needs:
    """What a tile of an op needs in L1 besides its inputs and outputs."""

    #: weights (and bias) of the tile's channel block are copied into L1
    weights: bool = True
    #: per-layer scratch (e.g. im2col buffers), allocated once
    scratch_bytes: int = 0
    #: rows per tile are preferably multiples of this (the work split across units)
    row_quantum: int = 1
    #: output channels per tile are multiples of this where a tile of such channels fits
    #: L1 (an engine's channel block); 1: any count
    channel_quantum: int = 1


@dataclass(frozen=True)
class EngineMapping:
    """An engine's allocation of the layers the mapper gave it."""

    #: layer -> the engine's data for it in the schedule (``Layer.payload``)
    payloads: dict[str, Any]
    #: layer -> why the engine cannot hold it (the mapper moves it to another engine)
    rejected: dict[str, str] = field(default_factory=dict)
    #: layers whose weights live in the engine, not in memory
    resident: frozenset[str] = frozenset()
    #: the engine's entry in the schedule (and, through :meth:`Engine.results`, the summary)
    summary: dict[str, Any] = field(default_factory=dict)
    #: layer -> a note for the schedule table (e.g. what it programs)
    notes: dict[str, str] = field(default_factory=dict)


class Engine:
    """A compute engine of a platform. Subclasses override what differs from a plain
    digital engine whose tiles are one job each on :attr:`component`."""

    #: the engine's name in the schedule, ``summary.json`` (``layers[].engine``) and
    #: ``mapping.engine_overrides``
    name: str = "engine"

    def __init__(self, component: Component):
        self.component = component

    # -- mapping -------------------------------------------------------------------------

    def supports(self, op: Op) -> str | None:
        """None when the engine can run ``op``, else a sentence saying why not."""
        raise NotImplementedError

    def l1_needs(self, op: Op) -> L1Needs:
        """What a tile of ``op`` needs in L1 besides its inputs and outputs."""
        return L1Needs()

    def tile_cycles(self, op: Op, g: Geometry, h: int, c: int) -> int:
        """Cycles (of :attr:`clock_hz`) of one tile of ``h`` rows x ``c`` channels."""
        raise NotImplementedError

    def tile_energy_pj(self, op: Op, g: Geometry, h: int, c: int) -> float:
        """Energy (pJ) the engine spends on one tile of ``h`` rows x ``c`` channels."""
        raise NotImplementedError

    @property
    def clock_hz(self) -> int:
        """The clock :meth:`tile_cycles` counts."""
        return self.component.clock.freq_hz

    def payload(self, op: Op) -> Any:
        """The engine's data for layer ``op`` in the schedule (engines without an
        engine-wide allocation)."""
        return None

    def allocate(self, ops: Sequence[Op]) -> EngineMapping:
        """Allocate the engine's resources to ``ops`` (in execution order)."""
        return EngineMapping({op.name: self.payload(op) for op in ops})

    # -- runtime ---------------------------------------------------------------------------

    def preload(self, rt: Runtime) -> None:
        """Set-up done at deployment, before simulated time starts."""

    def before_layer(self, rt: Runtime, layer: Layer) -> Generator[simpy.Event, Any, None]:
        """Simulated work before ``layer``'s tiles (e.g. reprogramming)."""
        yield from ()

    def run_tile(self, rt: Runtime, layer: Layer, tile: Tile
                 ) -> Generator[simpy.Event, Any, None]:
        """Run one tile: its jobs on the engine's components."""
        raise NotImplementedError

    def track(self, layer: Layer) -> tuple[str, str]:
        """The trace track (component path, lane) where ``layer`` computes."""
        return self.component.path, "compute"

    def energy_components(self) -> list[Any]:
        """Components whose ``energy_pj`` the engine's energy is."""
        return [self.component]

    def results(self, rt: Runtime, schedule: Schedule) -> dict[str, Any] | None:
        """The engine's entry in the summary (None: no entry)."""
        return None

    # -- functional mode -------------------------------------------------------------------

    def functional_model(self, fn: Any, schedule: Schedule, seed: int) -> Any:
        """The engine's own numerics for a functional run (None: exact digital tiles)."""
        return None
