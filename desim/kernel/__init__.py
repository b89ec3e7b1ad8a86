"""The event kernel: simulation context, clock domains and the component base."""

from desim.kernel.clock import Clock
from desim.kernel.component import Component
from desim.kernel.sim import RunStats, Sim, timer

__all__ = ["Clock", "Component", "RunStats", "Sim", "timer"]
