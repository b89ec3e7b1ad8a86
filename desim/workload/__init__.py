"""Workloads: what a platform runs, by name."""

from __future__ import annotations

import difflib
from typing import Any

from desim.errors import SpecError
from desim.workload.synthetic import SYNTHETIC

DEFAULT_WORKLOAD = "tiles"


def workload_names() -> list[str]:
    """Names of the built-in workloads."""
    return sorted(SYNTHETIC)


def load_workload(name: str) -> Any:
    """The workload called ``name``; an unknown name lists the valid ones."""
    if name in SYNTHETIC:
        return SYNTHETIC[name]
    names = workload_names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise SpecError(f"unknown workload '{name}': {hint}available: {', '.join(names)}")
