"""numba is loaded only by the jitted operators, the compiled DRAM engine (built at a
DRAM controller's first access), the compiled replay of transfers booked together (at
the first such group), the DMA burst runs (at a channel's first DRAM copy) and the trace
writer's formatting loop (at the first trace written), so timing-only runs start without
it."""

from __future__ import annotations

import subprocess
import sys

SKIPPED = ("desim.functional.kernels.int8", "desim.functional.kernels.jit", "desim.hw.dram.jit",
           "desim.hw.dram.fast", "desim.hw.sharing_jit", "desim.hw.burst_run",
           "desim.hw.burst_run_jit", "desim.trace.chrome_jit", "desim.__main__")

PROBE = f"""
import importlib, pkgutil, sys
import desim
names = [m.name for m in pkgutil.walk_packages(desim.__path__, "desim.")
         if m.name not in {SKIPPED!r}]
for name in names:
    importlib.import_module(name)
loaded = "numba" in sys.modules
import desim.functional.kernels
desim.functional.kernels.conv2d
print("probe", len(names), loaded, "numba" in sys.modules)
"""


def test_only_the_jitted_operators_import_numba():
    """Every other desim module imports without numba; touching an operator loads it."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1].split()
    count, before, after = int(out[1]), out[2], out[3]
    assert count >= 5  # kernels.quant, .geometry, .reference, .aimc and the package itself
    assert (before, after) == ("False", "True")
