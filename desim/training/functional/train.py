"""Functional training: real float steps (forward, loss, backward, update) on a task.

One step takes ``batch`` samples (epochs of a seeded shuffle of the training samples),
runs the forward, the loss averaged over them (so the gradients are the batch's mean:
gradient accumulation), the backward and one optimizer update of every trained layer
(an AIMC mode updates its device layers as :mod:`~desim.training.functional.analog`
says). The held-out samples are evaluated before and after. An AIMC run is repeated
digitally (same weights, data, sample order and seed) to report the gap between them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from desim.errors import SpecError
from desim.hw.analog_device import DeviceSpec
from desim.training.functional.analog import Crossbars, LayerPulses
from desim.training.functional.data import Task, check_data, split, synthetic_task
from desim.training.functional.losses import Loss
from desim.training.functional.model import FloatModel, Values
from desim.training.functional.ops import OpGrads
from desim.training.functional.optim import Optimizer
from desim.training.options import TrainOptions
from desim.workload.graph import Graph

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FunctionalTraining:
    """What a functional training run learned (and, with AIMC, what the devices took)."""

    workload: str
    task: str
    loss: str
    aimc_training: str | None
    trained_layers: tuple[str, ...]
    steps: int
    batch: int
    #: training loss of each step's batch, before its update
    losses: list[float]
    #: held-out loss before and after training
    test_loss_before: float
    test_loss: float
    #: held-out accuracy before and after training (classification; None otherwise)
    accuracy_before: float | None
    accuracy: float | None
    #: the same run trained digitally (AIMC modes)
    digital: FunctionalTraining | None = None
    #: write pulses of each device layer (AIMC modes)
    pulses: tuple[LayerPulses, ...] = ()
    #: forward-only: crossbar reprogrammings during the run
    reprogrammings: int = 0

    @property
    def metric_name(self) -> str:
        return "loss" if self.accuracy is None else "accuracy"

    @property
    def metric(self) -> float:
        """The final held-out metric: accuracy (classification) or loss (regression)."""
        return self.test_loss if self.accuracy is None else self.accuracy

    @property
    def loss_gap(self) -> float | None:
        """Held-out loss above the digital run's (AIMC modes)."""
        return None if self.digital is None else self.test_loss - self.digital.test_loss

    @property
    def accuracy_gap(self) -> float | None:
        """Held-out accuracy below the digital run's (AIMC classification)."""
        if self.digital is None or self.accuracy is None or self.digital.accuracy is None:
            return None
        return self.digital.accuracy - self.accuracy

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (per-cell pulse arrays left out)."""
        doc: dict[str, Any] = {
            "workload": self.workload, "task": self.task, "loss": self.loss,
            "aimc_training": self.aimc_training, "trained_layers": list(self.trained_layers),
            "steps": self.steps, "batch": self.batch, "losses": list(self.losses),
            "test_loss_before": self.test_loss_before, "test_loss": self.test_loss,
            "accuracy_before": self.accuracy_before, "accuracy": self.accuracy,
            "metric": self.metric_name}
        if self.digital is not None:
            doc.update(digital=self.digital.to_dict(), loss_gap=self.loss_gap,
                       accuracy_gap=self.accuracy_gap, reprogrammings=self.reprogrammings,
                       pulses={p.name: p.to_dict() for p in self.pulses})
        return doc


def _batches(n: int, batch: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Sample indices of each step: consecutive epochs of seeded shuffles."""
    epochs = -(-steps * batch // n)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    return order[:steps * batch].reshape(steps, batch)


def _evaluate(model: FloatModel, loss: Loss, features: Values, y: np.ndarray,
              weights: dict[str, np.ndarray]) -> tuple[float, float | None]:
    """Held-out mean loss and accuracy (None for regression)."""
    losses, hits, step = [], 0, model.chunk
    for i in range(0, len(y), step):
        values = model.forward({k: v[i:i + step] for k, v in features.items()}, weights)
        losses.append(loss.per_sample(values, y[i:i + step]))
        if loss.classification:
            hits += int((loss.predictions(values) == y[i:i + step]).sum())
    return float(np.concatenate(losses).mean()), (hits / len(y) if loss.classification
                                                  else None)


def train_step(model: FloatModel, loss: Loss, features: Values, targets: np.ndarray,
               opt: Optimizer, crossbars: Crossbars | None = None) -> float:
    """One training step on a batch (``features`` of :meth:`FloatModel.features`):
    forward, loss, backward, update of every trained layer; returns the batch loss."""
    forward_w = crossbars.forward_weights() if crossbars else {}
    values = model.forward(features, forward_w)
    value, seeds = loss.value_and_grad(values, targets)
    backward_w = crossbars.backward_weights() if crossbars else {}
    rows = crossbars.cells if crossbars and crossbars.mode == "analog-sgd" else ()
    _update(model, model.backward(values, seeds, backward_w, rows), opt, crossbars)
    return value


def _update(model: FloatModel, grads: dict[str, OpGrads], opt: Optimizer,
            crossbars: Crossbars | None) -> None:
    """One optimizer update of every trained layer (device layers as their mode says)."""
    for name, g in grads.items():
        layer = model.layers[name]
        assert g.weights is not None
        if layer.b is not None and g.bias is not None:
            layer.b = model.round(layer.b + opt.step(f"{name}/bias", layer.b, g.bias))
        if crossbars is None or name not in crossbars.cells:
            layer.w = model.round(layer.w + opt.step(name, layer.w, g.weights))
        elif crossbars.mode == "analog-sgd":
            assert g.rows is not None
            crossbars.analog_sgd(layer, g.rows)
        elif crossbars.mode == "mixed-precision":
            crossbars.mixed(layer, opt.step(name, layer.w, g.weights))
        else:  # forward-only: the digital master weights
            layer.w = model.round(layer.w + opt.step(name, layer.w, g.weights))
    if crossbars is not None:
        crossbars.end_step(model.layers)


@dataclass(frozen=True)
class _Run:
    """What every run of one call shares: task, features, seeds, progress."""

    graph: Graph
    loss: Loss
    task: Task
    train: Values
    test: Values
    steps: int
    seed: int
    device: DeviceSpec
    progress: Progress | None
    total: int


def _train(run: _Run, options: TrainOptions, done: int) -> FunctionalTraining:
    model = FloatModel(run.graph, options, run.seed)
    order_seed, device_seed = np.random.SeedSequence(run.seed).spawn(3)[1:]
    crossbars = None
    if options.aimc_training is not None:
        crossbars = Crossbars(options.aimc_training, run.device, options, model,
                              np.random.default_rng(device_seed))
    forward_w = crossbars.forward_weights if crossbars else dict
    opt = Optimizer(options)
    y_train = run.task.y_train
    loss_before, acc_before = _evaluate(model, run.loss, run.test, run.task.y_test,
                                        forward_w())
    losses = []
    for step, idx in enumerate(_batches(len(y_train), options.batch, run.steps,
                                        np.random.default_rng(order_seed))):
        value = train_step(model, run.loss, {k: v[idx] for k, v in run.train.items()},
                           y_train[idx], opt, crossbars)
        if not np.isfinite(value):
            raise SpecError(f"functional training diverged at step {step} (loss {value}); "
                            f"lower --lr (now {options.lr})")
        losses.append(value)
        if run.progress is not None:
            run.progress(done + step + 1, run.total)
    loss_after, acc_after = _evaluate(model, run.loss, run.test, run.task.y_test,
                                      forward_w())
    return FunctionalTraining(
        run.graph.name, run.task.description, run.loss.name, options.aimc_training,
        model.trained, run.steps, options.batch, losses, loss_before, loss_after,
        acc_before, acc_after, pulses=crossbars.report() if crossbars else (),
        reprogrammings=crossbars.reprogrammings if crossbars else 0)


def train_functional(graph: Graph, options: TrainOptions, steps: int,
                     data: tuple[Any, Any] | None = None, seed: int = 0,
                     device: DeviceSpec | None = None,
                     progress: Progress | None = None) -> FunctionalTraining:
    """Train ``graph`` for ``steps`` steps on ``data`` (inputs, targets; None: a generated
    task), deterministic from ``seed``; AIMC modes on ``device`` (default: PCM) and
    against digital training. ``progress(done, total)`` is called after each step."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 10**7:
        raise SpecError(f"--steps must be an integer in [1, 10000000], got {steps!r}")
    model = FloatModel(graph, options, seed)
    loss = Loss.of(model, options.loss_of(graph))
    data_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[0])
    if data is None:
        task = synthetic_task(model, loss, data_rng)
    else:
        task = split(*check_data(*data, model, loss), data_rng)
    runs = 1 if options.aimc_training is None else 2
    run = _Run(model.graph, loss, task, model.features(task.x_train),
               model.features(task.x_test), steps, seed, device or DeviceSpec(), progress,
               runs * steps)
    result = _train(run, options, 0)
    if options.aimc_training is None:
        return result
    digital = _train(run, dataclasses.replace(options, aimc_training=None), steps)
    return dataclasses.replace(result, digital=digital)
