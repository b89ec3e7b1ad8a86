"""The work folder a doc's commands run in: the repo's platform scripts and examples, and
the files the docs tell their reader to bring, made small or taken from ../shared."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("DESIM_SHARED", ROOT.parent / "shared"))
MLPERF = SHARED / "models" / "mlperf_tiny"

#: files and folders a doc names that its reader brings, and what stands in for them
BROUGHT = {
    "model.tflite": "the MLPerf Tiny KWS model (DS-CNN) from ../shared",
    "models/": "the MLPerf Tiny models from ../shared",
    "x.npy": "a seeded int8 input of the KWS model",
    "model.onnx": "a small float CNN written with onnx.helper",
    "trace.trc.gz": "512 sequential 64 B reads",
    "platforms/my_soc.py": "a copy of platforms/pulp_cluster.py",
}


def make_workdir(dest: Path) -> dict[str, str]:
    """Fill ``dest``; return the brought files it could not make, with the reason."""
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("platforms", "examples"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    shutil.copy(ROOT / "platforms" / "pulp_cluster.py", dest / "platforms" / "my_soc.py")
    _dram_trace(dest / "trace.trc.gz")
    absent: dict[str, str] = {}
    try:
        _onnx_model(dest / "model.onnx")
    except ImportError as exc:
        absent["model.onnx"] = f"onnx is not installed ({exc})"
    if (MLPERF / "kws_ref_model.tflite").is_file():
        shutil.copytree(MLPERF, dest / "models")
        shutil.copy(MLPERF / "kws_ref_model.tflite", dest / "model.tflite")
        _input_of(dest / "model.tflite", dest / "x.npy")
    else:
        reason = f"{MLPERF} is absent (set DESIM_SHARED to the shared folder)"
        absent.update({"model.tflite": reason, "models/": reason, "x.npy": reason})
    return absent


def _dram_trace(path: Path, n: int = 512) -> None:
    """A DRAM request trace (desim/hw/dram/replay.py's format): ``n`` sequential reads."""
    lines = [f"0x{0x1000 + 64 * i:08x} READ {i}" for i in range(n)]
    with gzip.open(path, "wt") as f:
        f.write("# sequential 64 B reads, one per cycle\n" + "\n".join(lines) + "\n")


def _input_of(model: Path, path: Path) -> None:
    """A seeded random input of the model's input shape and dtype."""
    from desim.workload import load_workload

    (x,) = load_workload(str(model)).inputs
    info = np.iinfo(x.dtype)
    data = np.random.default_rng(0).integers(info.min, info.max + 1, x.shape, dtype=x.dtype)
    np.save(path, data)


def _onnx_model(path: Path) -> None:
    """A float NCHW CNN: conv 3x3 + ReLU, global average pool, a 10-way Gemm."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(a.astype(np.float32), name) for name, a in (
        ("w0", rng.standard_normal((8, 3, 3, 3))), ("b0", rng.standard_normal(8)),
        ("w1", rng.standard_normal((10, 8))), ("b1", rng.standard_normal(10)))]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w1", "b1"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
