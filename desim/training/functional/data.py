"""Training data: a user's arrays checked against the workload, or a small learnable task.

Inputs are real values (not int8 codes) of shape ``N x`` the graph input's shape without
its batch axis. Targets are class indices ``(N,)`` for cross-entropy and arrays of the
output's shape per sample for MSE (a reconstruction, output shaped as the input, may
omit them: the targets are the inputs). A fifth of the samples (at least one), chosen
by the seed, is held out to measure the trained model.

Generated tasks (deterministic from the seed):

* classification: one unit-variance template per class (the first ``MAX_CLASSES``
  classes of a wider output); a sample is its class' template plus white Gaussian noise
  of std ``NOISE``. An image-like input (``H x W x C``) gets gratings,
  ``sqrt(2) cos(2 pi (ky h / H + kx w / W) + phase_c)``, each class its own spatial
  frequency (and each channel its own phase), so that a network pooling over space
  still tells the classes apart; other inputs get Gaussian templates;
* reconstruction: signals of rank ``RANK`` (``z @ U``, both Gaussian) to reproduce;
* other regression: the outputs of the same network with each trained layer's weights
  perturbed by ``TEACHER_SPREAD`` of their standard deviation (a target the trained
  layers can reach).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desim.errors import SpecError
from desim.training.functional.losses import Loss
from desim.training.functional.model import FloatModel

#: generated samples for training and held out (assumption: enough to learn in seconds)
TRAIN_SAMPLES, TEST_SAMPLES = 256, 128
#: generated classification: classes used (the first ones of a wider output), so that
#: each has a dozen samples or more (assumption)
MAX_CLASSES = 16
#: generated classification: noise std, the templates' being 1 (assumption: the classes
#: stay separable after a random frozen backbone, so last-layer adaptation learns)
NOISE = 0.5
#: generated reconstruction: rank of the signals (below the autoencoder's 8-wide code)
RANK = 4
#: generated regression: weight perturbation of the teacher, in weight std (assumption)
TEACHER_SPREAD = 0.5
#: share of user samples held out
HELD_OUT = 0.2


@dataclass(frozen=True)
class Task:
    """Training and held-out samples with their targets, and what they are."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    description: str


def _shapes(model: FloatModel) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per-sample input and output shapes."""
    g = model.graph
    return g.inputs[0].shape[1:], g.tensor(model.output).shape[1:]


def _templates(classes: int, shape: tuple[int, ...], rng: np.random.Generator
               ) -> np.ndarray:
    """One unit-variance template per class (gratings for an ``H x W x C`` input)."""
    if len(shape) != 3:
        return rng.standard_normal((classes, *shape))
    h, w, c = shape
    grid = [(ky, kx) for ky in range(h // 4 + 1) for kx in range(w // 2 + 1)][1:]
    pick = rng.choice(len(grid), classes, replace=len(grid) < classes)
    rows = np.arange(h)[:, None, None] / h
    cols = np.arange(w)[None, :, None] / w
    return np.stack([np.sqrt(2) * np.cos(2 * np.pi * (grid[i][0] * rows + grid[i][1] * cols)
                                         + rng.uniform(0, 2 * np.pi, c))
                     for i in pick])


def synthetic_task(model: FloatModel, loss: Loss, rng: np.random.Generator) -> Task:
    """A small learnable task fitting ``model`` and ``loss``."""
    shape_in, shape_out = _shapes(model)
    n = TRAIN_SAMPLES + TEST_SAMPLES
    if loss.classification:
        classes = min(shape_out[-1], MAX_CLASSES)
        templates = _templates(classes, shape_in, rng)
        y = rng.permutation(np.arange(n) % classes)
        x = templates[y] + NOISE * rng.standard_normal((n, *shape_in))
        kind = "gratings" if len(shape_in) == 3 else "Gaussian templates"
        what = f"{classes} classes: {kind} plus white noise of std {NOISE}"
    elif shape_in == shape_out:
        size = math.prod(shape_in)
        rank = min(RANK, size)
        basis = rng.standard_normal((rank, size)) / math.sqrt(rank)
        x = (rng.standard_normal((n, rank)) @ basis).reshape(n, *shape_in)
        y = x
        what = f"reconstruction of rank-{rank} Gaussian signals"
    else:
        x = rng.standard_normal((n, *shape_in))
        teacher = {}
        for name in model.trained:
            w = model.layers[name].w
            teacher[name] = (w + TEACHER_SPREAD * w.std() * rng.standard_normal(w.shape)
                             ).astype(np.float32)
        y = model.forward(model.features(x), teacher)[model.output]
        what = (f"regression onto the network with its trained weights perturbed by "
                f"{TEACHER_SPREAD} std")
    x = x.astype(np.float32)
    y = y if loss.classification else y.astype(np.float32)
    return Task(x[:TRAIN_SAMPLES], y[:TRAIN_SAMPLES], x[TRAIN_SAMPLES:], y[TRAIN_SAMPLES:],
                what)


def _numeric(name: str, a: object) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise SpecError(f"data {name}: dtype {arr.dtype} is not numeric; give a float or "
                        "integer array (load .npz files with np.load(allow_pickle=False))")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        where = np.argwhere(~np.isfinite(arr))[0]
        raise SpecError(f"data {name}: NaN or infinite value at index {tuple(where)}; "
                        "remove or fix those samples")
    return arr


def check_data(x: object, y: object, model: FloatModel, loss: Loss
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as float32 inputs and targets of ``model`` (``y`` may be None for a
    reconstruction); a :class:`SpecError` names the array at fault and the fix."""
    shape_in, shape_out = _shapes(model)
    name = model.input
    xs = _numeric("x", x)
    if xs.shape[1:] != shape_in or xs.ndim != len(shape_in) + 1:
        raise SpecError(f"data x: shape {xs.shape} does not fit input {name} "
                        f"{model.graph.inputs[0].shape} of {model.graph.name}; give x of "
                        f"shape (N, {', '.join(map(str, shape_in))})")
    if len(xs) < 2:
        raise SpecError(f"data x: {len(xs)} sample(s); give at least 2 (a fifth is held out)")
    xs = xs.astype(np.float32)
    if y is None:
        if loss.classification or shape_in != shape_out:
            raise SpecError("data y: missing; give the class labels (cross-entropy) or the "
                            "targets (mse) as array y")
        return xs, xs
    ys = _numeric("y", y)
    if loss.classification:
        classes = shape_out[-1]
        if ys.dtype.kind not in "iu" or ys.shape != (len(xs),):
            raise SpecError(f"data y: cross-entropy needs {len(xs)} integer class labels, "
                            f"shape ({len(xs)},); got {ys.dtype} {ys.shape}")
        if ys.size and (ys.min() < 0 or ys.max() >= classes):
            raise SpecError(f"data y: labels must lie in [0, {classes - 1}] (the output's "
                            f"{classes} classes); got {ys.min()}..{ys.max()}")
        return xs, ys.astype(np.int64)
    if ys.shape != (len(xs), *shape_out):
        raise SpecError(f"data y: shape {ys.shape} does not fit output {model.output} of "
                        f"{model.graph.name}; give y of shape "
                        f"({len(xs)}, {', '.join(map(str, shape_out))})")
    return xs, ys.astype(np.float32)


def split(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Task:
    """The user's samples, a seeded :data:`HELD_OUT` share held out."""
    order = rng.permutation(len(x))
    test = max(1, int(len(x) * HELD_OUT))
    train, held = order[test:], order[:test]
    return Task(x[train], y[train], x[held], y[held], f"{len(x)} samples given")


def load_data(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays ``x`` and (if present) ``y`` of a ``.npz`` file (numeric only: no pickles)."""
    p = Path(path)
    fix = "save it with np.savez(FILE, x=inputs, y=labels_or_targets)"
    if not p.is_file():
        raise SpecError(f"--data {path}: no such file; {fix}")
    try:
        npz = np.load(p, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise SpecError(f"--data {path}: a single array, not a .npz archive; {fix}")
        with npz:
            if "x" not in npz.files:
                raise SpecError(f"--data {path}: no array 'x' (found: "
                                f"{', '.join(npz.files) or 'none'}); {fix}")
            return npz["x"], npz["y"] if "y" in npz.files else None
    except SpecError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise SpecError(f"--data {path}: cannot read it as numeric arrays ({e}); {fix}"
                        ) from None
