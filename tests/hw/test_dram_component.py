"""DramController: the engine behind the ``yield from mem.access(...)`` protocol.

DDR4-3200 defaults: DRAM clock 1587.3 MHz (630 ps), 64 B bursts. An access arriving at a
DRAM clock edge c is offered at c and enters the controller at c + 1.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.hw.dram.component import DramController
from desim.hw.dram.controller import DramEngine
from desim.hw.dram.spec import DramSpec, preset
from desim.kernel import Component, Sim

BASE = 0x8000_0000


def build(sim: Sim, clk, spec: DramSpec | None = None) -> DramController:
    soc = Component(sim, "soc", clk)
    return DramController(soc, "dram", spec, base_addr=BASE)


def reader(sim: Sim, dram: DramController, ends: dict, name: str, accesses, start_ps=0):
    """A process doing ``(offset, nbytes, write)`` accesses one after the other."""
    def proc():
        if start_ps:
            yield sim.env.timeout(start_ps)
        for offset, nbytes, write in accesses:
            yield from dram.access(BASE + offset, nbytes, write, name)
            ends.setdefault(name, []).append(sim.now)
    sim.process(proc(), name)


def test_single_read_takes_50_dram_cycles(sim, clk):
    """Edge 0: offered; enters 1; ACT 2; READ 24; last beat 24 + CL + BL/2 = 50."""
    dram = build(sim, clk)
    ends: dict = {}
    reader(sim, dram, ends, "cpu", [(0, 64, False)])
    sim.run()
    assert ends["cpu"] == [dram.clock.ps(50)]
    assert dram.kind == "dram" and dram.clock.freq_hz == 1_587_301_587


def test_an_access_of_n_bytes_moves_n_bytes(sim, clk):
    """100 B at offset 32 covers bursts 0, 64 and 128; a write of 4 KiB is 64 bursts."""
    dram = build(sim, clk)
    reader(sim, dram, {}, "dma", [(32, 100, False), (8192, 4096, True), (0, 0, False)])
    sim.run()
    c = dram.counters
    assert (c["bytes_read"], c["bytes_written"]) == (100, 4096)
    assert (c["accesses"], c["transactions"]) == (2, 3 + 64)


def test_out_of_range_access_is_refused(sim, clk):
    dram = build(sim, clk, preset("hyperram"))
    with pytest.raises(SpecError, match=r"access of 64 B at 0x807fffc1 falls outside"):
        dram.access(BASE + (8 << 20) - 63, 64, False)
    with pytest.raises(SpecError, match="falls outside"):
        dram.access(BASE - 64, 64, False)


def test_component_timing_equals_the_engine_fed_directly(sim, clk):
    """A 64 KiB read at 0 and a 4 KiB write at 1 us (edge 1588) finish exactly when an
    engine given the same two streams finishes them: the late access sees the controller
    as the early one left it, not a speculative future."""
    dram = build(sim, clk)
    ends: dict = {}
    reader(sim, dram, ends, "a", [(0, 65536, False)])
    reader(sim, dram, ends, "b", [(1 << 20, 4096, True)], start_ps=1_000_000)
    sim.run()
    engine = DramEngine(DramSpec())
    engine.submit(range(0, 65536, 64), False, 0, tag="a")
    edge = dram.clock.edge_index(1_000_000)
    assert edge == 1588
    engine.advance(edge)
    engine.submit(range(1 << 20, (1 << 20) + 4096, 64), True, edge, tag="b")
    engine.finish()
    done = {tag: dram.clock.ps(cycle) for cycle, tag in engine.pop_done(1 << 60)}
    assert ends == {"a": [done["a"]], "b": [done["b"]]}


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3_000_000), st.integers(0, 1 << 14),
                          st.integers(1, 8192), st.booleans()), min_size=1, max_size=6))
def test_concurrent_accesses_see_exactly_the_engine_timing(accesses):
    """Masters starting at random times with random reads and writes finish exactly when
    an engine fed the same streams in time order finishes them."""
    from desim.kernel import Clock

    clk = Clock("main", 10**9)
    sim = Sim()
    dram = build(sim, clk)
    ends: dict = {}
    for k, (start, line, size, write) in enumerate(accesses):
        reader(sim, dram, ends, k, [(64 * line, size, write)], start_ps=start)
    sim.run()
    engine = DramEngine(DramSpec())
    order = sorted(range(len(accesses)), key=lambda k: (accesses[k][0], k))
    for k in order:
        start, line, size, write = accesses[k]
        edge = dram.clock.edge_index(start)
        engine.advance(edge)
        first = 64 * line
        last = (first + size - 1) // 64 * 64
        engine.submit(range(first, last + 64, 64), write, edge, tag=k)
    engine.finish()
    done = {tag: [dram.clock.ps(cycle)] for cycle, tag in engine.pop_done(1 << 60)}
    assert ends == done


def test_two_streams_share_the_bandwidth(sim, clk):
    """Two 256 KiB reads in the same banks (rows 4 MiB apart) each take longer than one
    alone, never move data faster than the 25.4 GB/s peak together, and thrash the row
    buffers that one stream alone keeps open."""
    alone: dict = {}
    solo = Sim()
    d1 = build(solo, clk)
    reader(solo, d1, alone, "a", [(0, 1 << 18, False)])
    solo.run()
    dram = build(sim, clk)
    ends: dict = {}
    reader(sim, dram, ends, "a", [(0, 1 << 18, False)])
    reader(sim, dram, ends, "b", [(4 << 20, 1 << 18, False)])
    sim.run()
    t_alone = alone["a"][0]
    assert min(ends["a"][0], ends["b"][0]) > t_alone
    both = max(ends["a"][0], ends["b"][0])
    assert 2 * (1 << 18) / both * 1e3 <= DramSpec().peak_gbps  # bytes per ps -> GB/s
    assert d1.stats()["row_conflicts"] == 0 < dram.stats()["row_conflicts"]


def test_simpy_events_scale_with_accesses_not_bytes(clk):
    """16 accesses cost the same events whether they move 4 KiB or 256 KiB each."""
    events = []
    for size in (4096, 1 << 18):
        sim = Sim()
        dram = build(sim, clk)
        reader(sim, dram, {}, "dma", [(i * size, size, i % 2 == 1) for i in range(16)])
        events.append(sim.run().events)
    assert events[0] == events[1]
    assert events[0] <= 8 * 16


def test_idle_controller_is_not_a_stall_and_burns_background_power(sim, clk):
    """No access: the run ends at once. By 1 ms (DRAM cycle 1,587,302) ranks have been
    refreshed at 6240 k: 254 REFs, with both ranks precharged all the time."""
    dram = build(sim, clk)
    sim.run()
    assert sim.now == 0
    sim.env.run(until=10**9)
    cycles = dram.clock.edge_index(10**9)
    assert cycles == 1_587_302
    stats = dram.stats()
    assert stats["ref"] == 254 == (cycles - 1) // 6240
    spec = dram.spec
    idle_mw = 2 * spec.power_precharge_standby_mw
    assert dram.energy_breakdown()["background"] == pytest.approx(
        idle_mw * cycles * spec.tCK_ns, rel=1e-12)
    assert dram.energy_pj == pytest.approx(dram.energy_breakdown()["background"]
                                           + stats["ref"] * spec.energy_ref_pj)


def test_busy_intervals_and_queue_depth_are_traced(sim, clk):
    """Each access is a busy interval on lane 'bus'; queue depth is sampled per access."""
    dram = build(sim, clk)
    ends: dict = {}
    reader(sim, dram, ends, "dma", [(0, 4096, False), (8192, 64, True)])
    sim.run()
    ivs = [iv for iv in sim.tracer.intervals if iv.path == "soc.dram"]
    assert [(iv.lane, iv.name, iv.end) for iv in ivs] == [("bus", "read", ends["dma"][0]),
                                                          ("bus", "write", ends["dma"][1])]
    assert ivs[0].args == {"master": "dma", "addr": BASE, "bytes": 4096}
    assert dram.busy_ps == ends["dma"][1]
    depth = [c for c in sim.tracer.counters if c.name == "queue_depth"]
    assert len(depth) == 4 and all(c.path == "soc.dram" for c in depth)
