"""DS-CNN for keyword spotting (MLPerf Tiny), int8, 49x10x1 MFCC input, 12 classes.

Source: mlcommons/tiny ``benchmark/training/keyword_spotting/keras_model.py``,
``get_model()`` branch ``ds_cnn`` (64 filters; the v1.x reference ``kws_ref_model.tflite``).
Input: 49 frames (1000 ms at 20 ms stride, 30 ms window) of 10 MFCCs. A 10x4 stride-2 conv,
four depthwise-separable blocks, global average pool, dense. 22,604 params,
2,656,768 MACs.
"""

from desim.workload.builder import GraphBuilder
from desim.workload.graph import Graph


def build() -> Graph:
    b = GraphBuilder("dscnn", source="zoo:dscnn")
    x = b.input((1, 49, 10, 1))
    x = b.conv2d(x, 64, (10, 4), stride=2, activation="relu")
    for _ in range(4):
        x = b.depthwise_conv2d(x, 3, activation="relu")
        x = b.conv2d(x, 64, 1, activation="relu")
    x = b.global_avg_pool(x)
    x = b.flatten(x)
    x = b.fully_connected(x, 12)
    return b.build([b.softmax(x)])
