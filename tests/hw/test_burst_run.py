"""Burst runs (:mod:`desim.hw.burst_run`): a DMA channel's bursts between the DRAM and an
SRAM replayed compiled while the channel has the DRAM, the link and the port to itself,
against the event-level model they stand for (``burst_by_burst``): the same copies and
competing traffic give the same finish times, counters, energy and busy times.

A newcomer cuts a run back to its own moment; the run's steps of that very picosecond then
come after the newcomer, where burst by burst serves events of one picosecond in the order
they were scheduled. The competing traffic here starts at odd picoseconds (DRAM, port and
link events fall on whole nanoseconds or DRAM clock edges), so that no such tie decides an
outcome.
"""

from __future__ import annotations

import contextlib

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desim.hw.dma import Copy1D, Dma, DmaSpec, Region, burst_by_burst
from desim.hw.dram.component import DramController
from desim.hw.dram.spec import preset
from desim.hw.interconnect import Interconnect, LinkSpec, add_link
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Clock, Component, Sim
from desim.trace import Recorder

NS = 1000
MAIN = Clock("main", 1_000_000_000)
DRAM_BASE = 0x8000_0000
L2_BASE = 1 << 24


def _soc(sim: Sim, ddr: bool = False) -> tuple[Dma, DramController, Sram]:
    soc = Component(sim, "soc", MAIN)
    dram = DramController(soc, "dram", preset("ddr4_3200" if ddr else "hyperram"), DRAM_BASE)
    l2 = Sram(soc, "l2", SramSpec(port_bytes_per_cycle=8.0, capacity_bytes=1 << 20,
                                  base_addr=L2_BASE, latency_cycles=2))
    g = nx.DiGraph()
    add_link(g, "l2", "dram", LinkSpec(bandwidth_bytes_per_cycle=4.0, latency_cycles=3))
    ic = Interconnect(soc, "ic", g)
    dma = Dma(soc, "dma", ic, [Region.of(l2, "l2"), Region("dram", DRAM_BASE, dram.size,
                                                             dram, "dram")],
              DmaSpec(channels=2, outstanding=8))
    return dma, dram, l2


def _run(copies, others, reference: bool, ddr: bool = False, until: int | None = None,
         traced: bool = False):
    """Ends of every copy and competing access; the DRAM's, the port's and the link's
    counters, energy and busy time; traced, the trace's intervals and counter samples
    (sorted: a run adds its records when it hands back); the events run."""
    sim = Sim(tracer=Recorder() if traced else None)
    dma, dram, l2 = _soc(sim, ddr)
    ends: dict[str, int] = {}

    def copy(i, to_dram, kib, delay, channel):
        yield sim.env.timeout(delay * NS)
        a, b = DRAM_BASE + i * (64 << 10), L2_BASE + i * (32 << 10)
        src, dst = (b, a) if to_dram else (a, b)
        yield from dma.copy(Copy1D(src, dst, kib * 1024 - i * 8), channel, f"c{i}")
        ends[f"c{i}"] = sim.now

    def other(i, on_dram, nbytes, delay, write):
        yield sim.env.timeout(delay * NS + 2 * i + 1)  # an odd picosecond
        mem, base = (dram, DRAM_BASE + (1 << 22)) if on_dram else (l2, L2_BASE + (1 << 19))
        yield from mem.access(base + 64 * i, nbytes, write, f"core{i}")
        ends[f"a{i}"] = sim.now

    for i, args in enumerate(copies):
        sim.process(copy(i, *args), f"c{i}")
    for i, args in enumerate(others):
        sim.process(other(i, *args), f"a{i}")
    stopped = None
    with burst_by_burst() if reference else contextlib.nullcontext():
        if until is None or until > 0:
            stats = sim.run(until)
        else:  # stop at -until, read, go on to the end
            stats = sim.run(-until)
            stopped = (dict(l2.counters), l2.port.bytes, dict(dram.counters),
                       dram.energy_breakdown())  # (the last reads the DRAM's state)
            stats = sim.run()
    link = dma.ic.route("dram", "l2").links[0], dma.ic.route("l2", "dram").links[0]
    state = (ends, dict(dram.counters), dram.energy_breakdown(), dram.busy_ps,
             dict(l2.counters), l2.energy_pj, l2.busy_ps, dict(dma.ic.counters),
             [(ln.bytes, ln.busy_ps, ln.free_at) for ln in (*link, l2.port)], stopped)
    if traced:
        rec = sim.tracer
        state += (sorted((*iv[:6], sorted(iv.args.items())) for iv in rec.intervals),
                  sorted(rec.counters))
    return state, stats.events


copy_st = st.tuples(st.booleans(), st.integers(1, 24), st.integers(0, 60), st.integers(0, 1))
other_st = st.tuples(st.booleans(), st.sampled_from([4, 64, 256, 1024]),
                     st.integers(0, 120), st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copies=st.lists(copy_st, min_size=1, max_size=4),
       others=st.lists(other_st, max_size=10), ddr=st.booleans(), traced=st.booleans())
def test_copies_with_competing_traffic_finish_as_burst_by_burst(copies, others, ddr, traced):
    """Traced, the trace holds the same records too."""
    fast = _run(copies, others, False, ddr, traced=traced)[0]
    assert fast == _run(copies, others, True, ddr, traced=traced)[0]


def test_a_copy_alone_runs_in_a_few_events_with_the_same_timing():
    """A 64 KiB copy from the DRAM into L2 (256 bursts), then one back: burst by burst
    six events or so per burst; as runs, the last bursts of each copy only."""
    copies = [(False, 64, 0, 0), (True, 64, 1000, 0)]
    fast, fast_events = _run(copies, [], False)
    ref, ref_events = _run(copies, [], True)
    assert fast == ref
    assert _run(copies, [], False, traced=True)[1] == fast_events  # traced alike
    assert ref_events > 2 * 6 * 256 * 0.9
    assert fast_events < ref_events / 10


def test_a_competing_access_cuts_a_run_back_at_its_moment():
    """DRAM reads and port accesses of another master in the middle of a copy: the copy,
    the accesses and the counters end as burst by burst."""
    copies = [(False, 64, 0, 0)]
    others = [(True, 64, 20, False), (False, 1024, 40, True), (True, 256, 41, True)]
    fast, fast_events = _run(copies, others, False)
    ref, ref_events = _run(copies, others, True)
    assert fast == ref
    assert fast_events < ref_events / 2


def test_a_run_stopped_midway_reads_as_burst_by_burst_at_that_moment():
    """``Sim.run(until)`` in the middle of a run brings it back to that moment: the
    counters read then are burst by burst's, and the copies go on from there to the
    same end (a negative ``until``: stop there, read, run to the end)."""
    copies = [(False, 64, 0, 0), (True, 32, 400_000, 1)]  # one after the other (ns)
    for until in (37_000_123, 150_000_000, -37_000_123, -450_000_001):
        assert _run(copies, [], False, until=until)[0] == _run(copies, [], True,
                                                               until=until)[0]
