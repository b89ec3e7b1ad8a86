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
