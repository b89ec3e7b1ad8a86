"""pytest support: regression-test your own platforms and timing models against baselines.

Installed with desim, this module is a pytest plugin (entry point ``desim`` in the
``pytest11`` group), so the ``desim_regress`` fixture is available in any test suite::

    def test_my_soc_timing(desim_regress):
        desim_regress.run("platforms/my_soc.py", "resnet8", overrides={"cluster.n_cores": "16"})

The first run writes ``baselines/<test module>/<case>.json`` beside the test file and fails,
asking you to review and commit it; later runs re-simulate and fail with a table of the
figures that moved (``desim regress check`` reads the same files). After an intended model
change, re-record with ``pytest --desim-update-baselines``. ``--desim-tolerance 2%`` (or a
``tolerance=`` argument) allows relative changes.

Outside the fixture, :func:`assert_matches_baseline` compares any run result or summary
document with a baseline file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from desim.errors import DesimError
from desim.regress.baseline import (
    Case,
    CaseResult,
    baseline_doc,
    compare,
    format_deltas,
    load_baseline,
    overrides_of,
    parse_tolerance,
    write_baseline,
)


def _fraction(tolerance: float | str) -> float:
    """A tolerance given as a fraction (0.02) or as text in percent ("2%")."""
    return parse_tolerance(tolerance) if isinstance(tolerance, str) else float(tolerance)


def _summary(result: Any) -> dict[str, Any]:
    return result.summary if hasattr(result, "summary") else dict(result)


def _case_of(summary: Mapping[str, Any]) -> Case:
    """The case a summary came from; overrides are recovered from its resolved spec when
    the platform is a built-in name."""
    platform = summary["platform"]["name"]
    try:
        overrides = overrides_of(platform, summary["platform"]["params"])
    except DesimError:
        overrides = {}
    return Case.make(platform, summary["workload"]["name"], summary.get("seed", 0), overrides)


def assert_matches_baseline(result: Any, path: str | os.PathLike[str],
                            tolerance: float | str = 0.0, update: bool = False,
                            case: Case | None = None) -> None:
    """Compare a run (a ``RunResult`` or a summary document) with the baseline at ``path``.

    ``tolerance`` is a fraction (0.02) or percent text ("2%"). A missing baseline is
    written and the assertion fails, so that a new baseline is always looked at before
    it is trusted; with ``update=True`` the baseline is (re)written and the assertion
    passes. A mismatch raises AssertionError with the table of deltas.
    """
    summary = _summary(result)
    target = Path(path)
    doc = baseline_doc(case or _case_of(summary), summary)
    if update or not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_baseline(target, doc)
        if not update:
            raise AssertionError(f"no baseline at {target}: recorded one from this run; "
                                 "review it, commit it and run the test again")
        return
    frac = _fraction(tolerance)
    old_case, old = load_baseline(target)
    res = CaseResult(old_case, target, compare(old["metrics"], doc["metrics"], frac))
    if not res.ok:
        raise AssertionError(f"{target} does not match this run:\n"
                             + format_deltas([res], frac))


class DesimRegress:
    """The ``desim_regress`` fixture: run cases and check them against baselines kept in
    ``folder`` (``baselines/<test module>/`` beside the test file)."""

    def __init__(self, folder: Path, tolerance: float | str = 0.0, update: bool = False):
        self.folder, self.tolerance, self.update = folder, tolerance, update

    def path(self, case: Case, name: str | None = None) -> Path:
        """Baseline file of ``case`` (or of ``name``)."""
        return self.folder / (f"{name}.json" if name else case.file_name)

    def run(self, platform: str, workload: str, seed: int = 0,
            overrides: Mapping[str, Any] | None = None, tolerance: float | str | None = None,
            name: str | None = None) -> dict[str, Any]:
        """Simulate a case (no trace), check it against its baseline, return its summary."""
        from desim.driver import simulate

        summary = simulate(platform, workload, seed=seed, overrides=dict(overrides or {}),
                           trace=False).summary
        case = Case.make(platform, workload, seed, overrides, self.folder)
        self.check(summary, tolerance=tolerance, name=name, case=case)
        return summary

    def check(self, result: Any, tolerance: float | str | None = None, name: str | None = None,
              case: Case | None = None) -> None:
        """Check a run you made yourself (a ``RunResult`` or summary) against its baseline."""
        summary = _summary(result)
        case = case or _case_of(summary)
        assert_matches_baseline(summary, self.path(case, name),
                                self.tolerance if tolerance is None else tolerance,
                                self.update, case)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("desim", "desim timing baselines")
    group.addoption("--desim-update-baselines", action="store_true", default=False,
                    help="re-record the baselines that desim_regress checks")
    group.addoption("--desim-tolerance", default="0", metavar="PCT",
                    help="allowed relative change for desim_regress, in percent (default 0)")


@pytest.fixture
def desim_regress(request: pytest.FixtureRequest) -> DesimRegress:
    """Run desim cases and check them against baselines beside the test file."""
    config = request.config
    folder = Path(request.path).parent / "baselines" / Path(request.path).stem
    return DesimRegress(folder, config.getoption("--desim-tolerance"),
                        config.getoption("--desim-update-baselines"))
