"""DDR4-3200 controller model against DRAMSim3 on the twelve reference traces.

SLOW-ISH: replays all twelve 65,536-request traces of reference/dram/traces once each
(about 10 s in total on this 2-core machine; each trace is replayed once and shared by the
checks). Targets (reference/dram/README.md): row-hit rate within 0.01 and ACT count within
1 % everywhere; total cycles within 1 %, average read latency within 10 % and p99 within
10 % for the ``ia20`` arrivals (refresh sets the tail); bandwidth within 5 % back to back.
Background energy per rank and power state matches DRAMSim3's statistics exactly, with
DRAMSim3's policy (no power-down, no self-refresh: the DDR4-3200 defaults).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from desim.hw.dram.replay import ReplayResult, read_trace, replay
from desim.hw.dram.spec import DramSpec

PATTERNS = ("seq_read", "seq_write", "rw_50", "rand_read", "stride_8k", "tile2d")
TRACES = [f"{p}_{mode}" for p in PATTERNS for mode in ("b2b", "ia20")]
_cache: dict[str, ReplayResult] = {}


def reference(shared: Path, name: str) -> dict[str, str]:
    pattern, mode = name.rsplit("_", 1)
    arrival = "back_to_back" if mode == "b2b" else "every_20_cycles"
    with open(shared / "reference/dram/ddr4_3200_results.csv") as fh:
        return next(r for r in csv.DictReader(fh)
                    if r["pattern"] == pattern and r["arrival"] == arrival)


def replayed(shared: Path, name: str) -> ReplayResult:
    if name not in _cache:
        spec = DramSpec()
        trace = read_trace(shared / f"reference/dram/traces/{name}.trc.gz", spec)
        _cache[name] = replay(trace, spec)
    return _cache[name]


@pytest.mark.parametrize("name", TRACES)
def test_row_hits_and_activates_match_dramsim3(shared_dir, name):
    ref = reference(shared_dir, name)
    res = replayed(shared_dir, name)
    assert res.requests == int(ref["requests"])
    assert res.row_hit_rate == pytest.approx(float(ref["row_hit_rate"]), abs=0.01)
    assert res.stats["act"] == pytest.approx(int(ref["act_cmds"]), rel=0.01)


@pytest.mark.parametrize("name", [n for n in TRACES if n.endswith("ia20")])
def test_paced_traces_match_total_cycles_and_latency(shared_dir, name):
    """Request i arrives at 20 i: total = 20 (N - 1) + the last request's latency."""
    ref = reference(shared_dir, name)
    res = replayed(shared_dir, name)
    assert res.total_cycles == pytest.approx(int(ref["total_cycles"]), rel=0.01)
    if res.read_latency is None:
        assert not ref["rd_lat_avg_cyc"]
        return
    assert res.read_latency["avg"] == pytest.approx(float(ref["rd_lat_avg_cyc"]), rel=0.10)
    assert res.read_latency["p99"] == pytest.approx(float(ref["rd_lat_p99_cyc"]), rel=0.10)


@pytest.mark.parametrize("name", [n for n in TRACES if n.endswith("b2b")])
def test_back_to_back_bandwidth_matches(shared_dir, name):
    """Peak 25.40 GB/s; bank-group timing holds sequential streams to about 66 % of it."""
    ref = reference(shared_dir, name)
    res = replayed(shared_dir, name)
    assert res.bandwidth_gbps == pytest.approx(float(ref["bw_useful_GBps"]), rel=0.05)
    assert res.bandwidth_gbps <= DramSpec().peak_gbps


@pytest.mark.parametrize("name", TRACES)
def test_background_energy_per_state_matches_dramsim3(shared_dir, name):
    """DRAMSim3 books VDD * IDD3N (IDD2N) * devices per rank-cycle with a bank open (all
    closed), nothing in power-down or self-refresh (disabled). Run to its last cycle (it
    stops 3,001 cycles after the trace, refreshing meanwhile), each rank's act_stb and
    pre_stb energies are ours, in mW x cycles."""
    ref = json.loads((shared_dir / f"reference/dram/dramsim3_stats/{name}.json").read_text())
    ref = ref["0"]
    spec = DramSpec()
    assert (spec.powerdown_after, spec.self_refresh_after) == (0, 0)
    engine = replayed(shared_dir, name).engine
    assert engine is not None
    engine.advance(ref["num_cycles"])
    for r, cycles in enumerate(engine.state_cycles(ref["num_cycles"])):
        assert cycles["act_standby"] * spec.power_active_standby_mw == pytest.approx(
            ref["act_stb_energy"][str(r)], rel=1e-12)
        assert cycles["pre_standby"] * spec.power_precharge_standby_mw == pytest.approx(
            ref["pre_stb_energy"][str(r)], rel=1e-12)
        assert cycles["self_refresh"] == ref["sref_cycles"][str(r)] == 0
        assert ref["sref_energy"][str(r)] == 0
        assert cycles["act_powerdown"] == cycles["pre_powerdown"] == 0
    background = sum(ref[k][str(r)] for k in ("act_stb_energy", "pre_stb_energy")
                     for r in range(spec.ranks))
    energy = engine.energy_pj(ref["num_cycles"])
    assert energy["background"] == pytest.approx(background * spec.tCK_ns, rel=1e-12)


@pytest.mark.parametrize("name", TRACES)
def test_commands_and_latency_histogram_match_dramsim3_to_the_cycle(shared_dir, name):
    """Beyond the tolerances above, the model is DRAMSim3's to the cycle: the same READ,
    WRITE, ACT and row-hit counts, the same read-latency histogram, latency by latency, and
    the same last cycle, except that ours drains the writes left at the end of a trace one
    cycle sooner (seq_write, rw_50_ia20). Run on to DRAMSim3's last cycle (3,001 cycles
    past the trace), the PRE and REF counts match too."""
    ref = json.loads((shared_dir / f"reference/dram/dramsim3_stats/{name}.json").read_text())
    ref = ref["0"]
    csv_row = reference(shared_dir, name)
    res = replayed(shared_dir, name)
    early = 1 if name.startswith("seq_write") or name == "rw_50_ia20" else 0
    assert res.total_cycles == int(csv_row["total_cycles"]) - early
    st = res.stats
    assert (st["read"], st["write"], st["act"]) == (ref["num_read_cmds"], ref["num_write_cmds"],
                                                  ref["num_act_cmds"])
    assert st["row_hits"] == ref["num_read_row_hits"] + ref["num_write_row_hits"]
    hist = {int(k): v for k, v in (ref["read_latency"] or {}).items()}
    assert res.engine is not None and res.engine.lat_hist == hist
    res.engine.advance(ref["num_cycles"])
    after = res.engine.stats()
    assert (after["pre"], after["ref"]) == (ref["num_pre_cmds"], ref["num_ref_cmds"])
