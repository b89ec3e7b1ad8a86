"""The training losses, averaged over a batch, and their gradients.

* ``mse``: ``mean((y - t)^2)`` over every output element of every sample;
  gradient ``2 (y - t) / size``.
* ``cross_entropy``: ``mean(-log p[label])`` over the samples. When the graph ends in a
  softmax ``p = softmax(beta * z)`` (possibly reshaped, quantised or dequantised after)
  the loss is computed from its input ``z`` (log-sum-exp, stable) and the gradient
  enters there, ``beta (p - onehot) / N``, the softmax fused into the loss; otherwise the
  output is taken as logits (``beta = 1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from desim.errors import SpecError
from desim.training.functional.model import FloatModel, Values
from desim.workload.op import OpKind

#: ops between a softmax and the output that leave the probabilities as they are
_PASS_THROUGH = (OpKind.RESHAPE, OpKind.QUANTIZE, OpKind.DEQUANTIZE)


@dataclass(frozen=True)
class Loss:
    """The loss of a model: its name, the tensor its gradient enters and the softmax
    temperature in front of it (cross-entropy)."""

    name: str
    tensor: str
    beta: float = 1.0

    @classmethod
    def of(cls, model: FloatModel, name: str) -> Loss:
        """The loss ``name`` (mse or cross_entropy) on ``model``'s output."""
        out = model.graph.tensor(model.output)
        if name == "mse":
            return cls(name, out.name)
        if math.prod(out.shape[1:-1]) != 1:
            raise SpecError(f"--loss cross_entropy needs one row of class scores per sample; "
                            f"output {out.name} of {model.graph.name} has shape {out.shape} "
                            "(use --loss mse)")
        last = model.graph.producer(out.name)
        while last is not None and last.kind in _PASS_THROUGH:
            last = model.graph.producer(last.input.name)
        if last is not None and last.kind is OpKind.SOFTMAX:
            return cls(name, last.input.name, last.beta)
        return cls(name, out.name)

    @property
    def classification(self) -> bool:
        return self.name == "cross_entropy"

    def _logits(self, values: Values) -> np.ndarray:
        z = values[self.tensor]
        return (self.beta * z.reshape(len(z), -1)).astype(np.float64)

    def per_sample(self, values: Values, targets: np.ndarray) -> np.ndarray:
        """Each sample's loss (float64)."""
        if not self.classification:
            y = values[self.tensor].astype(np.float64)
            diff = y.reshape(len(y), -1) - targets.reshape(len(y), -1)
            return (diff**2).mean(axis=1)
        z = self._logits(values)
        top = z.max(axis=1)
        lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
        return lse - z[np.arange(len(z)), targets]

    def predictions(self, values: Values) -> np.ndarray:
        """The predicted class of each sample (classification)."""
        return self._logits(values).argmax(axis=1)

    def value_and_grad(self, values: Values, targets: np.ndarray) -> tuple[float, Values]:
        """The batch loss and its gradient on :attr:`tensor`."""
        loss = float(self.per_sample(values, targets).mean())
        y = values[self.tensor]
        n = len(y)
        if self.classification:
            z = self._logits(values)
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(n), targets] -= 1.0
            grad = self.beta * p / n
        else:
            grad = 2.0 * (y.astype(np.float64) - targets.reshape(y.shape)) / y.size
        return loss, {self.tensor: grad.reshape(y.shape).astype(np.float32)}
