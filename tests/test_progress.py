"""Progress of long runs: per layer, on a terminal only, cleared when done."""

from __future__ import annotations

import io

import desim
from desim.cli import main
from desim.cli.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_simulate_reports_each_layer():
    calls = []
    s = desim.simulate("pulp_cluster", "dscnn",
                       progress=lambda sim, done, total: calls.append((done, total, sim.now)))
    total = len(s.summary["layers"])
    assert [c[:2] for c in calls] == [(k, total) for k in range(1, total + 1)]
    assert [c[2] for c in calls] == sorted(c[2] for c in calls)
    assert calls[-1][2] == s.summary["total_ps"]


def test_progress_line_on_a_terminal_is_rewritten_and_cleared():
    out = _Tty()
    with Progress(out, delay_s=0, interval_s=0) as progress:
        desim.simulate("pulp_cluster", "autoencoder", progress=progress)
        shown = out.getvalue()
    assert shown.startswith("\rdesim: layer 1/") and "simulated" in shown
    assert "events/s" in shown and "\n" not in shown
    assert out.getvalue().endswith("\r")


def test_progress_is_quiet_when_not_a_terminal():
    out = io.StringIO()
    with Progress(out, delay_s=0, interval_s=0) as progress:
        desim.simulate("pulp_cluster", "autoencoder", progress=progress)
    assert out.getvalue() == ""


def test_run_reports_the_time_spent_writing_outputs(tmp_path, capsys):
    assert main(["run", "pulp_cluster", "-w", "autoencoder", "-o", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "outputs   written in" in out and "(trace and timeline)" in out
    assert "desim: layer" not in err
