"""Every input surface, fuzzed: generated bad input on the CLI and the API keeps the
contract of tests/fuzz/contract.py (exit code 2 or a DesimError, one error line naming the
field or file and the fix, no traceback, no hang, nothing left behind, no other file
touched).

Seeded (derandomized), so a failure reproduces: hypothesis prints the draws of the failing
case. ``DESIM_FUZZ_SCALE=4`` runs four times as many cases; ``benchmarks/fuzz.py`` runs a
long campaign from another seed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .surfaces import SURFACES

#: cases per surface in CI: a few hundred where a case takes milliseconds, fewer where it
#: starts worker processes (a resumed sweep) or draws a picture
EXAMPLES = {name: 300 for name in SURFACES} | {"sweep_dir": 100, "trace_dir": 200,
                                               "sweep_file": 200}
SCALE = float(os.environ.get("DESIM_FUZZ_SCALE", "1"))


@pytest.mark.parametrize("name", list(SURFACES))
def test_surface_keeps_the_contract(name: str) -> None:
    surface = SURFACES[name]

    @settings(max_examples=max(1, int(EXAMPLES[name] * SCALE)), derandomize=True,
              database=None, deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def case(data: st.DataObject) -> None:
        root = Path(tempfile.mkdtemp(prefix=f"desim-fuzz-{name}-"))
        try:
            bad = surface(data, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        assert not bad, "\n".join(bad)

    case()
