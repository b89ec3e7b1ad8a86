"""ResNet-8 for CIFAR-10 (MLPerf Tiny image classification), int8, 32x32x3 input.

Source: mlcommons/tiny ``benchmark/training/image_classification/keras_model.py``,
``resnet_v1_eembc()`` with 16/32/64 filters (the v1.x reference model
``pretrainedResnet_quant.tflite``). BatchNorm folded, ReLU fused; the conv feeding each
residual add is linear and the add carries the ReLU; stages 2 and 3 have a 1x1 stride-2
shortcut conv. Op order as in the reference .tflite. 77,706 params, 12,501,632 MACs.
"""

from desim.workload.builder import GraphBuilder
from desim.workload.graph import Graph


def build() -> Graph:
    b = GraphBuilder("resnet8", source="zoo:resnet8")
    x = b.input((1, 32, 32, 3))
    x = b.conv2d(x, 16, 3, activation="relu")
    y = b.conv2d(x, 16, 3, activation="relu")
    y = b.conv2d(y, 16, 3)
    x = b.add(x, y, activation="relu")
    for filters in (32, 64):
        y = b.conv2d(x, filters, 3, stride=2, activation="relu")
        y = b.conv2d(y, filters, 3)
        shortcut = b.conv2d(x, filters, 1, stride=2)
        x = b.add(shortcut, y, activation="relu")
    x = b.global_avg_pool(x)
    x = b.flatten(x)
    x = b.fully_connected(x, 10)
    return b.build([b.softmax(x)])
