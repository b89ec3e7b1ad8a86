"""Optimizers with their state: each gives the update of a tensor from its gradient.

With ``g' = g + weight_decay * w`` (L2 decay on weights and biases alike):

* sgd: ``dw = -lr g'``;
* momentum: ``v = momentum v + g'``, ``dw = -lr v`` (no dampening; v starts at 0);
* adam: ``m = b1 m + (1 - b1) g'``, ``v = b2 v + (1 - b2) g'^2``,
  ``dw = -lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`` at update ``t`` = 1, 2, ...

The update is returned, not applied: the digital weights add it, an AIMC mode turns it
into pulses (:mod:`~desim.training.functional.analog`).
"""

from __future__ import annotations

import numpy as np

from desim.training.options import TrainOptions

#: Adam's decay rates and denominator offset: Kingma & Ba, ICLR 2015, Algorithm 1 defaults
ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-8


class Optimizer:
    """The optimizer of ``options`` (sgd, momentum or adam) and its per-tensor state."""

    def __init__(self, options: TrainOptions):
        self.kind = options.optimizer
        self.lr = options.lr
        self.momentum = options.momentum
        self.weight_decay = options.weight_decay
        self.state: dict[str, list[np.ndarray]] = {}
        self.updates: dict[str, int] = {}

    def step(self, key: str, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The update of tensor ``key`` (values ``w``, gradient ``g``); advances its state."""
        if self.weight_decay:
            g = g + np.float32(self.weight_decay) * w
        if self.kind == "sgd":
            return (-self.lr * g).astype(np.float32)
        t = self.updates[key] = self.updates.get(key, 0) + 1
        if self.kind == "momentum":
            (v,) = self.state.setdefault(key, [np.zeros_like(g, np.float32)])
            v *= np.float32(self.momentum)
            v += g
            return (-self.lr * v).astype(np.float32)
        m, v = self.state.setdefault(key, [np.zeros_like(g, np.float32),
                                           np.zeros_like(g, np.float32)])
        m *= np.float32(ADAM_B1)
        m += np.float32(1 - ADAM_B1) * g
        v *= np.float32(ADAM_B2)
        v += np.float32(1 - ADAM_B2) * g * g
        m_hat = m / (1 - ADAM_B1**t)
        v_hat = v / (1 - ADAM_B2**t)
        return (-self.lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)).astype(np.float32)
