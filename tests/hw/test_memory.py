"""SRAM: access timing and port sharing, bank-conflict stretch, counters and energy, and
the buffer allocator."""

from __future__ import annotations

import math

import pytest

from desim.errors import SpecError
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Clock, Component, Sim

NS = 1000
BASE = 0x10000000
NO_CONFLICTS = SramSpec(bank_conflict_factor=0.0)


def _mem(sim: Sim, clk: Clock, spec: SramSpec = NO_CONFLICTS) -> Sram:
    return Sram(Component(sim, "soc", clk), "l1", spec)


def _access(sim, mem, log, tag, addr, nbytes, write=False, master="", delay=0):
    def proc():
        if delay:
            yield sim.env.timeout(delay * NS)
        yield from mem.access(addr, nbytes, write, master)
        log[tag] = sim.now / NS
    sim.process(proc(), tag)


def test_lone_access_takes_latency_plus_bytes_over_port_bandwidth(sim, clk):
    """4096 B at 64 B/cycle after 1 cycle of latency: done at 65; 100 B take 1 + 100/64
    cycles, rounded up to whole picoseconds."""
    mem = _mem(sim, clk)
    log = {}
    _access(sim, mem, log, "big", BASE, 4096)
    sim.run()
    assert log["big"] == 65
    assert mem.idle_ps(4096) == 65 * NS
    assert mem.idle_ps(100) == 1 * NS + math.ceil(100 * NS / 64)


def test_two_masters_share_the_port_bandwidth(sim, clk):
    """Two masters x 4096 B alternate 256 B chunks of 4 cycles: the first ends at
    31 * 4 + 1 = 125, the second at 32 * 4 + 1 = 129 (each saw half of 64 B/cycle)."""
    mem = _mem(sim, clk)
    log = {}
    _access(sim, mem, log, "core", BASE, 4096, master="core0")
    _access(sim, mem, log, "dma", BASE + 8192, 4096, write=True, master="dma")
    sim.run()
    assert log == {"core": 125, "dma": 129}
    assert mem.busy_ps == 128 * NS


def test_bank_conflicts_stretch_shared_chunks(sim, clk):
    """With the random-address conflict model, chunks granted while 2 masters compete take
    4 cycles * s(2), s(2) = 2 / (16 * (1 - (15/16)^2)) = 1.0323; only the first chunk,
    granted while the first master was alone, is not stretched: the second master ends
    at 4 + 31 * 4 * s(2) + 1."""
    mem = _mem(sim, clk, SramSpec())
    log = {}
    _access(sim, mem, log, "a", BASE, 4096, master="a")
    _access(sim, mem, log, "b", BASE + 8192, 4096, master="b")
    sim.run()
    s2 = 2 / (16 * (1 - (15 / 16) ** 2))
    stretched = math.ceil(4 * NS * s2)
    assert sim.now == 4 * NS + 31 * stretched + 1 * NS
    assert log["b"] * NS == sim.now


def test_one_master_is_served_in_issue_order(sim, clk):
    """Two accesses of one master issued together complete one after the other: 65, 129."""
    mem = _mem(sim, clk)
    log = {}
    _access(sim, mem, log, "first", BASE, 4096, master="core0")
    _access(sim, mem, log, "second", BASE, 4096, master="core0")
    sim.run()
    assert log == {"first": 65, "second": 129}


def test_counters_energy_and_trace(sim, clk):
    """Bytes and energy are counted per direction; each grant is traced on lane 'port'."""
    mem = _mem(sim, clk, SramSpec(read_pj_per_byte=2.0, write_pj_per_byte=3.0,
                                  bank_conflict_factor=0.0))
    log = {}
    _access(sim, mem, log, "r", BASE, 1024, master="core0")
    _access(sim, mem, log, "w", BASE + 1024, 512, write=True, master="dma", delay=100)
    sim.run()
    assert mem.counters["bytes_read"] == 1024 and mem.counters["bytes_written"] == 512
    assert mem.energy_pj == pytest.approx(1024 * 2.0 + 512 * 3.0)
    ivs = [iv for iv in sim.tracer.intervals if iv.path == "soc.l1"]
    assert [(iv.lane, iv.name, iv.args["bytes"], iv.args["master"]) for iv in ivs] == \
        [("port", "read", 1024, "core0"), ("port", "write", 512, "dma")]


def test_access_outside_the_memory_is_an_error(sim, clk):
    mem = _mem(sim, clk)
    with pytest.raises(SpecError, match=r"soc.l1: access of 64 B at 0x1000ffe0 falls outside"):
        mem.access(BASE + 65536 - 32, 64, False)


def test_spec_checks_port_against_banks():
    with pytest.raises(SpecError, match=r"exceeds what 16 banks of 4 B can serve \(64 B/cycle\)"):
        SramSpec(port_bytes_per_cycle=128)


# -- allocator ---------------------------------------------------------------------------

def test_alloc_aligns_tracks_occupancy_and_peak(sim, clk):
    """Buffers are placed first-fit at aligned addresses; occupancy counts their bytes and
    the peak survives frees; the trace has an occupancy counter."""
    mem = _mem(sim, clk)
    a = mem.alloc("a", 10)
    b = mem.alloc("b", 100, align=64)
    assert (a.addr, b.addr) == (BASE, BASE + 64)
    assert (mem.occupancy, mem.peak) == (110, 110)
    mem.free(a)
    c = mem.alloc("c", 8)  # reuses the hole left by a
    assert c.addr == BASE and mem.buffers() == [c, b]
    assert (mem.occupancy, mem.peak) == (108, 110)
    samples = [c.value for c in sim.tracer.counters if c.name == "occupancy"]
    assert samples == [10, 110, 100, 108]


def test_free_merges_neighbouring_holes(sim, clk):
    """Freeing the middle then the sides of three 16 KiB buffers leaves one 64 KiB hole."""
    mem = _mem(sim, clk)
    bufs = [mem.alloc(f"b{i}", 16384) for i in range(4)]
    for i in (1, 0, 2, 3):
        mem.free(bufs[i])
    whole = mem.alloc("whole", 65536)
    assert whole.addr == BASE and mem.occupancy == 65536


def test_alloc_beyond_capacity_names_buffer_size_and_free_space(sim, clk):
    mem = _mem(sim, clk)
    mem.alloc("weights", 40000)
    with pytest.raises(SpecError, match=r"cannot place buffer 'conv1.in' of 30000 B .*"
                                        r"25536 B of 65536 B free, largest free block 25536 B"):
        mem.alloc("conv1.in", 30000)


def test_fragmentation_is_reported_with_the_largest_block(sim, clk):
    """Freeing 4 of 8 buffers of 8 KiB leaves 32 KiB free, the largest hole 16 KiB: 20000 B
    does not fit."""
    mem = _mem(sim, clk)
    bufs = [mem.alloc(f"b{i}", 8192) for i in range(8)]
    for i in (0, 3, 6):
        mem.free(bufs[i])
    mem.free(bufs[1])
    with pytest.raises(SpecError, match=r"32768 B of 65536 B free, largest free block 16384 B"):
        mem.alloc("big", 20000)


def test_bad_frees_and_sizes_are_errors(sim, clk):
    mem = _mem(sim, clk)
    buf = mem.alloc("x", 64)
    mem.free(buf)
    with pytest.raises(SpecError, match=r"buffer 'x' at 0x10000000 is not allocated here"):
        mem.free(buf)
    with pytest.raises(SpecError, match=r"buffer 'y' of 0 B"):
        mem.alloc("y", 0)
    with pytest.raises(SpecError, match=r"align=3 must be a power of 2"):
        mem.alloc("z", 8, align=3)
