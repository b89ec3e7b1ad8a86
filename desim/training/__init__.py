"""On-device training: a training step built from an inference graph, its memory, its
timing on the cluster and on AIMC crossbars (``desim train``)."""

from desim.training.options import TrainOptions
from desim.training.run import train

__all__ = ["TrainOptions", "train"]
