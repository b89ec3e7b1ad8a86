"""Fully-connected autoencoder for anomaly detection (MLPerf Tiny, ToyCar), int8.

Source: mlcommons/tiny ``benchmark/training/anomaly_detection/keras_model.py``,
``get_model(inputDim)`` with inputDim = 128 mels x 5 frames = 640 (``baseline.yaml``; the
v1.x reference ``ad01_int8.tflite``): 640-128-128-128-128-8-128-128-128-128-640, ReLU on
every layer but the last. 265,864 params, 264,192 MACs.
"""

from desim.workload.builder import GraphBuilder
from desim.workload.graph import Graph

LAYERS = (128, 128, 128, 128, 8, 128, 128, 128, 128)


def build() -> Graph:
    b = GraphBuilder("autoencoder", source="zoo:autoencoder")
    x = b.input((1, 640))
    for units in LAYERS:
        x = b.fully_connected(x, units, activation="relu")
    return b.build([b.fully_connected(x, 640)])
