"""MobileNetV2 1.0 for ImageNet, int8, 224x224x3 input, 1000 classes.

Source: keras-applications ``mobilenet_v2.py`` (alpha 1.0, expansion 6, ReLU6, linear
bottlenecks) and Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
CVPR 2018, Table 2. BatchNorm folded; ``same`` padding throughout (Keras pads stride-2
convs explicitly, with the same output sizes and MACs). 3,487,816 params,
300,774,272 MACs.
"""

from desim.workload.builder import GraphBuilder
from desim.workload.graph import Graph

#: (expansion t, output channels c, repeats n, first stride s) per stage (paper Table 2)
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))


def build() -> Graph:
    b = GraphBuilder("mobilenetv2", source="zoo:mobilenetv2")
    x = b.input((1, 224, 224, 3))
    x = b.conv2d(x, 32, 3, stride=2, activation="relu6")
    block = 0
    for t, c, n, s in STAGES:
        for i in range(n):
            stride = s if i == 0 else 1
            y = x
            if t != 1:
                y = b.conv2d(y, x.shape[-1] * t, 1, activation="relu6",
                             name=f"block{block}/expand")
            y = b.depthwise_conv2d(y, 3, stride=stride, activation="relu6",
                                   name=f"block{block}/depthwise")
            y = b.conv2d(y, c, 1, name=f"block{block}/project")
            if stride == 1 and x.shape[-1] == c:
                y = b.add(x, y, name=f"block{block}/add")
            x = y
            block += 1
    x = b.conv2d(x, 1280, 1, activation="relu6")
    x = b.global_avg_pool(x)
    x = b.flatten(x)
    x = b.fully_connected(x, 1000)
    return b.build([b.softmax(x)])
