"""Errors a user can act on: each message names the field at fault and the fix."""


class DesimError(Exception):
    """Base of every error desim reports to a user as one line (CLI exit code 2)."""


class SpecError(DesimError, ValueError):
    """A platform, workload or override value is invalid."""


class SimulationStalled(DesimError, RuntimeError):
    """No event is left but processes still wait: the model deadlocked."""

    def __init__(self, now_ps: int, waiting: list[tuple[str, str]]):
        self.now_ps = now_ps
        self.waiting = waiting
        lines = "\n".join(f"  {proc} waits on {what}" for proc, what in waiting)
        super().__init__(
            f"simulation stalled at {now_ps} ps: no event is pending but "
            f"{len(waiting)} process(es) still wait:\n{lines}"
        )
