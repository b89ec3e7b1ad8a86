"""The simulation kernel: determinism, per-component RNG, stall detection, run stats."""

import numpy as np
import pytest

from desim.errors import SimulationStalled
from desim.kernel import Clock, Component, Sim, timer
from desim.trace import Recorder

CLK = Clock("main", 1_000_000_000)


def _pingpong(sim: Sim, log: list) -> None:
    a = Component(sim, "soc", CLK)
    for i in range(3):
        def worker(i=i):
            for k in range(4):
                yield sim.env.timeout(CLK.ps(1 + (i * k) % 3))
                log.append((sim.now, i, k))
        a.process(worker(), f"w{i}")


def test_event_order_is_deterministic():
    """Two runs of the same model give the same event order, ties included."""
    logs = []
    for _ in range(2):
        sim, log = Sim(seed=3), []
        _pingpong(sim, log)
        sim.run()
        logs.append(log)
    assert logs[0] == logs[1]
    assert len(logs[0]) == 12


def test_a_kernel_timer_fires_where_a_timeout_made_then_would():
    """timer() takes the place among the events of its time that env.timeout() made at
    the same moment takes: ties keep the order the timers were set in."""
    for make in ("timeout", "timer"):
        sim, log = Sim(), []

        def at(tag, sim=sim, log=log):
            return lambda _: log.append((sim.now, tag))

        def setter(sim=sim, make=make, log=log):
            sim.env.timeout(5).callbacks.append(at("x"))  # set before: it comes first
            for tag, delay in (("a", 5), ("b", 3), ("c", 5), ("d", 0)):
                if make == "timer":
                    timer(sim.env, delay, at(tag))
                else:
                    sim.env.timeout(delay).callbacks.append(at(tag))
            yield sim.env.timeout(5)
            log.append((sim.now, "proc"))

        sim.env.process(setter())
        sim.run()
        assert log == [(0, "d"), (3, "b"), (5, "x"), (5, "a"), (5, "c"), (5, "proc")], make


def test_rng_independent_of_creation_order():
    """A component's stream depends on (seed, path), not on when it was built."""
    def draws(order):
        sim = Sim(seed=42)
        root = Component(sim, "soc", CLK)
        comps = {n: Component(root, n) for n in order}
        return {n: comps[n].rng.integers(0, 2**31, 4).tolist() for n in sorted(order)}

    assert draws(["a", "b", "c"]) == draws(["c", "a", "b"])
    d = draws(["a", "b"])
    assert d["a"] != d["b"]


def test_rng_depends_on_root_seed():
    x = Component(Sim(seed=1), "soc", CLK).rng.random(3)
    y = Component(Sim(seed=2), "soc", CLK).rng.random(3)
    assert not np.allclose(x, y)


def test_stall_names_the_waiting_process():
    """A process waiting on an event nobody triggers is reported with what it waits on."""
    sim = Sim()
    soc = Component(sim, "soc", CLK)
    never = sim.event("the DMA done signal of tile 3")

    def consumer():
        yield sim.env.timeout(10)
        yield never

    soc.process(consumer(), "consumer")
    with pytest.raises(SimulationStalled) as info:
        sim.run()
    assert "soc:consumer" in str(info.value)
    assert "the DMA done signal of tile 3" in str(info.value)
    assert info.value.now_ps == 10


def test_daemon_waiting_is_not_a_stall():
    """A server loop idling at the end of the run is normal."""
    sim = Sim()
    soc = Component(sim, "soc", CLK)
    work = sim.event("work")

    def server():
        yield work

    soc.process(server(), "server", daemon=True)
    sim.run()
    assert sim.now == 0


def test_run_stats_count_events():
    """100 timeouts are 100 events, plus the process start and end events."""
    sim = Sim()

    def p():
        for _ in range(100):
            yield sim.env.timeout(5)

    sim.process(p(), "p")
    stats = sim.run()
    assert 100 <= stats.events <= 103
    assert stats.sim_ps == 500
    assert stats.wall_s > 0



def test_a_failure_nobody_handles_stops_the_run_as_simpy_does():
    """An exception in a process ends the run with that exception at its moment; a failed
    event that a waiting process catches does not."""
    sim = Sim()

    def crashes():
        yield sim.env.timeout(7)
        raise ValueError("bad tile")

    def catches():
        ev = sim.env.event()
        ev.fail(KeyError("handled"))
        try:
            yield ev
        except KeyError:
            yield sim.env.timeout(3)

    sim.process(catches(), "catches")
    sim.process(crashes(), "crashes")
    with pytest.raises(ValueError, match="bad tile"):
        sim.run()
    assert sim.now == 7

def test_busy_time_is_the_union_of_overlapping_intervals():
    """Two lanes busy over [0,10] and [5,20] ns make the component busy for 20 ns."""
    sim = Sim(tracer=Recorder())
    dma = Component(Component(sim, "soc", CLK), "dma")

    def lane(start, dur, name):
        yield sim.env.timeout(start)
        t = dma.begin()
        yield sim.env.timeout(dur)
        dma.end(t, name, "copy", "dma")

    dma.process(lane(0, 10_000, "ch0"))
    dma.process(lane(5_000, 15_000, "ch1"))
    sim.run()
    assert dma.busy_ps == 20_000
    assert [(iv.lane, iv.start, iv.end) for iv in sim.tracer.intervals] == [
        ("ch0", 0, 10_000), ("ch1", 5_000, 20_000)]


def test_component_paths_and_duplicate_names():
    sim = Sim()
    soc = Component(sim, "soc", CLK)
    core = Component(Component(soc, "cluster"), "core3")
    assert core.path == "soc.cluster.core3"
    assert core.clock is CLK
    with pytest.raises(Exception, match="already has a child"):
        Component(soc, "cluster")
