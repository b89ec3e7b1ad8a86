"""Fixtures for the workload tests: a writer of small TFLite flatbuffers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

_TYPES = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "int8": 9}


def _write(tensors: list[dict[str, Any]], ops: list[dict[str, Any]], inputs: list[int],
           outputs: list[int]) -> bytes:
    """A one-subgraph TFLite model.

    tensors: dicts with name, shape, dtype, and optional data (numpy), scale, zero_point,
    axis, signature. ops: dicts with code (builtin operator number), inputs, outputs and
    optional options = (BuiltinOptions type number, function(builder) -> offset).
    """
    import flatbuffers
    import tflite

    b = flatbuffers.Builder(1024)

    def ints(values: list[int], prepend: Callable[[int], None]) -> int:
        b.StartVector(4 if prepend != b.PrependInt64 else 8, len(values), 8)
        for v in reversed(values):
            prepend(int(v))
        return b.EndVector()

    def offsets(values: list[int]) -> int:
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependUOffsetTRelative(v)
        return b.EndVector()

    buffers, buffer_of = [], []
    tflite.BufferStart(b)
    buffers.append(tflite.BufferEnd(b))
    for t in tensors:
        if t.get("data") is None:
            buffer_of.append(0)
            continue
        vec = b.CreateByteVector(np.ascontiguousarray(t["data"]).tobytes())
        tflite.BufferStart(b)
        tflite.BufferAddData(b, vec)
        buffers.append(tflite.BufferEnd(b))
        buffer_of.append(len(buffers) - 1)
    tensor_offsets = []
    for t, buf in zip(tensors, buffer_of, strict=True):
        name = b.CreateString(t["name"])
        shape = ints(t["shape"], b.PrependInt32)
        sig = ints(t["signature"], b.PrependInt32) if "signature" in t else None
        quant = None
        if "scale" in t:
            b.StartVector(4, len(t["scale"]), 4)
            for v in reversed(t["scale"]):
                b.PrependFloat32(float(v))
            scale = b.EndVector()
            zp = ints(t["zero_point"], b.PrependInt64)
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t.get("axis", 0))
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        if sig is not None:
            tflite.TensorAddShapeSignature(b, sig)
        tflite.TensorAddType(b, _TYPES[t["dtype"]])
        tflite.TensorAddBuffer(b, buf)
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        tensor_offsets.append(tflite.TensorEnd(b))
    codes = sorted({op["code"] for op in ops})
    op_offsets = []
    for op in ops:
        ins, outs = ints(op["inputs"], b.PrependInt32), ints(op["outputs"], b.PrependInt32)
        opts = op["options"][1](b) if "options" in op else None
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(op["code"]))
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if opts is not None:
            tflite.OperatorAddBuiltinOptionsType(b, op["options"][0])
            tflite.OperatorAddBuiltinOptions(b, opts)
        op_offsets.append(tflite.OperatorEnd(b))
    code_offsets = []
    for code in codes:
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, 1)
        code_offsets.append(tflite.OperatorCodeEnd(b))
    t_vec, o_vec = offsets(tensor_offsets), offsets(op_offsets)
    in_vec, out_vec = ints(inputs, b.PrependInt32), ints(outputs, b.PrependInt32)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, t_vec)
    tflite.SubGraphAddOperators(b, o_vec)
    tflite.SubGraphAddInputs(b, in_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    subgraph = tflite.SubGraphEnd(b)
    sg_vec, code_vec, buf_vec = offsets([subgraph]), offsets(code_offsets), offsets(buffers)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, code_vec)
    tflite.ModelAddSubgraphs(b, sg_vec)
    tflite.ModelAddBuffers(b, buf_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.fixture
def write_tflite() -> Callable[..., bytes]:
    """Build a small TFLite flatbuffer (see ``_write``); skips without the tflite package."""
    pytest.importorskip("tflite")
    pytest.importorskip("flatbuffers")
    return _write
