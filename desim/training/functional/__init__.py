"""Functional training: real float training steps of a graph, digital or on AIMC devices.

``train_functional(graph, options, steps)`` trains the layers ``options`` selects on a
generated task (or given data, :func:`load_data`) and reports the losses, the held-out
metric and, for AIMC modes, the gap to digital training and the devices' write pulses.
Importing this package does not load numba; the jitted loops load it when they first run.
"""

from desim.training.functional.analog import LayerPulses
from desim.training.functional.data import load_data
from desim.training.functional.train import FunctionalTraining, train_functional

__all__ = ["FunctionalTraining", "LayerPulses", "load_data", "train_functional"]
