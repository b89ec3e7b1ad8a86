"""The compiled DRAM engine (FastDramEngine) against the event-level one (DramEngine).

Both engines are fed the same random streams of reads and writes, over a small address
space so that row hits, conflicts, merged reads, reads served by the write buffer, full
queues, write drains and refreshes all occur. They must agree on everything observable:
every command (cycle, kind, bank, row), every stream's completion cycle, the latency
histogram, the counters, the power-state cycles and energy, and the incremental API
(``next_event``, ``run_until_output``, ``pop_done``, ``fork``) step by step.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desim.hw.dram.controller import DramEngine
from desim.hw.dram.fast import FastDramEngine
from desim.hw.dram.spec import DramSpec, preset

DDR4 = DramSpec()
SPECS = {
    "ddr4": DDR4,
    "closed_page": dataclasses.replace(DDR4, page_policy="closed", tREFI=2400),
    "powerdown": dataclasses.replace(DDR4, powerdown_after=40, tREFI=2400),
    "self_refresh": dataclasses.replace(DDR4, powerdown_after=30, self_refresh_after=300,
                                        tREFI=2400),
    # tiny queues: full command queues, blocked moves, drains forced by a full buffer
    "tiny_queues": dataclasses.replace(DDR4, read_queue_depth=3, write_buffer_depth=3,
                                       cmd_queue_depth=2, write_drain_threshold=1,
                                       row_hit_cap=1, tREFI=1600, tRFC=300),
    "lpddr4": preset("lpddr4_2400"),
    "hyperram": preset("hyperram"),
}


def address(spec: DramSpec, row: int, bank: int, column: int) -> int:
    """An address of ``spec`` from a row, a bank index (rank, group, bank) and a column."""
    e = DramEngine(spec)
    bits = {name: (shift, mask) for name, (shift, mask) in e.fields.items()}
    bpg, groups = spec.banks_per_group, spec.bank_groups
    values = {"ro": row, "ba": bank % bpg, "bg": bank // bpg % groups,
              "ra": bank // (bpg * groups) % spec.ranks, "co": column}
    a = 0
    for name, v in values.items():
        shift, mask = bits[name]
        a |= (v & mask) << shift
    return a


# a stream: (start gap, [(row, bank, column, write)], per-request arrival step or None)
request = st.tuples(st.integers(0, 3), st.integers(0, 31), st.integers(0, 3), st.booleans())
stream = st.tuples(st.one_of(st.integers(0, 300), st.integers(2000, 8000)),
                   st.lists(request, min_size=0, max_size=12),
                   st.one_of(st.none(), st.integers(0, 40)))


def feed(spec: DramSpec, streams, engine_cls, ops=None):
    """Submit ``streams`` to a new engine with a command log, in time order, driving it
    with ``ops`` between submissions (advance / run_until_output + pop_done / fork)."""
    e = engine_cls(spec, log=True)
    t = 0
    trace = []
    for k, (gap, reqs, step) in enumerate(streams):
        t += gap
        addrs = [address(spec, *r[:3]) for r in reqs]
        writes = [r[3] for r in reqs]
        arrivals = t if step is None else [t + i * step for i in range(len(reqs))]
        if ops is not None:
            op = ops[k % len(ops)]
            if op == "output":
                cycle = e.run_until_output(t)
                trace.append(("output", cycle, e.now, e.pop_done(e.now)))
            elif op == "fork":
                e = e.fork()
            trace.append(("next", e.next_event()))
            e.advance(t)
            trace.append(("now", e.now, e.queue_depth))
        write = writes[0] if len(set(writes)) == 1 else writes
        e.submit(addrs, write, arrivals, tag=k)
    e.finish()
    trace.append(("done", e.pop_done(1 << 60)))
    return e, trace


def observables(e) -> dict:
    return {"log": e.log, "lat": e.lat_hist, "stats": e.stats(), "end": e.last_data_end,
            "now": e.now, "states": e.state_cycles(), "energy": e.energy_pj(),
            "states_later": e.state_cycles(e.now + 5000)}


@pytest.mark.parametrize("name", sorted(SPECS))
@settings(max_examples=50, deadline=None)
@given(streams=st.lists(stream, min_size=1, max_size=8))
def test_random_streams_give_identical_commands_and_completions(name, streams):
    spec = SPECS[name]
    slow, done_slow = feed(spec, streams, DramEngine)
    fast, done_fast = feed(spec, streams, FastDramEngine)
    assert done_fast == done_slow
    assert observables(fast) == observables(slow)


@settings(max_examples=40, deadline=None)
@given(streams=st.lists(stream, min_size=1, max_size=8),
       ops=st.lists(st.sampled_from(["advance", "output", "fork"]), min_size=1, max_size=4),
       name=st.sampled_from(sorted(SPECS)))
def test_incremental_driving_is_identical_step_by_step(streams, ops, name):
    """Interleaving advance, run_until_output + pop_done and fork with submissions, both
    engines report the same cycles, queue depths and completions at every step."""
    spec = SPECS[name]
    slow, trace_slow = feed(spec, streams, DramEngine, ops)
    fast, trace_fast = feed(spec, streams, FastDramEngine, ops)
    assert trace_fast == trace_slow
    assert observables(fast) == observables(slow)


def test_three_hundred_readers_of_one_address_wait_together():
    """300 streams read one address of rank 0 from cycle 6240, when the rank refreshes: they
    enter one per cycle (6241 ...) while the first waits for ACT at 6240 + tRFC = 6800, so
    all join it (far more waiters than the engines start with) and all get their data at
    READ 6822 + CL + BL/2 = 6848."""
    for cls in (DramEngine, FastDramEngine):
        e = cls(DDR4)
        for k in range(300):
            e.submit([4096], False, 6240, tag=k)
        e.finish()
        assert e.pop_done(1 << 60) == [(6848, k) for k in range(300)]
        assert e.stats()["merged_reads"] == 299
        assert e.lat_hist == {6848 - (6241 + k): 1 for k in range(300)}


def test_a_fork_does_not_share_state_with_its_origin():
    """Running a fork ahead leaves the original where it was, and both go on alike."""
    e = FastDramEngine(DDR4, log=True)
    e.submit(range(0, 64 * 200, 64), False, 0, tag="a")
    e.advance(100)
    ahead = e.fork()
    assert ahead.run_until_output() is not None and ahead.now > 100
    assert e.now == 100 and e.pop_done(1 << 60) == []
    e.finish()
    ahead.finish()
    assert e.log == ahead.log and e.lat_hist == ahead.lat_hist
    assert e.pop_done(1 << 60) == ahead.pop_done(1 << 60)


@pytest.mark.parametrize("name", ["ddr4", "lpddr4", "self_refresh"])
def test_the_component_gives_the_same_timing_on_either_engine(name):
    """A controller idles through refreshes (and power-downs), then serves three masters;
    it switches to the compiled engine at the first access. Every access ends at the same
    picosecond as on the event-level engine, with the same counts and energy."""
    from desim.hw.dram.component import DramController
    from desim.kernel import Clock, Component, Sim

    def run(fast: bool):
        DramController.fast = fast
        try:
            sim = Sim()
            dram = DramController(Component(sim, "soc", Clock("main", 10**9)), "dram",
                                  SPECS[name])
        finally:
            DramController.fast = True
        ends: list[tuple[int, int]] = []

        def master(k: int):
            yield sim.env.timeout(40_000_000 + 1_000 * k)  # 40 us: thousands of idle cycles
            for i in range(20):
                yield from dram.access(((k << 20) + 4096 * i) % (1 << 22), 64 << (i % 5),
                                       i % 3 == 2, f"m{k}")
                ends.append((k, sim.now))

        for k in range(3):
            sim.process(master(k), f"m{k}")
        sim.run()
        return ends, dram.stats(), dram.energy_breakdown(), type(dram.engine).__name__

    fast, slow = run(True), run(False)
    assert (fast[3], slow[3]) == ("FastDramEngine", "DramEngine")
    assert fast[:3] == slow[:3]
    assert fast[1]["ref"] > 0  # refreshes happened before the first access
