"""DRAM trace replay: parsing, bad input, metrics and the ``desim dram-replay`` command."""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys

import pytest

from desim.cli import build_parser
from desim.errors import SpecError
from desim.hw.dram.replay import latency_summary, read_trace
from desim.hw.dram.spec import DramSpec

ROW_HIT_PAIR = "# two reads of one row, paced\n0x00000000 READ 0\n0x00000040 READ 100\n"


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["dram-replay", *argv])


def run(ns: argparse.Namespace) -> int:
    return ns.func(ns)


def test_json_metrics_of_a_two_read_trace(tmp_path, capsys):
    """Closed bank then row hit: 49 and 27 cycles; the second ends at 101 + 27 = 128."""
    path = tmp_path / "pair.trc"
    path.write_text(ROW_HIT_PAIR)
    assert run(args(str(path), "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"requests": 2, "total_cycles": 128,
                   "bandwidth_gbps": pytest.approx(128 / (128 * 0.63)),
                   "read_latency": {"avg": 38.0, "p50": 27, "p99": 49, "min": 27, "max": 49},
                   "row_hit_rate": 0.5}


def test_gzip_trace_table_and_overrides(tmp_path, capsys):
    """A gzip trace reads the same; --set CL=20 shortens both reads by 2 cycles."""
    path = tmp_path / "pair.trc.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(ROW_HIT_PAIR)
    assert run(args(str(path), "--set", "CL=20", "--set", "tRCD=20")) == 0
    text = capsys.readouterr().out
    assert "total cycles   126 " in text
    assert "avg 35.0  p50 25  p99 45  min 25  max 45 cycles" in text
    assert "ACT 1  PRE 0  RD 2  WR 0  REF 0" in text


def test_writes_only_have_no_read_latency(tmp_path, capsys):
    """Nine writes fill past the threshold; the last WRITE's data ends WL + BL/2 after it."""
    path = tmp_path / "w.trc"
    path.write_text("".join(f"0x{64 * i:x} WRITE {i}\n" for i in range(9)))
    run(args(str(path), "--json"))
    out = json.loads(capsys.readouterr().out)
    assert out["read_latency"] is None and out["requests"] == 9
    assert out["row_hit_rate"] == pytest.approx(8 / 9)


@pytest.mark.parametrize("line,msg", [
    ("0x40 READ", r"2 fields instead of 3"),
    ("0xZZ READ 5", r"address '0xZZ' is not hexadecimal"),
    ("0x40 FETCH 5", r"operation 'FETCH' is neither READ nor WRITE"),
    ("0x40 READ soon", r"arrival 'soon' is not a whole number"),
    ("0x40 READ -3", r"arrival -3 is negative"),
    ("0x41 READ 3", r"not aligned to the 64 B transaction"),
    ("0x400000000 READ 3", r"outside the 17179869184 B of the DRAM"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, msg):
    path = tmp_path / "bad.trc"
    path.write_text(f"0x0 READ 0\n\n{line}\n")
    with pytest.raises(SpecError, match=rf"bad\.trc:3: .*{msg}"):
        read_trace(path, DramSpec())


def test_missing_empty_and_corrupt_traces(tmp_path):
    with pytest.raises(SpecError, match="cannot read it"):
        read_trace(tmp_path / "nope.trc")
    (tmp_path / "empty.trc").write_text("# nothing\n")
    with pytest.raises(SpecError, match="no requests"):
        read_trace(tmp_path / "empty.trc")
    (tmp_path / "cut.trc.gz").write_bytes(gzip.compress(ROW_HIT_PAIR.encode())[:20])
    with pytest.raises(SpecError, match="unreadable"):
        read_trace(tmp_path / "cut.trc.gz")


def test_bad_preset_and_set_raise_spec_errors(tmp_path):
    path = tmp_path / "pair.trc"
    path.write_text(ROW_HIT_PAIR)
    with pytest.raises(SpecError, match="unknown DRAM preset 'ddr9'; valid presets: ddr4_3200"):
        run(args(str(path), "--preset", "ddr9"))
    with pytest.raises(SpecError, match=r"--set 'CL': expected KEY=VALUE, e.g. --set tCCD_L="):
        run(args(str(path), "--set", "CL"))
    with pytest.raises(SpecError, match="tRP must be > 0"):
        run(args(str(path), "--set", "tRP=-2"))
    with pytest.raises(SpecError, match="unknown parameter 'tRPP'"):
        run(args(str(path), "--set", "tRPP=2"))


def test_latency_summary_uses_nearest_rank():
    """100 reads: 98 of 27 cycles, 2 of 500: p50 27, p99 500 (the 99th smallest)."""
    assert latency_summary({27: 98, 500: 2}) == {"avg": 36.46, "p50": 27, "p99": 500,
                                                 "min": 27, "max": 500}
    assert latency_summary({}) is None


def test_command_prints_one_line_errors(tmp_path):
    path = tmp_path / "pair.trc"
    path.write_text(ROW_HIT_PAIR)
    cmd = [sys.executable, "-m", "desim", "dram-replay", str(path)]
    ok = subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)["total_cycles"] == 128
    bad = subprocess.run([*cmd, "--preset", "x"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "desim: error: unknown DRAM preset 'x'" in bad.stderr


def test_a_runs_dram_trace_replays_with_its_requests_and_bytes(tmp_path, capsys):
    """``desim run --dram-trace`` logs every transaction the run's DRAM was offered;
    ``desim dram-replay`` reads the file back: same request count, same bytes (each
    request one 128 B LPDDR4 burst), covering the bytes the run moved."""
    from desim.cli import main
    from desim.driver import simulate
    from desim.hw.dram.component import record_requests

    path = tmp_path / "resnet8.trc.gz"
    assert main(["run", "flat_cluster", "-w", "resnet8", "-o", str(tmp_path / "out"),
                 "--no-trace", "--dram-trace", str(path)]) == 0
    capsys.readouterr()
    assert main(["dram-replay", str(path), "--preset", "lpddr4_2400", "--json"]) == 0
    replayed = json.loads(capsys.readouterr().out)
    with record_requests():
        result = simulate("flat_cluster", "resnet8", trace=False)
    dram = result.soc.memory("dram")
    txn = dram.spec.txn_bytes
    assert replayed["requests"] == dram.counters["transactions"] > 1000
    assert replayed["requests"] * txn == sum(txn for _ in dram.requests())
    moved = dram.counters["bytes_read"] + dram.counters["bytes_written"]
    assert moved <= replayed["requests"] * txn < moved + 2 * txn * dram.counters["accesses"]
    trace = read_trace(path, dram.spec)
    assert list(zip(trace.addrs, trace.writes, trace.arrivals, strict=True)) == list(
        dram.requests())


def test_dram_trace_needs_a_dram_and_recording(tmp_path, capsys):
    from desim.cli import main
    from desim.driver import simulate
    from desim.hw.dram.component import DramController

    assert main(["run", "stream_soc", "-w", "tiles", "-o", str(tmp_path), "--no-trace",
                 "--dram-trace", str(tmp_path / "x.trc")]) == 2
    assert "--dram-trace: platform stream_soc has no DRAM" in capsys.readouterr().err
    assert DramController.recording is False
    result = simulate("imc_cluster", "resnet8", trace=False)
    with pytest.raises(SpecError, match="requests are not recorded"):
        next(result.soc.memory("dram").requests())
