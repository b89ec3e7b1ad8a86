"""Same platform, workload, seed and desim version: byte-identical summary.json (apart
from the wall-clock ``sim`` block) and trace, across processes started in different
folders with different hash seeds (set and dict order must not leak into results)."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

#: cases run twice: the synthetic tile stream, and a DNN on the default platform
CASES = [("stream_soc", "tiles"), ("imc_cluster", "resnet8")]


def _run(cwd, platform, workload, hash_seed):
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    subprocess.run([sys.executable, "-m", "desim", "run", platform, "-w", workload,
                    "--seed", "7", "-o", "out"], cwd=cwd, env=env, check=True,
                   capture_output=True, text=True)
    text = (cwd / "out" / "summary.json").read_text()
    assert str(cwd) not in text  # no absolute path of the run folder
    summary = json.loads(text)
    assert list(summary)[-1] == "sim"  # the wall-clock block comes after every result
    wall = summary.pop("sim")
    body = json.dumps(summary, indent=2).encode()
    trace = (cwd / "out" / "trace.json.gz").read_bytes()
    return hashlib.sha256(body).hexdigest(), hashlib.sha256(trace).hexdigest(), wall


@pytest.mark.parametrize("platform,workload", CASES)
def test_two_processes_give_identical_results(tmp_path, platform, workload):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    sum_a, trace_a, wall_a = _run(a, platform, workload, 1)
    sum_b, trace_b, _ = _run(b, platform, workload, 2)
    assert sum_a == sum_b
    assert trace_a == trace_b
    assert set(wall_a) == {"events", "wall_s", "events_per_s"}



def test_runs_in_one_process_cost_the_same_events():
    """Events are part of the result: a run in one process (a sweep worker's) costs the
    same events after other runs as before them."""
    from desim.driver import simulate

    first = simulate("pulp_cluster", "resnet8").summary["sim"]["events"]
    for _ in range(3):
        simulate("imc_cluster", "resnet8")
        assert simulate("pulp_cluster", "resnet8").summary["sim"]["events"] == first


@pytest.mark.parametrize("platform", ["pulp_cluster", "imc_cluster"])
def test_tracing_leaves_the_results_unchanged(platform):
    """Traced or not, a run books its transfers alike (a booking's trace intervals end at a
    gap filled by another transfer and go on after it): every result and the events are
    the same."""
    from desim.driver import simulate

    untraced = simulate(platform, "resnet8").summary
    traced = simulate(platform, "resnet8", trace=True).summary
    assert traced.pop("sim")["events"] == untraced.pop("sim")["events"]
    assert traced == untraced
