"""DRAM power states: power-down and self-refresh entry from idle gaps, exit latencies, the
background energy they book, and a network run whose DRAM only refreshes.

DDR4-3200 cycles (tCK 0.63 ns, tXP 10, tXS 576, tRFC 560; rank 0's first REF falls due at
tREFI/2 = 6240, rank 1's at 12480). With ``powerdown_after=100`` a rank powers down 100
cycles after its last queued command issued, and not before that command is done.
"""

from __future__ import annotations

import dataclasses

import pytest

from desim.driver import simulate
from desim.hw.dram.controller import DramEngine
from desim.hw.dram.spec import DramSpec, preset

PD = dataclasses.replace(DramSpec(), powerdown_after=100)
SR = dataclasses.replace(DramSpec(), self_refresh_after=1000)


def addr(row: int = 0, ra: int = 0, co: int = 0) -> int:
    """A DDR4-3200 byte address (bank group 0, bank 0) in the ``rochrababgco`` mapping."""
    return (((row << 1 | ra) << 4) << 7 | co) << 6


def run(spec: DramSpec, reqs: list[tuple[int, int]]) -> DramEngine:
    """Replay (address, arrival) reads, one stream each, with a command log."""
    engine = DramEngine(spec, log=True)
    for a, t in reqs:
        engine.submit([a], False, t)
    engine.finish()
    return engine


def test_a_read_after_power_down_waits_tXP():
    """READ 24 ends at 50: the rank powers down at 24 + 100 = 124 with row 0 open. A row hit
    arriving at 1000 is queued at 1001, wakes the rank, and reads at 1001 + tXP = 1011
    instead of 1002: 36 cycles instead of 27."""
    e = run(PD, [(addr(), 0), (addr(co=1), 1000)])
    assert e.log == [(2, "ACT", 0, 0), (24, "RD", 0, 0), (1011, "RD", 0, 0)]
    assert e.lat_hist == {49: 1, 36: 1}
    assert e.stats()["powerdown_exits"] == 1
    without = run(DramSpec(), [(addr(), 0), (addr(co=1), 1000)])
    assert without.log[-1] == (1002, "RD", 0, 0) and without.lat_hist == {49: 1, 27: 1}


def test_state_cycles_come_from_the_gaps():
    """Rank 0: precharge standby [0, 2); active standby [2, 124) and [1001, 1111); active
    power-down [124, 1001) and from 1111 (the last READ at 1011 + 100). Rank 1 never
    works: standby for 100 cycles, then power-down."""
    e = run(PD, [(addr(), 0), (addr(co=1), 1000)])
    r0, r1 = e.state_cycles(2000)
    assert r0 == {"act_standby": 122 + 110, "pre_standby": 2,
                  "act_powerdown": 877 + 889, "pre_powerdown": 0, "self_refresh": 0}
    assert r1 == {"act_standby": 0, "pre_standby": 100, "act_powerdown": 0,
                  "pre_powerdown": 1900, "self_refresh": 0}
    energy = e.energy_pj(2000)
    assert energy["act_powerdown"] == pytest.approx(1766 * PD.power_active_powerdown_mw * 0.63)
    assert energy["background"] == pytest.approx(
        (232 * PD.power_active_standby_mw + 102 * PD.power_precharge_standby_mw
         + 1766 * PD.power_active_powerdown_mw + 1900 * PD.power_precharge_powerdown_mw) * 0.63)


def test_a_refresh_wakes_a_powered_down_rank_for_tXP_and_tRFC():
    """Each REF goes tXP after it falls due; the rank powers down again tRFC later, so it
    spends 100 + (10 + 560) cycles per REF in precharge standby."""
    e = DramEngine(PD, log=True)
    e.advance(20_000)
    assert e.log == [(6250, "REF", 0, -1), (12490, "REF", 1, -1), (18730, "REF", 0, -1)]
    assert [r["pre_standby"] for r in e.state_cycles()] == [100 + 2 * 570, 100 + 570]
    plain = DramEngine(DramSpec(), log=True)
    plain.advance(20_000)
    assert [c for c, *_ in plain.log] == [6240, 12480, 18720]


def test_self_refresh_skips_refresh_and_exits_in_tXS():
    """Idle 1000 cycles after its READ (24), rank 0 precharges and self-refreshes from 1024:
    no REF is issued. A read of the same row at 100,000 finds the bank closed and waits
    tXS: ACT at 100,001 + 576."""
    e = DramEngine(SR, log=True)
    e.submit([addr()], False, 0)
    e.advance(100_000)
    assert e.n_ref == 0
    r0, r1 = e.state_cycles()
    assert (r0["act_standby"], r0["self_refresh"]) == (1022, 100_000 - 1024)
    assert (r1["pre_standby"], r1["self_refresh"]) == (1000, 99_000)
    e.submit([addr(co=1)], False, 100_000)
    e.finish()
    assert e.log[2:] == [(100_577, "ACT", 0, 0), (100_599, "RD", 0, 0)]
    st = e.stats()
    assert (st["self_refresh_exits"], st["pre"], st["row_hits"]) == (1, 1, 0)


def test_sleeping_costs_no_simulated_cycles():
    """A million idle cycles with power-down: the engine acts only around the 160 REFs."""
    e = DramEngine(PD)
    ticks = 0
    tick = e._tick

    def counted(t: int, cn: int) -> None:
        nonlocal ticks
        ticks += 1
        tick(t, cn)

    e._tick = counted  # type: ignore[method-assign]
    e.advance(1_000_000)
    assert e.n_ref == 160 and ticks <= 3 * 160
    assert sum(r["pre_powerdown"] for r in e.state_cycles()) > 0.9 * 2 * 1_000_000


def test_lpddr4_background_comes_from_the_vdd_domains():
    """Per rank, 4 x16 devices x (1.8 V x I_VDD1 + 1.1 V x I_VDD2): standby tens of mW per
    device, power-down and self-refresh a few mW or less; power-down after 512 cycles."""
    lp = preset("lpddr4_2400")

    def mw(i1: float, i2: float) -> float:
        return 4 * (1.8 * i1 + 1.1 * i2)

    assert lp.power_active_standby_mw == pytest.approx(mw(2.25, 30.0))
    assert lp.power_precharge_standby_mw == pytest.approx(mw(2.0, 27.0))
    assert lp.power_active_powerdown_mw == pytest.approx(mw(1.2, 9.0))
    assert lp.power_precharge_powerdown_mw == pytest.approx(mw(1.2, 3.0)) == 21.84
    assert lp.power_self_refresh_mw == pytest.approx(mw(0.3, 0.5))
    assert (lp.powerdown_after, lp.self_refresh_after, lp.tXP, lp.tXS) == (512, 0, 6, 432)
    hyper = preset("hyperram")
    assert (hyper.powerdown_after, hyper.self_refresh_after) == (0, 0)


def test_resnet8_without_dram_traffic_powers_the_lpddr4_down():
    """ResNet-8 on imc_cluster never touches its DRAM. Each rank stays in precharge standby
    for its first 512 cycles and for tXP + tRFC = 398 cycles around each REF (one every
    4330 cycles, ranks alternating), and is powered down the rest of the run."""
    result = simulate("imc_cluster", "resnet8", overrides={"dram": "lpddr4_2400"}, trace=False)
    dram = result.soc.memory("dram")
    energy = dram.energy_breakdown()
    spec, engine = dram.spec, dram.engine
    end = engine.now
    assert end == dram.clock.edge_index(result.soc.sim.now)
    standby = [spec.powerdown_after] * spec.ranks
    n_ref = 0
    for k in range(1, end):
        due = k * spec.tREFI // spec.ranks
        if due >= end:
            break
        standby[(k - 1) % spec.ranks] += min(spec.tXP + spec.tRFC, end - due)
        n_ref += 1
    assert [r["pre_standby"] for r in engine.state_cycles()] == standby
    st = dram.stats()
    assert (st["act"], st["read"], st["write"]) == (0, 0, 0)
    assert st["ref"] == st["powerdown_exits"] == n_ref
    background = sum(s * spec.power_precharge_standby_mw
                     + (end - s) * spec.power_precharge_powerdown_mw for s in standby)
    assert energy["background"] == pytest.approx(background * spec.tCK_ns, rel=1e-12)
    assert energy["act_standby"] == energy["act_powerdown"] == energy["self_refresh"] == 0
    per_device_mw = energy["background"] / (end * spec.tCK_ns) / (spec.ranks * 4)
    assert 5.46 < per_device_mw < 10  # power-down (5.46 mW) plus the refresh wake-ups
    assert dram.static_energy_pj == pytest.approx(energy["background"] + energy["refresh"])
    assert dram.energy_pj == pytest.approx(dram.static_energy_pj)
