"""desim.testing: the desim_regress fixture in a user's own suite (through the pytest11
entry point), and assert_matches_baseline on a run result."""

import json

import pytest

from desim.cli import main
from desim.driver import simulate
from desim.testing import assert_matches_baseline

pytest_plugins = ["pytester"]

USER_TEST = """
def test_my_soc(desim_regress):
    summary = desim_regress.run("stream_soc", "tiles_membound",
                                overrides={"engine.setup_cycles": "30"})
    assert summary["workload"]["name"] == "tiles_membound"
"""


def _pytest(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)


def test_fixture_records_checks_and_updates(pytester):
    """First run: records and fails; second: passes; after the baseline is made 10% faster
    than the model: fails with the table, passes at 11%; --desim-update-baselines
    re-records; and 'desim regress check' re-runs what the fixture wrote."""
    pytester.makepyfile(test_user=USER_TEST)
    first = _pytest(pytester)
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(["*no baseline at*stream_soc__tiles_membound__*.json*"])
    (path,) = (pytester.path / "baselines" / "test_user").glob("*.json")

    _pytest(pytester).assert_outcomes(passed=1)

    doc = json.loads(path.read_text())
    doc["metrics"]["cycles"] = doc["metrics"]["cycles"] / 1.1
    path.write_text(json.dumps(doc))
    slow = _pytest(pytester)
    slow.assert_outcomes(failed=1)
    slow.stdout.fnmatch_lines(["*stream_soc/tiles_membound engine.setup_cycles=30*total*"
                               "cycles*+10.00%*FAIL*"])
    _pytest(pytester, "--desim-tolerance", "11%").assert_outcomes(passed=1)
    _pytest(pytester, "--desim-update-baselines").assert_outcomes(passed=1)
    assert main(["regress", "check", str(path.parent)]) == 0


def test_assert_matches_baseline_on_a_run_result(tmp_path):
    """The case (with its override) is recovered from the result's resolved spec."""
    result = simulate("stream_soc", "tiles_membound", overrides={"dma.setup_cycles": "20"},
                      trace=False)
    path = tmp_path / "b.json"
    with pytest.raises(AssertionError, match="recorded one from this run"):
        assert_matches_baseline(result, path)
    assert json.loads(path.read_text())["case"]["overrides"] == {"dma.setup_cycles": "20"}
    assert_matches_baseline(result, path)
    other = simulate("stream_soc", "tiles_membound", trace=False)
    with pytest.raises(AssertionError, match="does not match this run") as exc:
        assert_matches_baseline(other, path, tolerance="0.1%")
    assert "FAIL" in str(exc.value)
    assert_matches_baseline(other, path, update=True)
    assert_matches_baseline(other.summary, path, tolerance=0.0)
