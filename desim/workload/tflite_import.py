"""Import TFLite flatbuffers (int8 or float) into the graph IR, with the `tflite` package.

Kept exactly: operator order, tensor names, shapes and dtypes, per-tensor and per-channel
quantisation (scale, zero point, axis), weights and biases (bit for bit), strides,
dilations, fused activations. ``SAME``/``VALID`` padding becomes explicit
top/bottom/left/right amounts as the TFLite runtime computes them. The shape signature's
batch dimension may be dynamic (-1): the interpreter then uses the stored shape, batch 1,
and so does desim; a dynamic dimension anywhere else is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from desim.errors import DesimError, SpecError
from desim.workload.graph import Graph
from desim.workload.op import Activation, Op, OpKind
from desim.workload.shapes import padding_for
from desim.workload.tensor import DTYPE_BYTES, Quant, Tensor

#: TFLite builtin operators the importer understands, and what they become
SUPPORTED_OPS = {
    "CONV_2D": OpKind.CONV2D, "DEPTHWISE_CONV_2D": OpKind.DEPTHWISE_CONV2D,
    "FULLY_CONNECTED": OpKind.FULLY_CONNECTED, "AVERAGE_POOL_2D": OpKind.AVG_POOL2D,
    "MAX_POOL_2D": OpKind.MAX_POOL2D, "ADD": OpKind.ADD, "CONCATENATION": OpKind.CONCAT,
    "RESHAPE": OpKind.RESHAPE, "PAD": OpKind.PAD, "PADV2": OpKind.PAD,
    "SOFTMAX": OpKind.SOFTMAX, "QUANTIZE": OpKind.QUANTIZE, "DEQUANTIZE": OpKind.DEQUANTIZE,
}

_ACTIVATIONS = {0: Activation.NONE, 1: Activation.RELU, 2: Activation.RELU_N1_TO_1,
                3: Activation.RELU6}
_ACTIVATION_NAMES = {4: "TANH", 5: "SIGN_BIT"}
_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool",
           7: "int16", 9: "int8"}

#: packages whose exceptions, raised while reading, mean the bytes are not a valid model
_READER_PACKAGES = ("flatbuffers", "tflite", "numpy")


def load_tflite(path: str | Path) -> Graph:
    """The graph of the ``.tflite`` file at ``path``."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read TFLite model {path}: {exc.strerror or exc}; give a "
                        "readable .tflite file") from None
    return parse_tflite(buf, name=path.stem, source=str(path))


def parse_tflite(buf: bytes, name: str = "model", source: str = "<bytes>") -> Graph:
    """The graph of a TFLite flatbuffer held in memory."""
    try:
        import tflite
    except ImportError:
        raise DesimError("reading .tflite files needs the 'tflite' package: "
                         "pip install tflite") from None
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise SpecError(f"{source} is not a TFLite model (no 'TFL3' flatbuffer identifier); "
                        "give a .tflite file")
    try:
        return _Reader(tflite, buf, name, source).graph()
    except SpecError as exc:
        if str(exc).startswith(source):
            raise
        raise SpecError(f"{source}: {exc}") from None
    except Exception as exc:
        if not raised_in(exc, _READER_PACKAGES):
            raise
        raise SpecError(f"{source}: TFLite file is truncated or corrupt "
                        f"({type(exc).__name__}: {exc}); convert or download the model "
                        "again") from None


def raised_in(exc: BaseException, packages: tuple[str, ...]) -> bool:
    """True when the innermost Python frame of ``exc`` belongs to one of ``packages``.

    A flatbuffer or protobuf reader fails on bad bytes with whatever its arithmetic hits
    (struct.error, IndexError, TypeError, ...); that is the file's fault. The same error
    raised by desim's own code is a bug and must surface.
    """
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.split(".")[0] in packages


class _Reader:
    def __init__(self, tfl: Any, buf: bytes, name: str, source: str) -> None:
        self.tfl, self.buf, self.name, self.source = tfl, buf, name, source
        self.model = tfl.Model.GetRootAsModel(buf, 0)
        if self.model.SubgraphsLength() < 1:
            raise SpecError(f"{source}: TFLite model has no subgraph; convert the model again")
        self.sg = self.model.Subgraphs(0)
        self.tensors: dict[int, Tensor] = {}
        self.names: set[str] = set()

    def fail(self, msg: str) -> SpecError:
        return SpecError(f"{self.source}: {msg}")

    # -- tensors ----------------------------------------------------------------------

    def tensor(self, index: int) -> Tensor:
        if index not in self.tensors:
            self.tensors[index] = self._read_tensor(index)
        return self.tensors[index]

    def _read_tensor(self, index: int) -> Tensor:
        if not 0 <= index < self.sg.TensorsLength():
            raise self.fail(f"tensor index {index} out of range (a corrupt file); convert the "
                            "model again")
        t = self.sg.Tensors(index)
        name = (t.Name() or b"").decode("utf-8", "replace") or f"tensor_{index}"
        if name in self.names:
            name = f"{name}#{index}"
        self.names.add(name)
        dtype = _DTYPES.get(t.Type())
        if dtype is None:
            raise self.fail(f"tensor '{name}' has TFLite type {t.Type()}, which desim does not "
                            f"support; supported: {', '.join(sorted(set(_DTYPES.values())))}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        sig = tuple(int(d) for d in t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else ()
        if any(d < 0 for d in sig[1:]) or any(d < 0 for d in shape):
            raise self.fail(f"tensor '{name}' has a dynamic shape (shape {list(shape)}, "
                            f"signature {list(sig)}); desim needs static shapes: convert the "
                            "model with a fixed input shape")
        if t.Sparsity() is not None:
            raise self.fail(f"tensor '{name}' is sparse; desim reads dense tensors only")
        if t.IsVariable():
            raise self.fail(f"tensor '{name}' is a variable; desim reads stateless models only")
        return Tensor(name, shape, dtype, self._quant(t, name), data=self._data(t, name, shape,
                                                                               dtype))

    def _quant(self, t: Any, name: str) -> Quant | None:
        q = t.Quantization()
        if q is None or q.ScaleLength() == 0:
            return None
        if q.DetailsType() != 0:
            raise self.fail(f"tensor '{name}' uses custom quantisation; desim reads affine "
                            "(scale, zero point) quantisation only")
        scale = q.ScaleAsNumpy().astype(np.float64)
        zp = q.ZeroPointAsNumpy() if q.ZeroPointLength() else np.zeros(len(scale), np.int64)
        return Quant(tuple(scale), tuple(int(z) for z in zp),
                     q.QuantizedDimension() if len(scale) > 1 else None)

    def _data(self, t: Any, name: str, shape: tuple[int, ...], dtype: str) -> np.ndarray | None:
        index = t.Buffer()
        if index == 0 or index >= self.model.BuffersLength():
            return None
        b = self.model.Buffers(index)
        if b.DataLength():
            raw = b.DataAsNumpy().tobytes()
        elif b.Offset() > 1:
            raw = self.buf[b.Offset():b.Offset() + b.Size()]
        else:
            return None
        need = int(np.prod(shape, dtype=np.int64)) * DTYPE_BYTES[dtype]
        if len(raw) != need:
            raise self.fail(f"tensor '{name}' has {len(raw)} bytes of data but shape "
                            f"{list(shape)} of {dtype} needs {need}: the file is truncated "
                            "or corrupt")
        arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        return arr.astype(dtype).reshape(shape)

    # -- operators --------------------------------------------------------------------

    def opcode_name(self, index: int) -> str:
        oc = self.model.OperatorCodes(index)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code == self.tfl.BuiltinOperator.CUSTOM:
            return f"CUSTOM:{(oc.CustomCode() or b'').decode('utf-8', 'replace')}"
        try:
            return str(self.tfl.opcode2name(code))
        except ValueError:
            return f"opcode {code}"

    def options(self, op: Any, cls: Any) -> Any:
        table = op.BuiltinOptions()
        if table is None:
            return None
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def graph(self) -> Graph:
        ops = [self._op(i) for i in range(self.sg.OperatorsLength())]
        inputs = tuple(self.tensor(int(i)) for i in self._indices(self.sg, "Inputs"))
        outputs = tuple(self.tensor(int(i)) for i in self._indices(self.sg, "Outputs"))
        return Graph(self.name, tuple(ops), inputs, outputs, self.source)

    @staticmethod
    def _indices(obj: Any, what: str) -> list[int]:
        if not getattr(obj, f"{what}Length")():
            return []
        return [int(i) for i in getattr(obj, f"{what}AsNumpy")()]

    def _op(self, i: int) -> Op:
        op = self.sg.Operators(i)
        opname = self.opcode_name(op.OpcodeIndex())
        ins = self._indices(op, "Inputs")
        outs = self._indices(op, "Outputs")
        out_name = self.tensor(outs[0]).name if outs else "?"
        where = f"operator {i} ({opname}, output '{out_name}')"
        kind = SUPPORTED_OPS.get(opname)
        if kind is None:
            raise self.fail(f"unsupported TFLite op {opname} at operator {i} (output "
                            f"'{out_name}'); supported: {', '.join(SUPPORTED_OPS)}")
        if len(outs) != 1:
            raise self.fail(f"{where}: expected one output, got {len(outs)}")
        tensors = [self.tensor(j) if j >= 0 else None for j in ins]
        op_name = f"{opname.lower()}_{i}"
        try:
            return _CONVERTERS[kind](self, op, op_name, where, tensors, self.tensor(outs[0]),
                                     kind)
        except SpecError as exc:
            if str(exc).startswith(self.source):
                raise
            raise self.fail(f"{where}: {exc}") from None

    def activation(self, code: int, where: str) -> Activation:
        if code not in _ACTIVATIONS:
            name = _ACTIVATION_NAMES.get(code, str(code))
            raise self.fail(f"{where}: fused activation {name} is not supported; supported: "
                            "NONE, RELU, RELU6, RELU_N1_TO_1")
        return _ACTIVATIONS[code]


def _need(reader: _Reader, where: str, tensors: list[Tensor | None], n: int) -> None:
    if len(tensors) < n or any(t is None for t in tensors[:n]):
        raise reader.fail(f"{where}: expected at least {n} inputs")


def _windowed(r: _Reader, op: Any, name: str, where: str, tensors: list[Tensor | None],
              out: Tensor, kind: OpKind) -> Op:
    tfl = r.tfl
    if kind in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D):
        _need(r, where, tensors, 2)
        cls = tfl.Conv2DOptions if kind is OpKind.CONV2D else tfl.DepthwiseConv2DOptions
        o = r.options(op, cls)
        x, w = tensors[0], tensors[1]
        assert x is not None and w is not None
        bias = tensors[2] if len(tensors) > 2 else None
        kernel = (w.shape[1], w.shape[2])
        dilation = (o.DilationHFactor(), o.DilationWFactor())
    else:
        _need(r, where, tensors, 1)
        o = r.options(op, tfl.Pool2DOptions)
        x, w, bias = tensors[0], None, None
        assert x is not None
        kernel = (o.FilterHeight(), o.FilterWidth())
        dilation = (1, 1)
    stride = (o.StrideH(), o.StrideW())
    if x.rank != 4:
        raise r.fail(f"{where}: input '{x.name}' must be NHWC, has shape {x.shape}")
    mode = "same" if o.Padding() == tfl.Padding.SAME else "valid"
    pad = padding_for(mode, (x.shape[1], x.shape[2]), kernel, stride, dilation)
    act = r.activation(o.FusedActivationFunction(), where)
    return Op(name, kind, (x,), out, w, bias, kernel, stride, dilation, pad, act)


def _fc(r: _Reader, op: Any, name: str, where: str, tensors: list[Tensor | None],
        out: Tensor, kind: OpKind) -> Op:
    _need(r, where, tensors, 2)
    o = r.options(op, r.tfl.FullyConnectedOptions)
    act = Activation.NONE
    if o is not None:
        if o.WeightsFormat() != 0:
            raise r.fail(f"{where}: shuffled fully-connected weights are not supported")
        act = r.activation(o.FusedActivationFunction(), where)
    x, w = tensors[0], tensors[1]
    assert x is not None and w is not None
    bias = tensors[2] if len(tensors) > 2 else None
    return Op(name, kind, (x,), out, w, bias, activation=act)


def _add(r: _Reader, op: Any, name: str, where: str, tensors: list[Tensor | None],
         out: Tensor, kind: OpKind) -> Op:
    _need(r, where, tensors, 2)
    o = r.options(op, r.tfl.AddOptions)
    act = Activation.NONE if o is None else r.activation(o.FusedActivationFunction(), where)
    return Op(name, kind, tuple(t for t in tensors[:2] if t is not None), out, activation=act)


def _concat(r: _Reader, op: Any, name: str, where: str, tensors: list[Tensor | None],
            out: Tensor, kind: OpKind) -> Op:
    _need(r, where, tensors, 1)
    o = r.options(op, r.tfl.ConcatenationOptions)
    return Op(name, kind, tuple(t for t in tensors if t is not None), out,
              activation=r.activation(o.FusedActivationFunction(), where), axis=o.Axis())


def _single(r: _Reader, op: Any, name: str, where: str, tensors: list[Tensor | None],
            out: Tensor, kind: OpKind) -> Op:
    """reshape (its shape operand is implied by the output), quantize, dequantize."""
    _need(r, where, tensors, 1)
    x = tensors[0]
    assert x is not None
    return Op(name, kind, (x,), out)


def _softmax(r: _Reader, op: Any, name: str, where: str, tensors: list[Tensor | None],
             out: Tensor, kind: OpKind) -> Op:
    _need(r, where, tensors, 1)
    o = r.options(op, r.tfl.SoftmaxOptions)
    x = tensors[0]
    assert x is not None
    return Op(name, kind, (x,), out, beta=1.0 if o is None else float(o.Beta()))


def _pad(r: _Reader, op: Any, name: str, where: str, tensors: list[Tensor | None],
         out: Tensor, kind: OpKind) -> Op:
    _need(r, where, tensors, 2)
    x, paddings = tensors[0], tensors[1]
    assert x is not None and paddings is not None
    if paddings.data is None or paddings.shape != (x.rank, 2):
        raise r.fail(f"{where}: paddings must be a constant of shape ({x.rank}, 2)")
    if len(tensors) > 2 and tensors[2] is not None:
        value = tensors[2]
        zero = x.quant.zero_point[0] if x.quant is not None else 0
        if value.data is None or value.data.size != 1 or int(value.data.reshape(-1)[0]) != zero:
            raise r.fail(f"{where}: PADV2 with a pad value other than the zero point ({zero}) "
                         "is not supported")
    pads = tuple((int(a), int(b)) for a, b in paddings.data)
    return Op(name, kind, (x,), out, pads=pads)


_CONVERTERS = {
    OpKind.CONV2D: _windowed, OpKind.DEPTHWISE_CONV2D: _windowed,
    OpKind.AVG_POOL2D: _windowed, OpKind.MAX_POOL2D: _windowed,
    OpKind.FULLY_CONNECTED: _fc, OpKind.ADD: _add, OpKind.CONCAT: _concat,
    OpKind.RESHAPE: _single, OpKind.QUANTIZE: _single, OpKind.DEQUANTIZE: _single,
    OpKind.SOFTMAX: _softmax, OpKind.PAD: _pad,
}
