"""AIMC weight programming word by word, and an engine choice that weighs it.

Programming (desim/hw/aimc.py): a write access programs one word of 8 cells of a row in
1000 ns (GVSoC's IMA ``plot_write_ns``), so an ``r x c`` block takes
``r * ceil(ceil(c / 8) / ports) * iterations * (floor(1000 ns / T) + 1)`` cycles.
Engine choice (desim/engines/aimc.py): when the layers do not pin, those whose own
programming outlasts their extra time on the cores are left out, least weight reuse
first, until the rest pin.
"""

from __future__ import annotations

from typing import Any

import pytest

import desim
from desim.hw.aimc import Aimc, AimcSpec
from desim.hw.jobs import JobTiming, MvmJob, ProgramJob
from desim.kernel import Clock, Component, Sim
from desim.workload import GraphBuilder

WRITE_1GHZ = 1001  # floor(1000 ns / 1 ns) + 1
WRITE_370MHZ = 371  # floor(1000 ns / 2.7027 ns) + 1 = floor(370.0) + 1


def _aimc(freq: int = 1_000_000_000, **spec: Any) -> tuple[Sim, Aimc]:
    sim = Sim()
    return sim, Aimc(Component(sim, "soc", Clock("c", freq)), "aimc", AimcSpec(**spec))


def _run(sim: Sim, aimc: Aimc, *jobs: Any) -> list[JobTiming]:
    events = [aimc.submit(j) for j in jobs]
    sim.run()
    return [ev.value for ev in events]


def _cycles(aimc: Aimc, t: JobTiming) -> int:
    return aimc.clock.edge_index(t.end) - aimc.clock.edge_index(t.start)


# -- the hardware model ---------------------------------------------------------------------

def test_a_row_is_32_words_and_a_whole_array_8_2_ms():
    """A 256-cell row is 32 words of 8 cells: 32 x 1001 cycles = 32 us at 1 GHz; an array
    256 x 32 x 371 cycles = 8.21 ms at 370 MHz (GVSoC: about 8.2 ms, writes serial)."""
    spec = AimcSpec()
    assert spec.program_cycles(1, 256, Clock("c", 1_000_000_000)) == 32 * WRITE_1GHZ
    cl = Clock("c", 370_000_000)
    assert spec.write_access_cycles(cl) == WRITE_370MHZ
    assert spec.program_cycles(256, 256, cl) == 256 * 32 * WRITE_370MHZ == 3_039_232
    assert spec.program_cycles(256, 256, cl) / cl.freq_hz == pytest.approx(8.214e-3, rel=1e-3)


def test_narrow_blocks_write_fewer_words_per_row():
    """10 columns: ceil(10 / 8) = 2 words per row; 64 rows x 2 x 1001 cycles."""
    sim, aimc = _aimc()
    [t] = _run(sim, aimc, ProgramJob(0, "w", 64, 10))
    assert _cycles(aimc, t) == 64 * 2 * WRITE_1GHZ


@pytest.mark.parametrize("params,accesses_per_row", [
    ({"program_ports": 4}, 8),              # 32 words, 4 at a time
    ({"program_ports": 5}, 7),              # ceil(32 / 5)
    ({"cells_per_write": 16}, 16),          # 16-cell words: 256 / 16
    ({"write_verify_iterations": 3}, 96),   # every word written 3 times
])
def test_ports_word_size_and_verify_rounds_scale_the_accesses(params, accesses_per_row):
    """A 256 x 256 block takes 256 x (accesses per row) x 1001 cycles."""
    sim, aimc = _aimc(**params)
    [t] = _run(sim, aimc, ProgramJob(0, "w", 256, 256))
    assert _cycles(aimc, t) == 256 * accesses_per_row * WRITE_1GHZ


def test_programming_energy_counts_every_verify_round():
    """Per cell and round: 2 devices x 100 pJ; 3 rounds of 256 x 256 cells = 39.3 uJ."""
    sim, aimc = _aimc(write_verify_iterations=3)
    _run(sim, aimc, ProgramJob(0, "w", 256, 256))
    assert aimc.energy_pj == pytest.approx(3 * 256 * 256 * 2 * 100.0)
    assert AimcSpec().program_energy_pj(256, 256) == pytest.approx(13.1072e6)


def test_crossbars_of_one_interface_program_in_turn_by_default():
    """One write port per interface: the second crossbar starts when the first is done."""
    sim, aimc = _aimc(n_crossbars=2)
    a, b = _run(sim, aimc, ProgramJob(0, "a", 8, 256), ProgramJob(1, "b", 8, 256))
    assert b.start == a.end and _cycles(aimc, b) == 8 * 32 * WRITE_1GHZ


def test_parallel_programming_holds_the_crossbar_not_the_interface():
    """program_parallel: both crossbars write at once (8 x 32 x 1001 cycles each), and an
    MVM on a third crossbar of the interface does not wait for them (4 + 131 + 4)."""
    sim, aimc = _aimc(n_crossbars=3, program_parallel=True)
    a, b, m = _run(sim, aimc, ProgramJob(0, "a", 8, 256), ProgramJob(1, "b", 8, 256),
                   MvmJob(2, 1, 256, 256))
    assert a == b and _cycles(aimc, a) == 8 * 32 * WRITE_1GHZ
    assert m.start == 0 and _cycles(aimc, m) == 4 + 131 + 4


# -- the engine: programming groups ---------------------------------------------------------

def _three_full_blocks() -> desim.workload.Graph:
    """Three 1 x 1 convolutions of 256 -> 256 channels on 8 x 8 maps: a full crossbar each."""
    b = GraphBuilder("three")
    x = b.input((1, 8, 8, 256))
    for _ in range(3):
        x = b.conv2d(x, 256, 1)
    return b.build()


@pytest.mark.parametrize("parallel", [False, True])
def test_a_group_on_two_crossbars_programs_them_in_turn_or_together(parallel):
    """On two crossbars, groups {conv 0, conv 1} and {conv 2}. With 10 ns writes
    (floor(3.7) + 1 = 4 cycles per word at 370 MHz) a block takes W = 256 x 32 x 4 =
    32,768 cycles, far less than the cores would take: no layer moves. In turn, the first
    group lasts fetch + 2 W (the second fetch hidden); together, fetch + fetch + W (give
    or take the few cycles the first write's L1 read of its weights delays that fetch)."""
    w = 256 * 32 * 4
    over = {"aimc.n_crossbars": "2", "aimc.program_write_ns": "10",
            "aimc.program_parallel": str(parallel).lower()}
    s = desim.simulate("imc_cluster", _three_full_blocks(), overrides=over).summary["aimc"]
    assert not s["pinned"] and s["groups"] == 2 and "fallback" not in s
    first, second = s["programming"]
    assert first["blocks"] == 2 and second["blocks"] == 1
    fetch = second["cycles"] - w  # one block's weights into L1, then its writes
    assert 0 < fetch < w
    expected = 2 * fetch + w if parallel else fetch + 2 * w
    assert first["cycles"] == pytest.approx(expected, abs=8)


# -- the engine: which layers leave the crossbars -------------------------------------------

def test_the_least_reused_layer_leaves_so_that_the_rest_pin():
    """On one crossbar, an 8 x 8 convolution (64 MACs per weight) and a 256 x 256 fully
    connected layer (1 MAC per weight) do not pin together. Writing the fully connected
    layer's 65,536 weights takes 256 x 32 x 371 cycles = 8.21 ms, far more than the cores
    need for it: it goes to the cores and the convolution is pinned."""
    b = GraphBuilder("reuse")
    x = b.conv2d(b.input((1, 8, 8, 256)), 256, 1)
    b.fully_connected(b.flatten(b.global_avg_pool(x)), 256)
    r = desim.simulate("imc_cluster", b.build(), overrides={"aimc.n_crossbars": "1"})
    s = r.summary["aimc"]
    engines = {x["name"]: x["engine"] for x in r.summary["layers"]}
    assert s["pinned"] and s["fallback"] == ["fully_connected_0"]
    assert engines["conv2d_0"] == "aimc" and engines["fully_connected_0"] == "cluster"
    note = {x.name: x.note for x in r.schedule.layers}["fully_connected_0"]
    assert note.startswith("its 65,536 weights would force reprogramming (8.21 ms to write")
    assert note.endswith("the rest pin without it): on cluster")
    assert s["fallback_reasons"] == {"fully_connected_0": note}
    assert s["usage"].endswith("1 layer on another engine (aimc.fallback_reasons)")


def test_a_layer_left_out_comes_back_when_a_later_one_makes_room():
    """One crossbar: a 256 x 96 convolution (64 MACs per weight), a 256 x 192 one (4) and a
    192 x 64 fully connected layer (1). Least reuse first, the fully connected layer goes,
    the rest still do not pin (96 + 192 > 256 columns); the 256 x 192 layer goes, the rest
    pin; then the fully connected layer comes back (96 + 64 columns fit)."""
    b = GraphBuilder("room")
    x = b.input((1, 8, 8, 256))
    narrow = b.conv2d(x, 96, 1, name="narrow")
    wide = b.conv2d(x, 192, 1, stride=4, name="wide")
    fc = b.fully_connected(b.flatten(b.global_avg_pool(wide)), 64, name="fc")
    r = desim.simulate("imc_cluster", b.build([narrow, fc]),
                       overrides={"aimc.n_crossbars": "1"})
    s = r.summary["aimc"]
    engines = {x["name"]: x["engine"] for x in r.summary["layers"]}
    assert s["pinned"] and s["fallback"] == ["wide"]
    assert engines == {**engines, "narrow": "aimc", "wide": "cluster", "fc": "aimc"}


def test_layers_the_cores_run_slower_than_they_are_written_stay_and_are_reprogrammed():
    """Two 1 x 1 convolutions of 256 -> 256 channels on 32 x 32 maps (1024 MACs per
    weight) on one crossbar: 67 M MACs take the cores longer than the 8.2 ms of writing
    a block, so neither leaves; the crossbar is reprogrammed for each."""
    b = GraphBuilder("reused")
    b.conv2d(b.conv2d(b.input((1, 32, 32, 256)), 256, 1), 256, 1)
    r = desim.simulate("imc_cluster", b.build(), overrides={"aimc.n_crossbars": "1"})
    s = r.summary["aimc"]
    assert not s["pinned"] and s["groups"] == 2 and "fallback" not in s
    assert [g["cycles"] > 256 * 32 * WRITE_370MHZ for g in s["programming"]] == [True, True]


def test_mobilenetv2_pins_on_imc_cluster_with_its_classifier_on_the_cores():
    """The 34 pointwise layers and the first convolution (32.43 crossbars' worth) pin on
    the 34 crossbars; the 1280 x 1000 classifier (1 MAC per weight, 160 ms to write) runs
    on the cores. Nothing is programmed during the run."""
    r = desim.simulate("imc_cluster", "mobilenetv2")
    s = r.summary["aimc"]
    engines = {x["name"]: x["engine"] for x in r.summary["layers"]}
    assert s["pinned"] and s["groups"] == 1 and s["programming"] == []
    assert s["crossbars_used"] == 34 and s["packing_efficiency"] == pytest.approx(0.9539)
    assert s["fallback"] == ["fully_connected_0"]
    assert s["fallback_reasons"]["fully_connected_0"].startswith(
        "its 1,280,000 weights would force reprogramming (160 ms to write")
    assert engines["fully_connected_0"] == "cluster"
    convs = [x["name"] for x in r.summary["layers"] if x["kind"] == "conv2d"]
    assert len(convs) == 35 and all(engines[n] == "aimc" for n in convs)
    assert all(x["setup_cycles"] == 0 for x in r.summary["layers"])
