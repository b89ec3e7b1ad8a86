"""Valid files to spoil: the shipped TFLite models, small ONNX models, desim graph JSON,
a run folder, a sweep folder and a baseline; each made once per process."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("DESIM_SHARED", REPO.parent / "shared"))
MODELS = SHARED / "models" / "mlperf_tiny"


@functools.cache
def workdir() -> Path:
    """A folder for the corpus, removed when the process exits."""
    import atexit

    path = Path(tempfile.mkdtemp(prefix="desim-fuzz-corpus-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def _quiet(argv: list[str]) -> None:
    """Run a desim command that must succeed, its output discarded."""
    from desim.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"corpus command failed ({code}): {argv}")


@functools.cache
def tflite_models() -> dict[str, bytes]:
    """The shipped MLPerf Tiny TFLite models by name (empty when the folder is absent)."""
    if not MODELS.is_dir():
        return {}
    return {p.stem: p.read_bytes() for p in sorted(MODELS.glob("*.tflite"))}


def onnx_model(qdq: bool) -> Any:
    """A small NCHW ONNX model: conv, relu, max pool, flatten, gemm, softmax; with ``qdq``
    int8 weights behind DequantizeLinear and every activation through Q/DQ."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: Any) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=f"n_{out}", **attrs))
        return out

    def act(x: str, tag: str) -> str:
        if not qdq:
            return x
        s, z = const(f"{tag}_s", np.float32(0.05)), const(f"{tag}_z", np.int8(0))
        return node("DequantizeLinear", [node("QuantizeLinear", [x, s, z], f"{tag}_q"), s, z],
                    f"{tag}_dq")

    def weights(name: str, shape: tuple[int, ...], axis: int | None) -> str:
        if not qdq:
            return const(name, rng.standard_normal(shape).astype(np.float32))
        n = shape[axis] if axis is not None else 1
        q = const(f"{name}_q", rng.integers(-127, 128, shape, dtype=np.int8))
        s = const(f"{name}_s", np.full(n, 0.01, np.float32) if axis is not None
                  else np.float32(0.01))
        z = const(f"{name}_z", np.zeros(n, np.int8) if axis is not None else np.int8(0))
        extra = {"axis": axis} if axis is not None else {}
        return node("DequantizeLinear", [q, s, z], name, **extra)

    x = act("x", "in")
    w = weights("w1", (4, 3, 3, 3), 0)
    b = const("b1", rng.standard_normal(4).astype(np.float32))
    y = node("Conv", [x, w, b], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
             strides=[1, 1])
    y = act(node("Relu", [y], "relu"), "relu")
    y = act(node("MaxPool", [y], "pool", kernel_shape=[2, 2], strides=[2, 2]), "pool")
    y = act(node("Flatten", [y], "flat", axis=1), "flat")
    w2 = weights("w2", (10, 64), None)
    y = act(node("Gemm", [y, w2, const("b2", np.zeros(10, np.float32))], "fc", transB=1),
            "fc")
    y = node("Softmax", [y], "prob", axis=-1)
    graph = helper.make_graph(
        nodes, "fuzz", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@functools.cache
def onnx_bytes(qdq: bool) -> bytes:
    return bytes(onnx_model(qdq).SerializeToString())


@functools.cache
def graph_doc(name: str) -> str:
    """A zoo network as a desim graph JSON document (text), without weights."""
    from desim.workload import load_workload

    return json.dumps(load_workload(name).to_dict(weights=False))


@functools.cache
def run_dir() -> Path:
    """A traced run of autoencoder on pulp_cluster (summary.json, trace.json.gz)."""
    out = workdir() / "run"
    _quiet(["run", "pulp_cluster", "-w", "autoencoder", "-o", str(out)])
    (out / "timeline.png").unlink()
    return out


@functools.cache
def sweep_dir() -> Path:
    """A two-point sweep of stream_soc running tiles."""
    out = workdir() / "sweep"
    _quiet(["sweep", "stream_soc", "-w", "tiles", "--grid", "dma.setup_cycles=12,20",
            "-o", str(out), "--jobs", "1"])
    return out


@functools.cache
def baseline_dir() -> Path:
    """One baseline: stream_soc running tiles_membound."""
    out = workdir() / "baselines"
    _quiet(["regress", "record", str(out), "--platform", "stream_soc", "--workload",
            "tiles_membound"])
    return out
