"""What a training step trains and how: the options of ``desim train``, checked once.

The defaults follow PULP-TrainLib's deployer (batch 1, FP32, SGD, every layer trained);
the AIMC modes follow aihwkit's update algorithms (see docs/training.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from desim.errors import SpecError
from desim.workload.graph import Graph
from desim.workload.op import WEIGHTED

DTYPES = {"fp32": 4, "fp16": 2, "bf16": 2}
OPTIMIZERS = ("sgd", "momentum", "adam")
#: optimizer state tensors per weight tensor
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}
LOSSES = ("auto", "mse", "cross_entropy")
AIMC_MODES = ("forward-only", "mixed-precision", "analog-sgd")
REPLAY_LEVELS = ("auto", "l2", "dram")


@dataclass(frozen=True)
class TrainOptions:
    """One training step's configuration (``desim train`` options)."""

    #: ``all``, ``last:N`` (the last N weighted layers) or comma-separated layer names
    trainable: str = "all"
    dtype: str = "fp32"
    optimizer: str = "sgd"
    #: ``auto``: cross-entropy when the graph ends in a softmax, else mean squared error
    loss: str = "auto"
    #: samples per weight update (gradients accumulate over them)
    batch: int = 1
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    #: latent-replay buffer, in samples of the first trained layer's input (0: none)
    replay: int = 0
    replay_level: str = "auto"
    #: None (digital training) or one of :data:`AIMC_MODES`
    aimc_training: str | None = None
    #: forward-only: steps between reprogrammings of the crossbars from the master weights
    reprogram_every: int = 1
    #: the crossbars read transposed (an input gradient as an MVM on the array)
    transposed_read: bool = False
    #: analog SGD: the longest pulse train of one update (aihwkit's ``desired_BL``)
    pulse_trains: int = 31
    #: pick the fastest matrix-multiply kernel per layer and phase
    autotune: bool = False

    def __post_init__(self) -> None:
        _choice("--dtype", self.dtype, tuple(DTYPES))
        _choice("--optimizer", self.optimizer, OPTIMIZERS)
        _choice("--loss", self.loss, LOSSES)
        _choice("--replay-level", self.replay_level, REPLAY_LEVELS)
        if self.aimc_training is not None:
            _choice("--aimc-training", self.aimc_training, AIMC_MODES)
        for name, value, low, high in (("--batch", self.batch, 1, 65536),
                                       ("--replay", self.replay, 0, 1_000_000),
                                       ("--reprogram-every", self.reprogram_every, 1, 10**9),
                                       ("--pulse-trains", self.pulse_trains, 1, 1024)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise SpecError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        for name, rate in (("--lr", self.lr), ("--momentum", self.momentum),
                           ("--weight-decay", self.weight_decay)):
            if not isinstance(rate, int | float) or not math.isfinite(rate) or rate < 0:
                raise SpecError(f"{name} must be a finite number >= 0, got {rate!r}")
        if self.aimc_training == "analog-sgd" and (self.optimizer != "sgd"
                                                   or self.weight_decay):
            raise SpecError(f"--aimc-training analog-sgd applies plain SGD in the array (its "
                            f"pulses are the update), got --optimizer {self.optimizer} with "
                            f"--weight-decay {self.weight_decay}; use --optimizer sgd with "
                            "--weight-decay 0, or mixed-precision, which takes any optimizer")
        if self.momentum >= 1:
            raise SpecError(f"--momentum must be below 1, got {self.momentum}")

    @property
    def elem_bytes(self) -> int:
        """Bytes per element of the training tensors."""
        return DTYPES[self.dtype]

    @property
    def state_tensors(self) -> int:
        """Optimizer state tensors kept per trained weight tensor."""
        return OPTIMIZER_STATE[self.optimizer]

    def trained_layers(self, graph: Graph) -> tuple[str, ...]:
        """Names of the weighted layers this step updates, in execution order."""
        weighted = [op.name for op in graph.ops if op.kind in WEIGHTED]
        if not weighted:
            raise SpecError(f"workload {graph.name} has no layer with weights to train")
        spec = self.trainable.strip()
        if spec == "all":
            return tuple(weighted)
        if spec.startswith("last:"):
            n = spec[5:]
            if not n.isdigit() or not 1 <= int(n) <= len(weighted):
                raise SpecError(f"--trainable {spec}: N must be an integer in [1, "
                                f"{len(weighted)}] (the workload's weighted layers)")
            return tuple(weighted[-int(n):])
        names = [s.strip() for s in spec.split(",") if s.strip()]
        unknown = [n for n in names if n not in weighted]
        if unknown or not names:
            missing = ", ".join(unknown) or repr(spec)
            raise SpecError(f"--trainable: no weighted layer named {missing}; use all, "
                            f"last:N or names among: {', '.join(weighted)}")
        return tuple(n for n in weighted if n in names)

    def loss_of(self, graph: Graph) -> str:
        """The loss this step minimises (``auto`` resolved)."""
        if self.loss != "auto":
            return self.loss
        return "cross_entropy" if graph.ops[-1].kind == "softmax" else "mse"


def _choice(flag: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SpecError(f"{flag} {value!r} is not supported; choose one of: "
                        f"{', '.join(choices)}")
