"""Shared fixtures: a fresh Sim, and the reference folder beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desim.kernel import Clock, Sim

SHARED = Path(os.environ.get("DESIM_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


@pytest.fixture
def sim() -> Sim:
    """A fresh simulation with tracing on."""
    from desim.trace.recorder import Recorder

    return Sim(seed=1, tracer=Recorder())


@pytest.fixture
def clk() -> Clock:
    """A 1 GHz clock: one cycle is 1000 ps."""
    return Clock("main", 1_000_000_000)


@pytest.fixture
def shared_dir() -> Path:
    """The reference material in ../shared; tests using it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"reference folder {SHARED} is absent (set DESIM_SHARED to its path)")
    return SHARED


@pytest.fixture
def reference_interpreter(shared_dir):
    """A factory: the TFLite reference interpreter (ai-edge-litert, reference kernels,
    every tensor kept) for one MLPerf Tiny model; skips when either is absent."""
    litert = pytest.importorskip("ai_edge_litert.interpreter",
                                 reason="ai-edge-litert (the TFLite interpreter) is not installed")

    def make(model: str):
        path = shared_dir / "models" / "mlperf_tiny" / f"{model}.tflite"
        if not path.is_file():
            pytest.skip(f"{path} is absent")
        interp = litert.Interpreter(
            str(path), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=True)
        interp.allocate_tensors()
        return path, interp

    return make
