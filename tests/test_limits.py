"""Limits: work beyond minutes is refused up front with its estimate and the option that
lifts the limit; absurd counts, clocks, seeds and trace arrivals are refused at
validation; a trace stops growing at its record cap and says so."""

from __future__ import annotations

import json

import pytest

import desim
from desim.cli import main
from desim.errors import DesimError
from desim.limits import DRAM_REQUEST_S, TILE_S, Work, check, schedule_work


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_estimate_counts_the_dram_requests_the_run_makes():
    """The schedule's L1<->DRAM copies, in whole transactions, are the bytes the DRAM
    served."""
    result = desim.simulate("flat_cluster", "dscnn")
    work = schedule_work(result.soc, result.plan)
    txn = result.soc.memory("dram").spec.txn_bytes
    served = result.summary["memory"]["dram_traffic_bytes"]
    assert work.dram_requests == -(-served // txn) > 0
    assert work.tiles == sum(layer["tiles"] for layer in result.summary["layers"])
    assert work.components == len(result.summary["components"])


def test_a_run_beyond_the_limit_is_refused_before_it_starts(tmp_path, capsys):
    code, _, err = _run(capsys, "run", "flat_cluster", "-w", "mobilenetv2", "--no-trace",
                        "--max-minutes", "0.5", "-o", str(tmp_path / "o"))
    assert code == 2 and err.count("\n") == 1
    assert "more than the 0.5 min limit; raise it with --max-minutes" in err
    assert "DRAM requests" in err and "tiles" in err
    assert not (tmp_path / "o").exists()


def test_the_limit_names_the_option_and_a_value_that_lifts_it():
    work = Work(tiles=1000, dram_requests=1_000_000)  # 4 s + 200 s
    with pytest.raises(DesimError) as exc:
        check(work, 1.0)
    need = int(str(exc.value).split("--max-minutes ")[1].split()[0])
    assert need * 60 >= work.seconds == pytest.approx(1000 * TILE_S + 1e6 * DRAM_REQUEST_S)
    check(work, need)
    check(work, 0)  # no limit
    check(work, None)


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_limit_that_is_no_number_of_minutes_is_refused(tmp_path, capsys, value):
    code, _, err = _run(capsys, "run", "stream_soc", "-w", "tiles", "--max-minutes", value,
                        "-o", str(tmp_path / "o"))
    assert code == 2 and "--max-minutes" in err and "give a number of minutes" in err


@pytest.mark.parametrize("seed", [-1, 1.5, "x", None, True])
def test_a_seed_that_is_not_a_whole_number_is_refused(seed):
    with pytest.raises(DesimError, match="seed .*: give a whole number >= 0"):
        desim.simulate("stream_soc", "tiles", seed=seed)


def test_a_cluster_clock_below_a_megahertz_is_refused(tmp_path, capsys):
    """A 115 Hz cluster ran for minutes simulating DRAM refreshes: refused at validation."""
    code, _, err = _run(capsys, "run", "flat_cluster", "-w", "autoencoder", "--set",
                        "cluster.freq_hz=115", "-o", str(tmp_path / "o"))
    assert code == 2 and "cluster.freq_hz must be >= 1000000.0 Hz" in err


def test_a_sweep_of_too_many_points_is_refused_before_drawing_them(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text('platform = "stream_soc"\nworkload = "tiles"\n[random]\nn = 10000000\n'
                     '[random.range]\n"dma.setup_cycles" = "1:100"\n')
    code, _, err = _run(capsys, "sweep", str(study), "-o", str(tmp_path / "sw"))
    assert code == 2 and "10,000,000 points" in err and "between 1 and 100,000" in err
    assert not (tmp_path / "sw").exists()


def test_a_replay_beyond_the_limit_is_refused_with_its_refreshes(tmp_path, capsys):
    """Two requests 2x10^14 cycles apart: 1.6x10^10 refreshes between them."""
    trace = tmp_path / "t.trc"
    trace.write_text("0x40 READ 0\n0x80 READ 200000000000000\n")
    code, _, err = _run(capsys, "dram-replay", str(trace))
    assert code == 2 and "DRAM refreshes" in err and "--max-minutes" in err
    assert "or --set refresh=false" in err
    trace.write_text("0x40 READ 0\n0x80 READ 99999999999999999999\n")
    code, _, err = _run(capsys, "dram-replay", str(trace), "--set", "refresh=false")
    assert code == 2 and f"{trace}: request 2 arrives at cycle" in err


def test_a_trace_stops_at_its_cap_and_says_so(tmp_path, capsys):
    """Timing is the same with the cap; the trace keeps what it had and counts the rest."""
    full, capped = tmp_path / "full", tmp_path / "capped"
    assert main(["run", "pulp_cluster", "-w", "resnet8", "-o", str(full)]) == 0
    capsys.readouterr()
    code, _, err = _run(capsys, "run", "pulp_cluster", "-w", "resnet8", "--trace-cap",
                        "1000", "-o", str(capped))
    assert code == 0 and "desim: warning: the trace reached its cap of 1,000 records" in err
    a, b = (json.loads((d / "summary.json").read_text()) for d in (full, capped))
    assert a["total_ps"] == b["total_ps"] and a["layers"] == b["layers"]
    from desim.trace import chrome

    kept = chrome.load(capped / "trace.json.gz")
    everything = chrome.load(full / "trace.json.gz")
    dropped = kept.meta["dropped_records"]
    assert len(kept.intervals) + len(kept.counters) >= 1000
    assert len(kept.intervals) < len(everything.intervals)
    assert dropped > 0
