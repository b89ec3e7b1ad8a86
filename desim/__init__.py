"""desim: a cycle-approximate discrete-event simulator of TinyML systems-on-chip.

``desim.simulate(platform, workload, ...)`` runs a workload and returns a
:class:`~desim.result.RunResult`; both load on first use, so ``import desim`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["RunResult", "simulate"]


def __getattr__(name: str) -> Any:
    if name == "simulate":
        from desim.driver import simulate

        return simulate
    if name == "RunResult":
        from desim.result import RunResult

        return RunResult
    raise AttributeError(f"module 'desim' has no attribute '{name}'")
