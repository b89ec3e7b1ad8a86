"""DRAM spec and controller engine: closed-form timelines on DDR4-3200 and JEDEC invariants.

Cycle numbers are DRAM clock cycles (tCK = 0.63 ns). A request arriving at cycle a is
offered by the front end at a and enters the controller at a + 1; the transaction
scheduler moves it into its bank's command queue that cycle, so its first command can go
at a + 2. A READ's last data beat is CL + BL/2 = 26 cycles after the command.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.hw.dram.controller import DramEngine, Location
from desim.hw.dram.spec import PRESETS, DramSpec, preset
from desim.spec import override

DDR4 = DramSpec()


def addr(row: int = 0, ra: int = 0, ba: int = 0, bg: int = 0, co: int = 0) -> int:
    """A DDR4-3200 byte address in the default ``rochrababgco`` mapping."""
    return ((((row << 1 | ra) << 2 | ba) << 2 | bg) << 7 | co) << 6


def bank(ra: int = 0, ba: int = 0, bg: int = 0) -> int:
    """Engine bank index: rank, then bank group, then bank."""
    return (ra * 4 + bg) * 4 + ba


def run(reqs: list[tuple[int, bool, int]], spec: DramSpec = DDR4) -> DramEngine:
    """Replay (address, write, arrival) requests, one stream each, with a command log."""
    engine = DramEngine(spec, log=True)
    for a, write, t in reqs:
        engine.submit([a], write, t)
    engine.finish()
    return engine


def cmds(engine: DramEngine, kind: str) -> list[tuple[int, int]]:
    """(cycle, bank) of every logged command of one kind."""
    return [(t, b) for t, k, b, _ in engine.log if k == kind]


# -- unloaded latency floors -----------------------------------------------------------

def test_closed_bank_read_takes_49_cycles():
    """Arrives 0, enters 1, ACT 2, READ 2 + tRCD = 24, last beat 24 + 26 = 50: 49 cycles."""
    e = run([(addr(), False, 0)])
    assert e.log == [(2, "ACT", 0, 0), (24, "RD", 0, 0)]
    assert e.lat_hist == {49: 1}
    assert e.last_data_end == 50


def test_row_hit_read_takes_27_cycles():
    """Row 0 stays open; a read of it arriving at 1000 enters 1001, READ 1002, done 1028."""
    e = run([(addr(), False, 0), (addr(co=1), False, 1000)])
    assert e.log[-1] == (1002, "RD", 0, 0)
    assert e.lat_hist == {49: 1, 27: 1}
    assert e.stats()["row_hits"] == 1


def test_row_conflict_read_takes_71_cycles():
    """Row 1 of an open bank: PRE 1002, ACT 1002 + tRP = 1024, READ 1046, done 1072."""
    e = run([(addr(), False, 0), (addr(row=1), False, 1000)])
    assert e.log[2:] == [(1002, "PRE", 0, -1), (1024, "ACT", 0, 1), (1046, "RD", 0, 1)]
    assert e.lat_hist == {49: 1, 71: 1}
    st_ = e.stats()
    assert (st_["row_misses"], st_["row_conflicts"], st_["row_hits"]) == (1, 1, 0)


def test_floors_follow_the_timing_parameters():
    """Row hit 1 + CL + BL/2, closed bank + tRCD, conflict + tRP: here CL 20, tRCD/tRP 18."""
    spec = dataclasses.replace(DDR4, CL=20, tRCD=18, tRP=18)
    e = run([(addr(), False, 0), (addr(co=1), False, 1000), (addr(row=1), False, 2000)],
            spec)
    assert e.lat_hist == {1 + 18 + 20 + 4: 1, 1 + 20 + 4: 1, 1 + 18 + 18 + 20 + 4: 1}


def test_row_hit_is_faster_than_miss_under_load():
    """64 reads back to back: one row (hits) finishes far sooner than 64 rows of one bank."""
    hits = run([(addr(co=i), False, 0) for i in range(64)])
    misses = run([(addr(row=i), False, 0) for i in range(64)])
    assert hits.stats()["row_hit_rate"] == 63 / 64
    assert misses.stats()["row_hit_rate"] == 0
    assert hits.last_data_end < misses.last_data_end / 5


# -- bank-group, activate-window and refresh timing -----------------------------------

def test_reads_in_one_bank_group_are_tccd_l_apart():
    """Four hits to one bank group entering 501..504: READs at 502, 510, 518, 526 (tCCD_L)."""
    e = run([(addr(), False, 0)] + [(addr(co=1 + k), False, 500 + k) for k in range(4)])
    assert [t for t, _ in cmds(e, "RD")][1:] == [502, 510, 518, 526]


def test_reads_alternating_bank_groups_are_tccd_s_apart():
    """Open rows in groups 0 and 1, then hits alternating them: READs 502, 506, 510, 514."""
    warm = [(addr(bg=0), False, 0), (addr(bg=1), False, 1)]
    e = run(warm + [(addr(bg=k % 2, co=1 + k), False, 500 + k) for k in range(4)])
    assert [t for t, _ in cmds(e, "RD")][2:] == [502, 506, 510, 514]


def test_tfaw_holds_the_fifth_activate():
    """Five closed banks of rank 0 (groups 0-3, then group 0 bank 1) entering 1..5: ACTs at
    2, 6, 10, 14 (tRRD_S); the fifth is legal at 2 + tFAW = 36, where the command bus
    carries bank 12's READ (14 + tRCD), so it goes at 37."""
    e = run([(addr(bg=k % 4, ba=k // 4), False, k) for k in range(5)])
    assert cmds(e, "ACT") == [(2, bank(bg=0)), (6, bank(bg=1)), (10, bank(bg=2)),
                              (14, bank(bg=3)), (37, bank(bg=0, ba=1))]
    assert (36, "RD", bank(bg=3), 0) in e.log
    fast = run([(addr(bg=k % 4, ba=k // 4), False, k) for k in range(5)],
               dataclasses.replace(DDR4, tFAW=16))
    assert cmds(fast, "ACT")[-1] == (18, bank(bg=0, ba=1))  # 14 + tRRD_S


def test_refresh_closes_rows_and_blocks_the_rank_for_trfc():
    """Rank 0 refreshes at tREFI/2 = 6240: PRE of its open bank 6240, REF 6240 + tRP = 6262,
    then the read that arrived at 6240 (entered 6241) re-opens its row at 6262 + tRFC =
    6822: READ 6844, done 6870, 629 cycles instead of a 27-cycle hit."""
    e = run([(addr(), False, 0), (addr(co=1), False, 6240)])
    assert e.log[2:] == [(6240, "PRE", 0, -1), (6262, "REF", 0, -1), (6822, "ACT", 0, 0),
                         (6844, "RD", 0, 0)]
    assert e.lat_hist == {49: 1, 629: 1}


def test_refresh_of_one_rank_leaves_the_other_working():
    """Rank 1's open row still serves a hit at 6243 while rank 0, refreshed at 6240 with
    every bank closed, waits tRFC: ACT 6240 + 560 = 6800."""
    e = run([(addr(ra=1), False, 0), (addr(co=1), False, 6240), (addr(ra=1, co=1), False, 6241)])
    assert e.log[2:] == [(6240, "REF", 0, -1), (6243, "RD", bank(ra=1), 0),
                         (6800, "ACT", 0, 0), (6822, "RD", 0, 0)]
    assert e.lat_hist == {49: 1, 27: 1, 607: 1}


def test_refresh_rate_is_one_rank_every_trefi_over_ranks():
    """Idle for 10 tREFI: REF at 6240 + 6240 k, alternating ranks: 20 of them by 130,000."""
    e = DramEngine(DDR4, log=True)
    e.advance(130_000)
    assert e.log == [(6240 * (k + 1), "REF", k % 2, -1) for k in range(20)]


@pytest.mark.parametrize("group,read_at", [(0, 1074 + 16 + 4 + 12), (1, 1074 + 16 + 4 + 4)])
def test_writes_drain_in_a_batch_and_reads_wait_twtr(group, read_at):
    """Nine writes to row 0 of group 0 (entering 1001..1009) exceed the drain threshold of
    8 with every command queue empty: WRITEs at 1010 + 8 k (tCCD_L), the last at 1074. A
    read entering 1081 waits WL + BL/2 + tWTR: 1106 in the same group (tWTR_L 12), 1098
    in another (tWTR_S 4)."""
    warm = [(addr(bg=0), False, 0), (addr(bg=1), False, 1)]
    writes = [(addr(co=1 + k), True, 1000 + k) for k in range(9)]
    e = run(warm + writes + [(addr(bg=group, co=20), False, 1080)])
    assert [t for t, _ in cmds(e, "WR")] == [1010 + 8 * k for k in range(9)]
    assert cmds(e, "RD")[-1] == (read_at, bank(bg=group))


def test_eight_writes_stay_buffered_until_the_input_ends():
    """At the threshold (8 writes) nothing drains while input may still come. After the
    last request (a read entering 3001, READ 3002) the idle controller drains them: WRITEs
    from 3002 + RL + BL/2 + tRTRS - WL = 3013, tCCD_L apart."""
    writes = [(addr(co=1 + k), True, 1000 + k) for k in range(8)]
    e = run([(addr(), False, 0)] + writes + [(addr(co=20), False, 3000)])
    assert e.log[2] == (3002, "RD", 0, 0)
    assert [t for t, _ in cmds(e, "WR")] == [3013 + 8 * k for k in range(8)]


def test_writes_behind_reads_of_their_addresses_do_not_stall_the_drain():
    """40 reads of one row (8 fill the bank's command queue, 32 wait in the read queue),
    then writes to the last 32 of those addresses: the write buffer fills and must drain,
    but no write may pass the older read of its address. The waiting reads move instead,
    so all 72 requests finish (a scheduler that keeps insisting on the writes stalls)."""
    e = DramEngine(DDR4, log=True)
    e.submit([addr(co=i) for i in range(40)] + [addr(co=i) for i in range(39, 7, -1)],
             [False] * 40 + [True] * 32, 0)
    e.advance(20_000)
    assert not e.streams
    assert sum(e.lat_hist.values()) == 40 == e.stats()["read"]
    assert e.stats()["write"] == 32
    check_protocol(e)


def test_closed_page_precharges_after_every_access():
    """Closed page: the second read of row 0 needs a new ACT: 1 + tRCD + CL + BL/2 = 49."""
    e = run([(addr(), False, 0), (addr(co=1), False, 1000)],
            dataclasses.replace(DDR4, page_policy="closed"))
    assert e.lat_hist == {49: 2}
    assert e.stats()["pre"] == 2


def test_incremental_api_jumps_between_events():
    """Idle: the next event is the first refresh (6240). A read offered at 100 makes 100
    the next event; running to the next output finds it done at 150 (ACT 102, READ 124)."""
    e = DramEngine(DDR4)
    assert e.next_event() == 6240
    e.submit([addr()], False, 100, tag="rd")
    assert e.next_event() == 100
    assert e.run_until_output() == 150 and e.now == 150
    assert e.pop_done(149) == [] and e.pop_done(150) == [(150, "rd")]
    closed = DramEngine(dataclasses.replace(DDR4, refresh=False))
    assert closed.next_event() is None and closed.run_until_output() is None


# -- protocol invariants on random traffic --------------------------------------------

def check_protocol(engine: DramEngine) -> None:
    """Assert the command log obeys the JEDEC rules the model implements."""
    s = engine.spec
    burst = s.burst_cycles
    rank = engine.rank_of
    group = engine.bg_of
    open_row: dict[int, int] = {}
    last: dict[tuple[str, int], int] = {}
    acts: dict[int, list[int]] = {}
    cols: list[tuple[int, int, bool]] = []
    cycles = [t for t, *_ in engine.log]
    assert len(set(cycles)) == len(cycles), "one command per cycle"
    for t, kind, b, row in engine.log:
        if kind == "ACT":
            assert b not in open_row
            assert t >= last.get(("PRE", b), -10**9) + s.tRP
            assert t >= last.get(("REF", rank[b]), -10**9) + s.tRFC
            for o, to in ((o, to) for (k, o), to in last.items() if k == "ACT" and o != b):
                if rank[o] == rank[b]:
                    assert t - to >= (s.tRRD_L if group[o] == group[b] else s.tRRD_S)
            window = acts.setdefault(rank[b], [])
            if len(window) >= 4:
                assert t - window[-4] >= s.tFAW
            window.append(t)
            open_row[b] = row
        elif kind == "PRE":
            assert t - last[("ACT", b)] >= s.tRAS
            assert t - last.get(("RD", b), -10**9) >= s.tRTP
            assert t - last.get(("WR", b), -10**9) >= s.CWL + burst + s.tWR
            del open_row[b]
        elif kind == "REF":
            assert all(rank[o] != b for o in open_row)
        else:
            write = kind == "WR"
            assert open_row.get(b) == row
            assert t - last[("ACT", b)] >= s.tRCD
            start = t + (s.CWL if write else s.CL)
            for to, o, ow in cols[-8:]:
                if rank[o] == rank[b] and ow == write:
                    assert t - to >= (max(burst, s.tCCD_L) if group[o] == group[b] else
                                      max(burst, s.tCCD_S))
                if rank[o] == rank[b] and ow and not write:
                    wtr = s.tWTR_L if group[o] == group[b] else s.tWTR_S
                    assert t - to >= s.CWL + burst + wtr
                # data bursts never overlap; a new driver (other rank's reads, or a change
                # of direction) leaves tRTRS
                other = to + (s.CWL if ow else s.CL)
                turn = s.tRTRS if ow != write or (not write and rank[o] != rank[b]) else 0
                assert abs(start - other) >= burst + turn
            cols.append((t, b, write))
        last[(kind, b)] = t


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 3),
                          st.integers(0, 3), st.integers(0, 3), st.booleans(),
                          st.integers(0, 400)), min_size=1, max_size=60))
def test_random_traffic_obeys_the_timing_rules(reqs):
    """Random reads and writes over 4 rows x 2 ranks x 16 banks, refreshes included: every
    request completes, the command log obeys the timing rules, the bus never beats its
    peak, and only reads served by the write buffer or joining an in-flight read of their
    address beat the 27-cycle row-hit floor."""
    t = 0
    trace = []
    for row, ra, ba, bg, co, write, gap in reqs:
        t += gap
        trace.append((addr(row, ra, ba, bg, co), write, t))
    engine = run(trace)
    check_protocol(engine)
    stats = engine.stats()
    assert not engine.streams and not engine.rq and not engine.wq and not engine.n_cmd
    assert stats["bus_busy_cycles"] <= engine.last_data_end
    assert sum(engine.lat_hist.values()) == sum(not w for *_, w, _ in reqs)
    quick = sum(n for lat, n in engine.lat_hist.items() if lat < 27)
    assert quick <= stats["merged_reads"] + stats["forwarded_reads"]


# -- address mapping -------------------------------------------------------------------

@pytest.mark.parametrize("mapping", ["rochrababgco", "rorabgbaco", "corababgro", "bgbarocora"])
@given(row=st.integers(0, 65535), ra=st.integers(0, 1), ba=st.integers(0, 3),
       bg=st.integers(0, 3), co=st.integers(0, 127))
@settings(max_examples=25, deadline=None)
def test_mapping_decodes_fields_in_string_order(mapping, row, ra, ba, bg, co):
    """Fields are packed MSB to LSB as written, above the 6 offset bits of a 64 B burst."""
    spec = dataclasses.replace(DDR4, address_mapping=mapping)
    widths = {"ro": 16, "ra": 1, "ba": 2, "bg": 2, "co": 7, "ch": 0}
    values = {"ro": row, "ra": ra, "ba": ba, "bg": bg, "co": co, "ch": 0}
    a = 0
    for i in range(0, len(mapping), 2):
        f = mapping[i:i + 2]
        a = a << widths[f] | values[f]
    engine = DramEngine(spec)
    assert engine.decode(a << 6 | 0x15) == Location(ra, bg, ba, row, co)
    assert engine.locate(a << 6) == ((ra * 4 + bg) * 4 + ba, row)


def test_default_mapping_puts_a_row_of_8_kib_in_one_bank():
    """rochrababgco: 128 bursts of 64 B share a row; the next 8 KiB go to the next group."""
    e = DramEngine(DDR4)
    assert {e.locate(a) for a in range(0, 8192, 64)} == {(0, 0)}
    assert e.decode(8192) == Location(0, 1, 0, 0, 0)
    assert e.decode(1 << 17) == Location(1, 0, 0, 0, 0)
    assert e.decode(1 << 18) == Location(0, 0, 0, 1, 0)


# -- spec, presets and bad input -------------------------------------------------------

def test_ddr4_preset_is_the_reference_configuration():
    """DDR4-3200 of the reference: 64 B bursts of 4 cycles, 25.40 GB/s, 16 GiB, 8 KiB rows."""
    s = preset("ddr4_3200")
    assert s == DDR4
    assert (s.txn_bytes, s.burst_cycles, s.row_bytes, s.banks) == (64, 4, 8192, 32)
    assert s.capacity_bytes == 16 << 30
    assert round(s.peak_gbps, 2) == 25.40
    assert (s.CL, s.CWL, s.tRCD, s.tRP, s.tRAS, s.tRFC, s.tREFI) == (22, 16, 22, 22, 52, 560,
                                                                    12480)
    assert (s.tCCD_S, s.tCCD_L, s.tRRD_S, s.tRRD_L, s.tFAW) == (4, 8, 4, 8, 34)
    assert (s.tWTR_S, s.tWTR_L, s.tWR, s.tRTP, s.tRTRS) == (4, 12, 24, 12, 1)


def test_lpddr4_preset_and_x32_override():
    """LPDDR4-2400: BL16 on 64 bit = 128 B bursts; a x32 channel moves 64 B per burst."""
    s = preset("lpddr4_2400")
    assert (s.tCK_ns, s.CL, s.tRCD, s.tFAW, s.tPPD, s.bank_groups) == (0.83, 17, 15, 32, 2, 2)
    assert (s.txn_bytes, s.burst_cycles) == (128, 8)
    x32 = override(s, "bus_width", "32")
    assert x32.txn_bytes == 64 and x32.capacity_bytes == s.capacity_bytes // 2


def test_hyperram_preset_serves_one_burst_per_hyperbus_transaction():
    """S27KS0641 at 166 MHz: CA 3 + latency 12 + 32 data clocks, CS# recovery 6: a 64 B read
    takes 1 + 3 + 12 + 32 = 48 clocks; back to back one per 3 + 44 + 6 = 53 clocks."""
    s = preset("hyperram")
    assert (s.tCK_ns, s.txn_bytes, s.page_policy, s.refresh) == (6.0, 64, "closed", False)
    assert s.capacity_bytes == 8 << 20
    e = run([(0, False, 0)], s)
    assert e.lat_hist == {48: 1}
    e = run([(64 * k, False, k) for k in range(8)], s)
    reads = [t for t, _ in cmds(e, "RD")]
    assert [b - a for a, b in zip(reads, reads[1:], strict=False)] == [53] * 7


def test_presets_listed_and_unknown_preset_lists_them():
    assert PRESETS == ("ddr4_3200", "lpddr4_2400", "hyperram")
    with pytest.raises(SpecError, match="unknown DRAM preset 'ddr5'.*ddr4_3200, lpddr4_2400, "
                                        "hyperram"):
        preset("ddr5")


@pytest.mark.parametrize("mapping,msg", [
    ("rochrababg", r"does not cover the column bits: add the field 'co'"),
    ("rochbabgco", r"does not cover the rank bits"),
    ("roxxrababgco", r"unknown field 'xx'"),
    ("rochrababgcoc", r"unknown field 'c'"),
    ("rorochrababgco", r"field 'ro' \(row\) appears 2 times"),
])
def test_bad_mapping_is_refused(mapping, msg):
    with pytest.raises(SpecError, match=msg):
        DramSpec(address_mapping=mapping)


@pytest.mark.parametrize("key,value,msg", [
    ("tRCD", "-1", r"tRCD must be > 0"),
    ("tRP", "0", r"tRP must be > 0"),
    ("CL", "0", r"CL must be > 0"),
    ("banks_per_group", "3", r"banks_per_group must be a power of two"),
    ("bus_width", "60", r"bus_width 60 must be a multiple of 8"),
    ("tREFI", "1000", r"tREFI \(1000\) / ranks must exceed tRFC"),
    ("page_policy", "lazy", r"page_policy must be one of open, closed"),
])
def test_bad_values_name_the_field(key, value, msg):
    with pytest.raises(SpecError, match=msg):
        override(DDR4, key, value)


def test_energy_counts_commands_and_background():
    """One closed-bank read: 1 ACT + 1 READ, and rank 0 active from ACT (2) to the end."""
    e = run([(addr(), False, 0)])
    e.advance(1000)
    en = e.energy_pj()
    assert en["act"] == DDR4.energy_act_pj and en["read"] == DDR4.energy_read_pj
    active = 1000 - 2
    idle = 2 * 1000 - active
    assert en["background"] == pytest.approx((active * DDR4.power_active_standby_mw
                                              + idle * DDR4.power_precharge_standby_mw) * 0.63)
    assert en["act_standby"] == pytest.approx(active * DDR4.power_active_standby_mw * 0.63)
    assert en["act_powerdown"] == en["pre_powerdown"] == en["self_refresh"] == 0
    assert en["total"] == pytest.approx(sum(en[k] for k in ("act", "read", "write", "refresh",
                                                            "background")))
