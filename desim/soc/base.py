"""The platform interface: a SoC's memory levels, the DMA paths between them, its engines.

A platform script builds a component tree (memories, DMA engines, links, engines) and
binds it to a :class:`Soc` root, in the spirit of a gem5 config or a GVSoC generator:
components first, then ``add_memory`` / ``add_dma`` / ``add_engine``. Mapping and the
runtime see only this interface: levels by role (``l1`` that engines compute from, ``l2``
on chip, ``dram`` off chip; a platform may lack ``l2`` or ``dram``), the DMA that moves
data from one level to another, and the engines (:mod:`desim.engines`) by name.

A run is driven from outside (:func:`desim.simulate`): :meth:`Soc.map` maps a workload
before anything runs (a mapping error stops it early), :meth:`Soc.execute` runs the plan
as the simulation's main process and returns a typed
:class:`~desim.runtime.executor.Execution`.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from types import MappingProxyType
from typing import Any

import simpy

from desim.engines.base import Engine
from desim.errors import SpecError
from desim.hw.dma import Dma
from desim.hw.dram.spec import DramSpec
from desim.kernel import Clock, Component, Sim
from desim.mapping import Level, MappingSpec, Schedule, Target, map_graph
from desim.runtime.executor import Execution, Runtime
from desim.spec import Spec, param

#: memory roles, nearest to the engines first
LEVELS = ("l1", "l2", "dram")


def area_scale_param() -> Any:
    """The ``area_scale`` parameter every platform spec carries (desim/result.py applies it
    to each component's area in summary.json)."""
    return param(
        1.0, gt=0, doc="area scaling from the sources' nodes to the target node, applied to "
        "every component's area in summary.json (1: as published; e.g. (16 / 22)^2 for a "
        "22 nm figure at 16 nm)",
        source="assumed: the published figures as they are, most of them 22 nm (docs/models/"
        "area.md); one factor because the sources mix nodes and no scaling law fits them all")


def dram_txn_cycles(dram: DramSpec, clock_hz: float, link_bytes_per_cycle: float) -> float:
    """Main-clock cycles per DRAM transaction in a stream: the data burst with an open
    page, the whole activate-access-precharge sequence with a closed one; never faster
    than the link to the DRAM carries it (the tiler's DRAM cost)."""
    d = dram
    dram_cycles = d.burst_cycles if d.page_policy == "open" else (
        d.tRCD + d.CL + d.burst_cycles + d.tRP)
    cycles = dram_cycles * d.tCK_ns * 1e-9 * clock_hz
    return max(cycles, d.txn_bytes / link_bytes_per_cycle)


class Soc(Component):
    """The root of a platform's component tree, and what the stack asks of it."""

    kind = "soc"

    def __init__(self, sim: Sim, spec: Spec, clock: Clock, name: str = "soc"):
        super().__init__(sim, name, clock, spec)
        self._memories: dict[str, Any] = {}
        self._dmas: dict[tuple[str, str], Dma] = {}
        #: engine name -> engine, in the platform's order (ties in engine choice go first)
        self.engines: dict[str, Engine] = {}

    # -- binding ---------------------------------------------------------------------------

    def add_memory(self, level: str, memory: Any) -> Any:
        """Bind ``memory`` (an Sram or a DramController) as level ``level``."""
        if level not in LEVELS:
            raise SpecError(f"{self.path}: memory level {level!r} must be one of "
                            f"{', '.join(LEVELS)}")
        self._memories[level] = memory
        return memory

    def add_dma(self, a: str, b: str, dma: Dma) -> Dma:
        """Bind ``dma`` as the path between levels ``a`` and ``b`` (both directions)."""
        self._dmas[a, b] = self._dmas[b, a] = dma
        return dma

    def add_engine(self, engine: Engine) -> Engine:
        """Bind ``engine``; its name must be unique on the platform."""
        if engine.name in self.engines:
            raise SpecError(f"{self.path}: two engines named {engine.name!r}; give each "
                            "engine class its own name")
        self.engines[engine.name] = engine
        return engine

    # -- the interface ---------------------------------------------------------------------

    def has_memory(self, level: str) -> bool:
        return level in self._memories

    def memory(self, level: str) -> Any:
        """The memory bound as ``level``."""
        try:
            return self._memories[level]
        except KeyError:
            raise SpecError(f"{self.path} has no {level} (levels: "
                            f"{', '.join(self._memories)})") from None

    def dma(self, src: str, dst: str) -> Dma:
        """The DMA that moves data from level ``src`` to level ``dst``."""
        try:
            return self._dmas[src, dst]
        except KeyError:
            raise SpecError(f"{self.path} has no DMA path from {src} to {dst}; bind one "
                            "with add_dma") from None

    def dma_paths(self) -> Mapping[tuple[str, str], Dma]:
        """Every bound DMA path, (src level, dst level) -> DMA (both directions), read-only."""
        return MappingProxyType(self._dmas)

    def energy_parts(self) -> list[Any]:
        """Components that account energy (each has ``energy_pj``): memories, engines."""
        parts = [self._memories[level] for level in LEVELS if level in self._memories]
        for engine in self.engines.values():
            parts += [c for c in engine.energy_components() if c not in parts]
        return parts

    def target(self) -> Target:
        """What the mapper needs to know of this platform (see :meth:`make_target`)."""
        raise NotImplementedError(f"{type(self).__name__} defines no target()")

    def make_target(self, mapping: MappingSpec, link_bytes_per_cycle: float,
                    dma_setup_cycles: int, dram_txn_cycles: float = 0.0) -> Target:
        """The :class:`Target` of the bound levels and engines, with the transfer costs the
        tiler estimates with (bytes per main-clock cycle into L1, DMA setup cycles, cycles
        per DRAM transaction when streaming)."""
        def level(name: str) -> Level | None:
            m = self._memories.get(name)
            return None if m is None else Level(m.base, m.size)

        l1 = level("l1")
        if l1 is None:
            raise SpecError(f"{self.path} binds no l1 memory; engines compute from l1")
        dram = self._memories.get("dram")
        return Target(self.spec.name, tuple(self.engines.values()), mapping, l1, level("l2"),
                      level("dram"), self.clock.freq_hz, link_bytes_per_cycle,
                      dma_setup_cycles, dram.spec.txn_bytes if dram else 64, dram_txn_cycles)

    # -- driving ---------------------------------------------------------------------------

    def map(self, workload: Any) -> Schedule:
        """Map DNN graph ``workload`` before the run (errors stop it early)."""
        from desim.workload.graph import Graph

        if not isinstance(workload, Graph):
            raise SpecError(f"{self.spec.name} runs DNN graphs (zoo names or model files); "
                            f"run the synthetic workload '{workload.name}' on stream_soc")
        return map_graph(workload, self.target())

    def execute(self, plan: Any, functional: Any = None
                ) -> Generator[simpy.Event, Any, Execution]:
        """Run ``plan`` (what :meth:`map` returned); ``functional`` computes tensors."""
        return (yield from Runtime(self, plan, functional).run())
