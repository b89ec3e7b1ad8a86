"""MobileNetV1 0.25x for visual wake words (MLPerf Tiny), int8, 96x96x3 input, 2 classes.

Source: mlcommons/tiny ``benchmark/training/visual_wake_words/vww_model.py``,
``mobilenet_v1()`` with alpha 0.25 (the v1.x reference ``vww_96_int8.tflite``): a 3x3
stride-2 conv of 8 filters, 13 depthwise-separable blocks, global average pool, dense.
210,850 params, 7,489,664 MACs.
"""

from desim.workload.builder import GraphBuilder
from desim.workload.graph import Graph

#: (pointwise filters, depthwise stride) of the 13 depthwise-separable blocks
BLOCKS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1),
          (128, 1), (128, 1), (128, 1), (256, 2), (256, 1))


def build() -> Graph:
    b = GraphBuilder("mobilenetv1_vww", source="zoo:mobilenetv1_vww")
    x = b.input((1, 96, 96, 3))
    x = b.conv2d(x, 8, 3, stride=2, activation="relu")
    for filters, stride in BLOCKS:
        x = b.depthwise_conv2d(x, 3, stride=stride, activation="relu")
        x = b.conv2d(x, filters, 1, activation="relu")
    x = b.global_avg_pool(x)
    x = b.flatten(x)
    x = b.fully_connected(x, 2)
    return b.build([b.softmax(x)])
