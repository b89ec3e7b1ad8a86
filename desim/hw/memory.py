"""On-chip SRAM (L1 scratchpad or L2): a shared, word-interleaved memory with a buffer
allocator.

Every master (cores, DMA channels, accelerators) reaches the banks through one port of
``port_bytes_per_cycle``, granted chunk by chunk like an interconnect link
(:mod:`desim.hw.interconnect`): concurrent masters share its bandwidth round robin, and
one master's accesses are served in issue order. Timing of an access of n bytes, in
cycles of the memory's clock:

    alone        t = latency + n / bandwidth
    k masters    each chunk of c bytes takes (c / bandwidth) * s(k), where
                 s(k) = 1 + f * (k / E(k) - 1),  E(k) = B * (1 - (1 - 1/B)^k)

E(k) is the expected number of distinct banks hit when k masters each issue a word to one
of B word-interleaved banks at random (the classic model of interleaved memories);
k / E(k) is the resulting slowdown, scaled by ``bank_conflict_factor`` f (1: addresses
behave as random; 0: conflict-free streams). Energy: n * read or write pJ/B.

The allocator places buffers first-fit at aligned addresses inside
``[base_addr, base_addr + capacity_bytes)`` and tracks occupancy and its peak.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from desim.arena import Arena
from desim.errors import SpecError
from desim.hw.interconnect import Link, Route, instant, launch, stream
from desim.kernel import Clock, Component
from desim.spec import Spec, param

_HORO = ("Horowitz, 'Computing's energy problem', ISSCC 2014: 20 pJ per 64-bit access of "
         "a 32 KB SRAM in 45 nm (2.5 pJ/B; an upper bound for 22-28 nm)")


@dataclass(frozen=True)
class SramSpec(Spec):
    """A banked on-chip SRAM; the defaults describe the PULP cluster L1 (TCDM)."""

    capacity_bytes: int = param(
        65536, unit="B", ge=1, doc="capacity",
        source="PULP cluster L1 64 KiB (gvsoc pulp_open cluster.json)")
    base_addr: int = param(
        0x10000000, unit="B", ge=0, doc="address of the first byte",
        source="PULP cluster L1 base address (pulp_open memory map)")
    banks: int = param(
        16, ge=1, doc="word-interleaved banks",
        source="PULP cluster L1, 16 banks of 4 KiB (gvsoc pulp_open cluster.json)")
    word_bytes: int = param(
        4, unit="B", ge=1, doc="bank word width (interleaving granule)",
        source="PULP cluster L1 32-bit word interleaving (gvsoc l1_subsystem.py)")
    latency_cycles: int = param(
        1, unit="cycles", ge=0, le=10_000, doc="access latency of the first word; at most "
        "10,000 cycles, far beyond any on-chip SRAM (tens of cycles)",
        source="single-cycle TCDM access (Rahimi et al., DATE 2011, shared-L1 interconnect)")
    port_bytes_per_cycle: float = param(
        64.0, unit="B/cycle", ge=0.01, doc="bandwidth shared by all masters; at least 0.01 "
        "B/cycle (a byte every 100 cycles)",
        source="16 banks x 4 B: every bank serves one word per cycle")
    bank_conflict_factor: float = param(
        1.0, ge=0, le=1, doc="weight of the random-address bank-conflict slowdown s(k) while "
                             "k >= 2 masters share the banks (0: conflict-free)",
        source="uniform random requests to interleaved banks, E(k) = B(1 - (1 - 1/B)^k)")
    chunk_bytes: int = param(
        256, unit="B", ge=1, doc="arbitration granularity between masters",
        source="mchan v7 maximum burst length, 256 B (gvsoc-pulp pulp/mchan/mchan_v7.py)")
    read_pj_per_byte: float = param(2.5, unit="pJ/B", ge=0, doc="read energy", source=_HORO)
    write_pj_per_byte: float = param(2.5, unit="pJ/B", ge=0, doc="write energy",
                                     source=_HORO + "; writes taken equal to reads")
    area_mm2_per_kib: float = param(
        0.0016, unit="mm^2/KiB", ge=0, doc="silicon area per KiB of capacity (banks with "
        "their periphery)",
        source="assumed: about 0.2 um^2 per bit in a 22 nm SRAM macro (a 0.11 um^2 "
        "high-density bitcell at about 55 % array efficiency); 8192 bits per KiB")

    @property
    def area_mm2(self) -> float:
        """Silicon area of the whole capacity (mm^2)."""
        return self.capacity_bytes / 1024 * self.area_mm2_per_kib

    def validate(self) -> None:
        peak = self.banks * self.word_bytes
        if self.port_bytes_per_cycle > peak:
            raise SpecError(f"port_bytes_per_cycle = {self.port_bytes_per_cycle:g} B/cycle "
                            f"exceeds what {self.banks} banks of {self.word_bytes} B can serve "
                            f"({peak} B/cycle); lower it or add banks")


@dataclass(frozen=True)
class Buffer:
    """A region of an SRAM handed out by :meth:`Sram.alloc`."""

    name: str
    addr: int
    nbytes: int
    mem: Any = field(repr=False, compare=False)

    @property
    def end(self) -> int:
        """Address one past the last byte."""
        return self.addr + self.nbytes


class Sram(Component):
    """A shared SRAM: timed accesses through one arbitrated port, and a buffer allocator."""

    kind = "sram"

    def __init__(self, parent: Component, name: str, spec: SramSpec | None = None,
                 clock: Clock | None = None):
        spec = spec or SramSpec()
        super().__init__(parent, name, clock, spec)
        self.base = spec.base_addr
        self.size = spec.capacity_bytes
        conflict = _conflict_stretch(spec.banks, spec.bank_conflict_factor)
        self.port = Link("port", self.path, "port", "mem", self.clock,
                         spec.port_bytes_per_cycle, spec.latency_cycles, spec.chunk_bytes,
                         stretch=conflict, account=self)
        self._route = Route(self.path, self.path, (self.port,), self.port.latency_ps,
                            spec.chunk_bytes)
        self._read_pj = spec.read_pj_per_byte
        self._write_pj = spec.write_pj_per_byte
        self.energy_pj = 0.0
        # allocator: free holes as sorted [start, end) pairs, live buffers by address
        self._arena = Arena(self.base, self.size)
        self._live: dict[int, Buffer] = {}
        self.occupancy = 0
        self.peak = 0

    @property
    def area_mm2(self) -> float:
        """Silicon area of the memory (mm^2, see :class:`SramSpec`)."""
        return float(self.spec.area_mm2)

    # -- memory-target protocol ----------------------------------------------------------

    def access(self, addr: int, nbytes: int, write: bool, master: str = ""
               ) -> Generator[simpy.Event, Any, None]:
        """Read or write ``nbytes`` at ``addr``; use as ``yield from``, returns when done.

        Masters share the port bandwidth; one master's accesses complete in issue order.
        """
        label = self._open(addr, nbytes, write, master)
        if label is None:
            return instant()
        return stream(self.env, self._route, nbytes, master, 0, *label)

    def request(self, addr: int, nbytes: int, write: bool, master: str = ""
                ) -> simpy.Event | None:
        """Start :meth:`access` now, for callers that wait through callbacks: the event
        triggers when it is done (None: nothing to move)."""
        label = self._open(addr, nbytes, write, master)
        if label is None:
            return None
        return launch(self.env, self._route, nbytes, master, 0, *label)

    def _open(self, addr: int, nbytes: int, write: bool, master: str
              ) -> tuple[Any, str, dict[str, Any] | None] | None:
        """Check and count an access; its tracer, trace name and arguments (None: no
        bytes to move)."""
        if not (self.base <= addr and addr + nbytes <= self.base + self.size) or nbytes < 0:
            raise SpecError(f"{self.path}: access of {nbytes} B at {addr:#x} falls outside "
                            f"[{self.base:#x}, {self.base + self.size:#x}); check the buffer "
                            "placement")
        self.account(nbytes, write)
        if nbytes == 0:
            return None
        tracer = self._tracer
        args = {"master": master, "addr": addr} if tracer is not None else None
        return tracer, "write" if write else "read", args

    def account(self, nbytes: int, write: bool) -> None:
        """Count ``nbytes`` read or written and their energy. A master that books the
        ``port`` link directly in its own path (the DMA streaming between two memories)
        calls this instead of :meth:`access`."""
        if write:
            self.counters["bytes_written"] += nbytes
            self.energy_pj += nbytes * self._write_pj
        else:
            self.counters["bytes_read"] += nbytes
            self.energy_pj += nbytes * self._read_pj

    def idle_ps(self, nbytes: int) -> int:
        """Duration of an access of ``nbytes`` by a master alone on the port."""
        if nbytes <= 0:
            return 0
        c = self._route.chunk_bytes
        chunks = -(-nbytes // c)
        return (self.port.latency_ps + (chunks - 1) * self.port.dur(c)
                + self.port.dur(nbytes - (chunks - 1) * c))

    # -- buffer allocator ----------------------------------------------------------------

    def alloc(self, name: str, nbytes: int, align: int | None = None) -> Buffer:
        """Place a buffer of ``nbytes`` first-fit at a multiple of ``align`` (default: the
        word size); SpecError naming the buffer when it does not fit."""
        align = align or self.spec.word_bytes
        if not isinstance(nbytes, int) or nbytes < 1:
            raise SpecError(f"{self.path}: buffer '{name}' of {nbytes!r} B; give a positive "
                            "integer size")
        if align < 1 or align & (align - 1):
            raise SpecError(f"{self.path}: buffer '{name}': align={align} must be a power of 2")
        start = self._arena.alloc(nbytes, align)
        if start is not None:
            buf = Buffer(name, start, nbytes, self)
            self._live[start] = buf
            self._occupy(nbytes)
            return buf
        free = self.size - self.occupancy
        largest = self._arena.largest()
        raise SpecError(f"{self.path}: cannot place buffer '{name}' of {nbytes} B "
                        f"(align {align}): {free} B of {self.size} B free, largest free block "
                        f"{largest} B, {len(self._live)} buffers live; use a smaller tile or "
                        "free buffers first")

    def free(self, buf: Buffer) -> None:
        """Return ``buf``'s bytes to the allocator."""
        if self._live.get(buf.addr) is not buf:
            raise SpecError(f"{self.path}: buffer '{buf.name}' at {buf.addr:#x} is not "
                            "allocated here (freed twice, or from another memory)")
        del self._live[buf.addr]
        self._arena.free(buf.addr, buf.nbytes)
        self._occupy(-buf.nbytes)

    def buffers(self) -> list[Buffer]:
        """Live buffers in address order."""
        return [self._live[a] for a in sorted(self._live)]

    def _occupy(self, delta: int) -> None:
        self.occupancy += delta
        if self.occupancy > self.peak:
            self.peak = self.occupancy
        if self._tracer is not None:
            self._tracer.counter(self.path, "occupancy", self.sim.now, self.occupancy)


def _conflict_stretch(banks: int, factor: float) -> Callable[[int], float] | None:
    """s(k) of the module docstring, or None when conflicts are off."""
    if factor == 0 or banks == 1:
        return None
    cache: dict[int, float] = {}

    def stretch(k: int) -> float:
        s = cache.get(k)
        if s is None:
            distinct = banks * (1.0 - (1.0 - 1.0 / banks) ** k)
            s = cache[k] = 1.0 + factor * (k / distinct - 1.0)
        return s

    return stretch
