"""AIMC crossbars: IMA job pipeline in closed form, throughput, programming, tags, L1 traffic."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import pytest

from desim.errors import DesimError, SpecError
from desim.hw.aimc import Aimc, AimcSpec
from desim.hw.jobs import JobTiming, MvmJob, ProgramJob
from desim.kernel import Clock, Component, Sim
from desim.trace import Recorder

# defaults at 1 GHz: 64 input words over 32 ports = 2 cycles + 2 FIFO; same for outputs
S_IN = S_OUT = 4
COMPUTE = 131  # floor(130 ns / 1 ns) + 1
WRITE = 1001  # one write access (a word of 8 cells): floor(1000 ns / 1 ns) + 1
FULL = 256 * (256 // 8) * WRITE  # a 256 x 256 array: 256 rows of 32 words, 8.2 ms


class SharedPort:
    """Fake L1: one port of ``bpc`` bytes per cycle shared by all masters, in FIFO order."""

    def __init__(self, sim: Sim, clock: Clock, bpc: int):
        self.sim, self.clock, self.bpc = sim, clock, bpc
        self.free_at = 0
        self.log: list[tuple[str, bool, int]] = []

    def access(self, addr: int, nbytes: int, write: bool,
               master: str = "") -> Generator[Any, Any, None]:
        env = self.sim.env
        start = max(env.now, self.free_at)
        self.free_at = end = start + self.clock.ps(math.ceil(nbytes / self.bpc))
        self.log.append((master, write, nbytes))
        yield env.timeout(end - env.now)


def make(freq: int = 1_000_000_000, **spec: Any) -> tuple[Sim, Aimc]:
    sim = Sim(tracer=Recorder())
    soc = Component(sim, "soc", Clock("cluster", freq))
    return sim, Aimc(soc, "aimc", AimcSpec(**spec))


def run_jobs(sim: Sim, aimc: Aimc, *jobs: Any) -> list[JobTiming]:
    """Submit all jobs at t = 0 and collect their timings in submission order."""
    out: list[JobTiming] = []

    def main():
        for ev in [aimc.submit(j) for j in jobs]:
            out.append((yield ev))

    sim.process(main(), "main")
    sim.run()
    return out


def cycles(aimc: Aimc, t: JobTiming) -> int:
    return aimc.clock.edge_index(t.end) - aimc.clock.edge_index(t.start)


# -- the job pipeline -------------------------------------------------------------------

def test_stage_cycles_follow_the_ima_fsm():
    """256 inputs = 64 words over 32 ports (2 cycles) + 2 FIFO; 130 ns -> 131 cycles."""
    spec, clk = AimcSpec(), Clock("c", 1_000_000_000)
    assert (spec.stream_in_cycles(256), spec.stream_out_cycles(256)) == (S_IN, S_OUT)
    assert spec.compute_cycles(clk) == COMPUTE
    assert spec.stream_in_cycles(4) == 1 + 2 and spec.stream_in_cycles(129) == 2 + 2
    assert spec.compute_cycles(Clock("c", 370_000_000)) == 49  # floor(48.1) + 1


@pytest.mark.parametrize("n", [1, 2, 10, 250])
def test_back_to_back_mvms_take_fill_plus_n_slots_plus_drain(n):
    """n full MVMs: stream-in 4, then n compute slots of max(4, 131, 4) = 131, drain 4."""
    sim, aimc = make()
    [t] = run_jobs(sim, aimc, MvmJob(0, n, 256, 256))
    assert cycles(aimc, t) == S_IN + n * max(S_IN, COMPUTE, S_OUT) + S_OUT
    assert aimc.crossbars[0].counters["mvms"] == n


def test_sustained_throughput_is_at_least_90_percent_of_peak():
    """1000 MVMs of 2 x 256 x 256 ops in 8 + 131000 ns: 1.0005 TOPS vs 1.008 peak."""
    sim, aimc = make()
    [t] = run_jobs(sim, aimc, MvmJob(0, 1000, 256, 256))
    ops_per_s = 1000 * 2 * 256 * 256 / ((t.end - t.start) * 1e-12)
    assert aimc.spec.peak_ops_per_s() == pytest.approx(1.008e12, rel=1e-3)
    assert ops_per_s >= 0.9 * aimc.spec.peak_ops_per_s()
    assert ops_per_s == pytest.approx(2 * 65536 * 1000 / 131_008e-9)


def test_streams_share_the_ports_when_streaming_dominates():
    """One port: 64 words + 2 = 66 cycles each way; a middle slot hides stream-out of the
    previous and stream-in of the next vector: max(131, 66 + 66) = 132 cycles."""
    sim, aimc = make(l1_ports=1)
    [t] = run_jobs(sim, aimc, MvmJob(0, 5, 256, 256))
    assert cycles(aimc, t) == 66 + 131 + 3 * 132 + 131 + 66


def test_unpipelined_jobs_run_the_three_stages_in_series():
    sim, aimc = make(pipelined=False)
    [t] = run_jobs(sim, aimc, MvmJob(0, 3, 256, 256))
    assert cycles(aimc, t) == 3 * (S_IN + COMPUTE + S_OUT)


def test_adc_sharing_adds_conversions_to_every_mvm():
    """8 columns per ADC: 130 + 7 x 2 ns = 144 ns -> 145 cycles per MVM."""
    sim, aimc = make(cols_per_adc=8)
    [t] = run_jobs(sim, aimc, MvmJob(0, 10, 256, 256))
    assert cycles(aimc, t) == S_IN + 10 * 145 + S_OUT


def test_small_job_streams_fewer_words():
    """64 rows x 32 cols: 16 input words (1 cycle + 2), 8 output words (1 + 2)."""
    sim, aimc = make()
    [t] = run_jobs(sim, aimc, MvmJob(0, 4, 64, 32, row0=100, col0=200))
    assert cycles(aimc, t) == 3 + 4 * COMPUTE + 3


# -- programming, endurance, tags -------------------------------------------------------

def test_programming_a_full_array_writes_it_word_by_word():
    """256 rows x 32 words of 8 cells x 1001 cycles = 8,200,192 cycles (8.2 ms, as GVSoC's
    IMA writes serially); each row written once per program."""
    sim, aimc = make()
    t1, t2 = run_jobs(sim, aimc, ProgramJob(0, "w", 256, 256), ProgramJob(0, "w", 256, 256))
    assert cycles(aimc, t1) == cycles(aimc, t2) == FULL == 8_200_192
    assert aimc.program_cycles(1, 256) == 32 * WRITE  # a row: 32 us
    xbar = aimc.crossbars[0]
    assert xbar.writes == 512 and set(xbar.row_writes.tolist()) == {2}
    assert xbar.energy_pj == pytest.approx(2 * 256 * 256 * 2 * 100.0)


def test_write_counts_follow_the_programmed_rows():
    sim, aimc = make()
    run_jobs(sim, aimc, ProgramJob(0, "a", 10, 256, row0=5), ProgramJob(0, "b", 3, 8, row0=6))
    rw = aimc.crossbars[0].row_writes
    assert rw[5] == 1 and rw[6:9].tolist() == [2, 2, 2] and rw[15] == 0 and rw.sum() == 13


def test_crossbar_knows_its_weights_and_forgets_overwritten_ones():
    """Two tags side by side; a third overlapping both evicts them."""
    sim, aimc = make()
    run_jobs(sim, aimc, ProgramJob(0, "a", 128, 256, weights="A"),
             ProgramJob(0, "b", 128, 256, row0=128))
    xbar = aimc.crossbars[0]
    assert xbar.holds("a") and xbar.holds("b") and xbar.weights("a") == "A"
    assert xbar.region("b") == (128, 128, 0, 256)
    sim2, aimc2 = make()
    run_jobs(sim2, aimc2, ProgramJob(0, "a", 128, 256), ProgramJob(0, "b", 128, 256, row0=128),
             ProgramJob(0, "c", 50, 10, row0=100))
    assert aimc2.crossbars[0].tags == ("c",)


def test_mvm_on_weights_not_held_is_an_error():
    sim, aimc = make()
    aimc.submit(ProgramJob(0, "conv1", 256, 64))
    aimc.submit(MvmJob(0, 1, 256, 64, tag="conv2"))
    with pytest.raises(DesimError, match="holds conv1, not 'conv2'"):
        sim.run()


def test_mvm_after_programming_on_the_same_interface_sees_the_weights():
    """Jobs on one interface run in order: program (256 x 32 x 1001), then 2 MVMs
    (4 + 262 + 4)."""
    sim, aimc = make()
    p, m = run_jobs(sim, aimc, ProgramJob(0, "w", 256, 256), MvmJob(0, 2, 256, 256, tag="w"))
    assert m.start == p.end and cycles(aimc, m) == S_IN + 2 * COMPUTE + S_OUT


# -- energy -----------------------------------------------------------------------------

def test_mvm_energy_matches_hermes_efficiency():
    """2 x 256 x 256 ops at 10.5 TOPS/W = 12.48 nJ per full MVM; half the columns, half."""
    spec = AimcSpec()
    assert spec.mvm_energy_pj(256, 256) == pytest.approx(12483, rel=1e-3)
    assert spec.mvm_energy_pj(256, 128) == pytest.approx(spec.mvm_energy_pj(256, 256) / 2)
    sim, aimc = make()
    run_jobs(sim, aimc, MvmJob(0, 10, 256, 256))
    assert aimc.energy_pj == pytest.approx(10 * spec.mvm_energy_pj(256, 256))


# -- crossbars, interfaces, L1 ----------------------------------------------------------

def test_crossbars_behind_one_interface_run_in_series():
    sim, aimc = make(n_crossbars=2)
    a, b = run_jobs(sim, aimc, MvmJob(0, 4, 256, 256), MvmJob(1, 4, 256, 256))
    assert b.start == a.end


def test_crossbars_with_their_own_interfaces_run_in_parallel():
    sim, aimc = make(n_crossbars=2, n_interfaces=2)
    a, b = run_jobs(sim, aimc, MvmJob(0, 4, 256, 256), MvmJob(1, 4, 256, 256))
    assert a == b


def test_batch_traffic_goes_through_l1_and_contends():
    """8 MVMs move 8 x 256 B in and out; on a 4 B/cycle port behind a 4096 B DMA write
    (1024 cycles) the reads end at 1024 + 512, the writes at 1024 + 1024 > 4 + 8 x 131 + 4."""
    sim, aimc = make()
    mem = aimc.mem = SharedPort(sim, aimc.clock, bpc=4)

    def dma():
        yield from mem.access(0, 4096, True, "soc.dma")

    sim.process(dma(), "dma")
    [t] = run_jobs(sim, aimc, MvmJob(0, 8, 256, 256, in_addr=0x100, out_addr=0x900))
    assert mem.log[1:] == [("soc.aimc.if0", False, 2048), ("soc.aimc.if0", True, 2048)]
    assert cycles(aimc, t) == 1024 + 512 + 512
    assert (aimc.counters["bytes_read"], aimc.counters["bytes_written"]) == (2048, 2048)


def test_programming_reads_its_weights_from_l1():
    """256 x 256 4-bit weights = 32768 B read by the interface, hidden under the writes."""
    sim, aimc = make()
    mem = aimc.mem = SharedPort(sim, aimc.clock, bpc=4)
    [t] = run_jobs(sim, aimc, ProgramJob(0, "w", 256, 256, src_addr=0x400))
    assert mem.log == [("soc.aimc.if0", False, 32768)]
    assert cycles(aimc, t) == FULL and aimc.counters["bytes_read"] == 32768


def test_compute_bound_batch_hides_its_traffic():
    """Alone on a 64 B/cycle port, 8 MVMs' 4096 B take 64 cycles: the closed form rules."""
    sim, aimc = make()
    aimc.mem = SharedPort(sim, aimc.clock, bpc=64)
    [t] = run_jobs(sim, aimc, MvmJob(0, 8, 256, 256))
    assert cycles(aimc, t) == S_IN + 8 * COMPUTE + S_OUT


def test_trace_and_functional_hook():
    sim, aimc = make()
    seen = []
    job = MvmJob(0, 3, 256, 256, layer="fc1", tile=2,
                 compute=lambda xbar: seen.append((xbar.path, sim.now)))
    [t] = run_jobs(sim, aimc, job)
    assert seen == [("soc.aimc.xbar0", t.end)]
    [iv] = [iv for iv in sim.tracer.intervals if iv.path == "soc.aimc.xbar0"]
    assert (iv.lane, iv.start, iv.end) == ("mvm", t.start, t.end)
    assert iv.args["layer"] == "fc1" and iv.args["tile"] == 2 and iv.args["n_mvm"] == 3


def test_events_do_not_grow_with_the_batch():
    def events(n: int) -> int:
        sim, aimc = make()
        run_jobs(sim, aimc, MvmJob(0, n, 256, 256))
        return sim.stats.events

    assert events(1) == events(10_000)


# -- errors -----------------------------------------------------------------------------

def test_a_job_larger_than_the_array_is_a_spec_error():
    sim, aimc = make()
    with pytest.raises(SpecError, match=r"needs rows \[0, 300\) but a crossbar has 256 rows"):
        aimc.submit(MvmJob(0, 1, 300, 16))
    with pytest.raises(SpecError, match=r"needs cols \[200, 264\)"):
        aimc.submit(MvmJob(0, 1, 16, 64, col0=200))
    with pytest.raises(SpecError, match=r"needs rows \[250, 260\)"):
        aimc.submit(ProgramJob(0, "w", 10, 10, row0=250))
    with pytest.raises(SpecError, match="has 1 crossbar"):
        aimc.submit(MvmJob(3, 1, 16, 16))


def test_bad_specs_and_jobs_raise_spec_errors():
    with pytest.raises(SpecError, match="rows must be >= 1"):
        AimcSpec(rows=0)
    with pytest.raises(SpecError, match="n_interfaces .* must be <= n_crossbars"):
        AimcSpec(n_interfaces=2)
    with pytest.raises(SpecError, match="cols_per_adc"):
        AimcSpec(cols=8, cols_per_adc=16)
    with pytest.raises(SpecError, match="MvmJob.n_mvm must be a positive int"):
        MvmJob(0, 0, 16, 16)
    with pytest.raises(SpecError, match="ProgramJob.tag"):
        ProgramJob(0, "", 16, 16)


# -- with the real L1 SRAM --------------------------------------------------------------

def test_long_batch_streams_through_the_sram_in_sweeps():
    """1000 MVMs move 256 KB each way (4x the 64 KiB L1): 8192 port cycles at 64 B/cycle,
    under the 8 + 131000 closed form; the SRAM counts every byte."""
    from desim.hw.memory import Sram

    sim, aimc = make()
    l1 = aimc.mem = Sram(aimc.parent, "l1", clock=aimc.clock)
    [t] = run_jobs(sim, aimc, MvmJob(0, 1000, 256, 256, in_addr=l1.base, out_addr=l1.base))
    assert cycles(aimc, t) == S_IN + 1000 * COMPUTE + S_OUT
    assert (l1.counters["bytes_read"], l1.counters["bytes_written"]) == (256_000, 256_000)


def test_narrow_sram_port_makes_the_batch_memory_bound():
    """At 1 B/cycle, 8 MVMs read 2048 B (2048 + 1 cycles) then write 2048 B (2048 + 1)."""
    from desim.hw.memory import Sram, SramSpec

    sim, aimc = make()
    l1 = aimc.mem = Sram(aimc.parent, "l1", SramSpec(port_bytes_per_cycle=1.0),
                         clock=aimc.clock)
    [t] = run_jobs(sim, aimc, MvmJob(0, 8, 256, 256, in_addr=l1.base, out_addr=l1.base))
    assert cycles(aimc, t) == 2 * (2048 + 1)
