"""Trace export: Perfetto JSON layout and round trip, CSV rows, timeline pictures."""

import csv
import gzip
import json

import pytest

from desim.errors import DesimError
from desim.trace import Recorder, chrome, timeline, vcd
from desim.trace import csv as trace_csv


@pytest.fixture
def rec() -> Recorder:
    r = Recorder(meta={"clock_hz": 1e9})
    r.interval("soc.dma", "ch0", "in t0", "dma", 0, 1_500_000, {"bytes": 4096})
    r.interval("soc.cluster.core0", "", "t0", "compute", 1_500_000, 3_000_001, None)
    r.interval("soc.cluster.core1", "", "t0", "compute", 1_500_000, 2_000_000, None)
    r.instant("soc.dma", "ch0", "irq", 1_500_000)
    r.counter("soc.l1", "occupancy", 0, 0)
    r.counter("soc.l1", "occupancy", 1_000, 4096)
    fid = r.new_flow_id()
    r.flow(fid, "t0", ("soc.dma", "ch0"), 1_499_999, ("soc.cluster.core0", ""), 1_500_000)
    return r


def test_one_process_per_top_level_component_one_thread_per_lane(rec):
    events = chrome.to_events(rec)
    procs = {e["pid"]: e["args"]["name"] for e in events if e.get("name") == "process_name"}
    assert sorted(procs.values()) == ["soc.cluster", "soc.dma", "soc.l1"]
    threads = {e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    assert threads == {"ch0", "core0", "core1"}
    slices = [e for e in events if e["ph"] == "X"]
    assert [(s["ts"], s["dur"]) for s in slices] == [(0.0, 1.5), (1.5, 1.500001), (1.5, 0.5)]
    assert {e["ph"] for e in events} >= {"M", "X", "C", "s", "f", "i"}


def test_gzip_json_round_trip_is_exact(rec, tmp_path):
    path = chrome.write(rec, tmp_path / "trace.json.gz")
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert doc["otherData"]["clock_hz"] == 1e9
    back = chrome.load(path)
    assert sorted(back.intervals) == sorted(rec.intervals)
    assert back.counters == rec.counters
    assert back.flows == rec.flows
    assert back.instants == rec.instants


def test_written_file_is_byte_identical_across_writes(rec, tmp_path):
    a = chrome.write(rec, tmp_path / "a.json.gz").read_bytes()
    b = chrome.write(rec, tmp_path / "b.json.gz").read_bytes()
    assert a == b


def test_written_file_is_the_event_list_encoded(tmp_path):
    """The writer encodes record by record what to_events lists: the file is exactly
    json.dumps of that document, for slices with and without args, transfer bookings
    (args shared, bytes added; or address and bytes added), arguments of one set of keys
    (strings and integers, or mixed types), counters of ints and floats (-0.0 and
    infinity too), instants and flows, times below 100 ps (printed in exponent form) and
    from 1e14 ps, and several records at one time."""
    r = Recorder(meta={"clock_hz": 1e9, "platform": "x"})
    shared = {"src": "l2", "dst": "l1", "master": "soc.dma.ch0"}
    r.moved("soc.ic", "l2->l1", "in t0", "transfer", 0, 42, shared, 8)
    r.moved("soc.ic", "l2->l1", "in t0", "transfer", 42, 2_702_745, shared, 256)
    r.moved("soc.l1", "port", "write", "mem", 7, 1_000_000, None, 64)
    r.interval("soc.cluster", "jobs", "t\u00e9 \"0\"", "compute", 5, 123_456_789_012, {"macs": 3})
    r.interval("soc.cluster.core0", "", "t0", "compute", 1_500_000, 3_000_001, None)
    r.interval("soc.cluster", "jobs", "t1", "compute", 9, 10,  # args the writer pieces
               {"s": "a\"b\u00e9", "n": -3, "big": 2 ** 70, "ok": True, "x": None})
    r.interval("soc.cluster", "jobs", "t1", "compute", 10, 11, {"n": 4, "f": 1.5})
    r.moved("soc.l2", "port", "read", "mem", 3, 3, {"master": "m", "addr": 16}, 0)
    r.counter("soc.ic.l2->l1", "bandwidth", 0, 2.5)
    r.counter("soc.dram", "queue_depth", 3, 7)
    r.counter("soc.dram", "queue_depth", 4, True)
    r.counter("soc.ic.l2->l1", "bandwidth", 42, 0.0)
    r.counter("soc.l1", "occupancy", 42, 4096)
    for i in range(3):  # arguments of one set of keys, written a column at a time
        r.moved("soc.l2", "port", "write", "mem", 100 + i, 200 + i,
                {"master": "m\u00e9", "addr": 32 * i, "10%": i}, 8)
        r.interval("soc.l2", "port", "x", "mem", 300 + i, 400, {"n": i if i else True})
    by = {"master": "soc.io_dma.ch0"}  # records at an address, args shared (Recorder.add)
    r.add([("soc.dram", "bus", "read", "dram", 50, 90, by, 64, 0x8000_0040),
           ("soc.l2", "port", "write", "mem", 90, 95, by, 64, 0x1C00_0000),
           ("soc.l2", "port", "write", "mem", 95, 99, None, 32, 8)], [])
    r.interval("soc.cluster", "jobs", "late", "compute", 10**14 + 5, 10**14 + 7, None)
    r.counter("soc.dram", "queue_depth", 5, -0.0)
    r.counter("soc.dram", "queue_depth", 6, float("inf"))
    r.instant("soc.dma", "ch0", "irq", 42, {"k": [1, 2]})
    r.flow(r.new_flow_id(), "t0", ("soc.ic", "l2->l1"), 41, ("soc.cluster", "jobs"), 99)
    path = chrome.write(r, tmp_path / "t.json")
    expected = json.dumps({"traceEvents": chrome.to_events(r), "displayTimeUnit": "ns",
                           "otherData": {"generator": "desim", **r.meta}},
                          separators=(",", ":"))
    assert path.read_text() == expected
    booked = [iv for iv in r.intervals if iv.path == "soc.ic"]
    assert [iv.args for iv in booked] == [{**shared, "bytes": 8}, {**shared, "bytes": 256}]
    assert shared == {"src": "l2", "dst": "l1", "master": "soc.dma.ch0"}
    at = [iv.args for iv in r.intervals if iv.start in (50, 90, 95)]
    assert at == [{"master": "soc.io_dma.ch0", "addr": 0x8000_0040, "bytes": 64},
                  {"master": "soc.io_dma.ch0", "addr": 0x1C00_0000, "bytes": 64},
                  {"addr": 8, "bytes": 32}]
    assert by == {"master": "soc.io_dma.ch0"}
    back = chrome.load(path)
    assert sorted(back.intervals) == sorted(r.intervals)
    assert sorted(back.counters) == sorted(r.counters)


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(DesimError, match="does not exist"):
        chrome.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DesimError, match="not a readable trace-event JSON"):
        chrome.load(bad)


def test_csv_has_one_row_per_interval(rec, tmp_path):
    path = trace_csv.write(rec, tmp_path / "t.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3
    assert rows[0]["component"] == "soc.dma" and rows[0]["duration_ps"] == "1500000"
    assert json.loads(rows[0]["args"]) == {"bytes": 4096}


@pytest.mark.parametrize("name", ["t.png", "t.svg"])
def test_timeline_is_written(rec, tmp_path, name):
    path = timeline.plot(rec, tmp_path / name, clock_hz=1e9, title="x")
    assert path.stat().st_size > 1000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_timeline_window_outside_run_is_refused(rec, tmp_path):
    with pytest.raises(DesimError, match="outside the run"):
        timeline.plot(rec, tmp_path / "t.png", window=(10**9, 2 * 10**9))


def test_vcd_parses_back_with_busy_edges_and_counters(rec, tmp_path):
    """The DMA lane rises at 0 and falls at 1.5 us; the occupancy counter reads 4096."""
    from vcd.reader import TokenKind, tokenize

    path = vcd.write(rec, tmp_path / "t.vcd")
    ids, changes, t = {}, [], 0
    scope: list[str] = []
    with path.open("rb") as fh:
        for tok in tokenize(fh):
            if tok.kind is TokenKind.SCOPE:
                scope.append(tok.scope.ident)
            elif tok.kind is TokenKind.UPSCOPE:
                scope.pop()
            elif tok.kind is TokenKind.VAR:
                ids[tok.var.id_code] = ".".join(scope) + ":" + tok.var.reference
            elif tok.kind is TokenKind.CHANGE_TIME:
                t = tok.time_change
            elif tok.kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_REAL):
                changes.append((t, ids[tok.data.id_code], tok.data.value))
    dma = [(t, v) for t, name, v in changes if name == "soc.dma:ch0"]
    assert dma[-2:] == [(0, "1"), (1_500_000, "0")]
    occ = [(t, v) for t, name, v in changes if name == "soc.l1:occupancy"]
    assert occ[-1] == (1_000, 4096.0)


def test_the_writer_buffer_holds_the_longest_records(tmp_path):
    """Each record's room in the compiled writer's buffer (``chrome._room``) holds what it
    writes, for the longest numbers a record can carry: times at both ends of int64 ps,
    addresses and byte counts of 19 digits (the buffer is written unchecked)."""
    import numpy as np

    from desim.trace import chrome_jit as cj

    r = Recorder()
    big, low = 2**63 - 1, -(2**63) + 1
    by = {"master": "m"}
    r.add([("soc.dram", "bus", "read", "dram", low, big, by, big, big),
           ("soc.dram", "bus", "read", "dram", big, big, None, low, low),
           ("soc.l2", "port", "x", "mem", low, big, by, big)], [])
    r.interval("soc.l2", "port", "x", "mem", low, big, {"n": big})
    r.counter("soc.dram", "queue_depth", low, big)
    _meta, pieces, R, _order = chrome._rows(r)
    pool = [p.encode() for p in pieces]
    pl = np.array([len(p) for p in pool], np.int64)
    po = np.concatenate(([0], np.cumsum(pl)[:-1])).astype(np.int64)
    P = np.frombuffer(b"".join(pool), np.uint8)
    room = chrome._room(pl, R)
    for i in range(len(R)):
        out = np.zeros(4096, np.uint8)
        n = cj.format_block(P, po, pl, R, np.array([i], np.int64), 0, 1, out)
        assert n <= room[i], (i, bytes(out[:n]))
    r = Recorder()  # and they are written as the event list (times it can sort)
    r.add([("soc.dram", "bus", "read", "dram", -10**18, 10**18, by, big, big),
           ("soc.dram", "bus", "read", "dram", 10**18, 10**18, None, low, low)], [])
    path = chrome.write(r, tmp_path / "t.json")
    assert json.loads(path.read_text())["traceEvents"] == json.loads(json.dumps(
        chrome.to_events(r)))


def test_records_added_together_keep_their_order_and_the_cap():
    """``Recorder.add`` appends intervals and samples as the one-by-one calls would, and
    once the cap has stopped recording it only counts them."""
    one, many = Recorder(cap=4), Recorder(cap=4)
    ivs = [("soc.l2", "port", "write", "mem", 0, 5, {"addr": 1}, 8),
           ("soc.dram", "bus", "read", "dram", 1, 9, {"bytes": 8})]
    samples = [("soc.l2.port", "bandwidth", 0, 1.5), ("soc.dram", "queue_depth", 1, 2)]
    one.moved(*ivs[0])
    one.interval(*ivs[1])
    for s in samples:
        one.counter(*s)
    many.add(ivs, samples)
    assert many.intervals == one.intervals and many.counters == one.counters
    assert many.check_cap()
    many.add(ivs, samples[:1])
    assert many.dropped == 3 and len(many.intervals) == 2
