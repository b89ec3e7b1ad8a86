"""Where time goes: engine set-up (crossbar programming) is its own category, per layer
and per programming group, and the critical path is reported per layer in execution
order without giving a layer more time than it lasted."""

from __future__ import annotations

import pytest

import desim
from desim.trace.critical import CriticalPath, Step, by_window, critical_path
from desim.trace.recorder import Recorder
from desim.trace.roles import role
from desim.trace.stalls import attribute, role_spans


@pytest.fixture(scope="module")
def one_crossbar():
    """ResNet-8 on a single crossbar with 50 ns writes (leaving out the layers worth moving
    to the cores would not pin the rest): two programming groups, reprogrammed in the run."""
    return desim.simulate("imc_cluster", "resnet8", trace=True,
                          overrides={"aimc.n_crossbars": "1", "aimc.program_write_ns": "50"})


def test_programming_is_setup_not_compute(one_crossbar):
    """Each group's programming is the set-up its first layer waited for: the layer is
    bound by it, and the set-up equals the group's programming time."""
    s = one_crossbar.summary
    groups = s["aimc"]["programming"]
    assert len(groups) == s["aimc"]["groups"] == 2
    layers = {x["name"]: x for x in s["layers"]}
    for g in groups:
        first = layers[g["before"]]
        assert first["setup_cycles"] == pytest.approx(g["cycles"], abs=1e-3)
        assert first["bound"] == "setup"
        assert first["setup_energy_pj"] >= g["energy_pj"] > 0
    assert all(x["setup_cycles"] == 0 for x in s["layers"]
               if x["name"] not in {g["before"] for g in groups})


def test_programming_is_reported_per_layer_whose_weights_it_writes(one_crossbar):
    """Rows and energy written on a layer's behalf add up to the groups' totals, and every
    layer on the crossbars is programmed once per run here (each group holds its layers)."""
    a = one_crossbar.summary["aimc"]
    own = a["programmed_layers"]
    assert sum(x["rows"] for x in own.values()) == sum(g["rows"] for g in a["programming"])
    assert sum(x["energy_pj"] for x in own.values()) == pytest.approx(
        sum(g["energy_pj"] for g in a["programming"]))
    on_aimc = {x["name"] for x in one_crossbar.summary["layers"] if x["engine"] == "aimc"}
    assert set(own) == on_aimc
    assert a["row_writes"] == sum(g["rows"] for g in a["programming"])


def test_trace_attributes_programming_to_setup(one_crossbar):
    """In the trace, the programming intervals are set-up: the first group's window is
    set-up time, not computing."""
    rec = one_crossbar.tracer
    assert {role(iv.cat) for iv in rec.intervals if iv.cat == "program"} == {"setup"}
    first = next(x for x in one_crossbar.summary["layers"] if x["setup_cycles"])
    lo = first["start_ps"]
    hi = lo + one_crossbar.soc.clock.ps(int(first["setup_cycles"]))
    split = attribute(role_spans(rec), lo, hi)
    assert split["setup"] > 0.9 * (hi - lo) and split["compute"] < 0.01 * (hi - lo)


def test_usage_line_explains_a_smaller_crossbar_count():
    """34 or 8 crossbars give the same latency on ResNet-8: it uses two, pinned."""
    for n in ("34", "8"):
        a = desim.simulate("imc_cluster", "resnet8",
                           overrides={"aimc.n_crossbars": n}).summary["aimc"]
        assert a["usage"].startswith(f"2 of {n} crossbars used; pinned")
        assert 0 < a["packing_efficiency"] <= 1


def test_mobilenetv2_programming_is_its_own_category():
    """MobileNetV2 on 20 crossbars with 50 ns writes: three programming groups bound the
    layers that wait for them (conv2d_0, block16/expand, fully_connected_0), not compute."""
    s = desim.simulate("imc_cluster", "mobilenetv2", overrides={
        "aimc.n_crossbars": "20", "aimc.program_write_ns": "50"}).summary
    setup = {x["name"] for x in s["layers"] if x["bound"] == "setup"}
    assert setup == {g["before"] for g in s["aimc"]["programming"]}
    assert setup == {"conv2d_0", "block16/expand", "fully_connected_0"}


# -- the critical path per layer --------------------------------------------------------

def _rec() -> Recorder:
    """Two layers: A on [0, 100), B on [100, 260). Path: load [0, 40) -> compute [40, 100)
    -> store [100, 130) -> wait 20 -> compute [150, 250) (ps)."""
    rec = Recorder()
    rec.interval("soc.dma", "ch0", "A in", "dma", 0, 40, {"layer": "A"})
    rec.interval("soc.core", "exec", "A t0", "compute", 40, 100, {"layer": "A"})
    rec.interval("soc.dma", "ch1", "A out", "dma", 100, 130, {"layer": "A"})
    rec.interval("soc.core", "exec", "B t0", "compute", 150, 250, {"layer": "B"})
    return rec


def test_path_per_layer_follows_the_layer_windows_in_order():
    """A's store runs in B's window: it counts for B (the path spends B's time on it), so
    neither layer gets more than it lasted, and the rows come in execution order."""
    cp = critical_path(_rec())
    assert [st.interval.name for st in cp.steps] == ["A in", "A t0", "A out", "B t0"]
    rows = by_window(cp, [("A", 0, 100), ("B", 100, 260)])
    assert [name for name, _ in rows] == ["A", "B"]
    a, b = dict(rows)["A"], dict(rows)["B"]
    assert a == {"dma": 40, "compute": 60}
    assert b == {"dma": 30, "wait": 20, "compute": 100}
    assert sum(a.values()) <= 100 and sum(b.values()) <= 160


def test_path_time_outside_every_layer_is_listed_apart():
    cp = CriticalPath([Step(iv, "start", 0) for iv in _rec().intervals[:2]])
    rows = by_window(cp, [("A", 10, 100)])
    assert rows == [("A", {"dma": 30, "compute": 60}), ("-", {"dma": 10})]
