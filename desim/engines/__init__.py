"""Compute engines as plug-ins: the interface the stack consumes, and the built-in engines
(the cluster cores, the AIMC crossbars)."""

from desim.engines.base import Engine, EngineMapping, L1Needs

__all__ = ["Engine", "EngineMapping", "L1Needs"]
