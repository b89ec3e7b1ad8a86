"""Import ONNX models (float, QDQ or QLinear) into the graph IR, with the `onnx` package.

What the importer does to reach the IR (NHWC, TFLite-like ops):

* Runs ONNX shape inference, computes every shape itself and checks the two agree. Every
  graph input dimension must be a number: a symbolic or missing one is an error.
* Moves 4-D activations from NCHW to NHWC and weights to the IR layouts (conv OIHW ->
  OHWI, depthwise ``(C*m, 1, Kh, Kw)`` -> ``(1, Kh, Kw, C*m)``, MatMul ``(Nin, Nout)`` ->
  ``(Nout, Nin)``), remapping per-channel axes, concat and softmax axes, and pads. A
  flatten of a ``C x H x W`` tensor (H*W > 1, C > 1) feeding a fully-connected layer is
  kept exact by permuting that layer's weight columns from CHW to HWC order.
* Folds BatchNormalization into the preceding conv (float graphs), a MatMul followed by
  the Add of a constant into one fully-connected op with bias, Gemm (alpha = beta = 1)
  into fully-connected, and Relu / Clip(0, 6) / Clip(-1, 1) into the op before them
  when that op is their only producer and has no other reader.
* QDQ graphs: a DequantizeLinear of a constant becomes a quantised constant; an op whose
  activation inputs all come from DequantizeLinear and whose output goes only to one
  QuantizeLinear runs on the quantised tensors directly (float biases are quantised to
  int32 at scale ``input_scale * weight_scale``). Remaining QuantizeLinear /
  DequantizeLinear nodes become quantize / dequantize ops.
* QLinear graphs: QLinearConv, QLinearMatMul and the com.microsoft QLinearAdd,
  QLinearAveragePool, QLinearGlobalAveragePool and QLinearConcat map to the same ops
  with their scales and zero points on the tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desim.errors import DesimError, SpecError
from desim.workload.graph import Graph
from desim.workload.op import Activation, Op, OpKind
from desim.workload.shapes import Padding, same_pads, window_output
from desim.workload.tensor import INTEGER_DTYPES, Quant, Tensor
from desim.workload.tflite_import import raised_in

#: ONNX operators the importer understands (domain "" unless marked com.microsoft)
SUPPORTED_OPS = (
    "Conv", "Gemm", "MatMul", "Add", "Relu", "Clip", "BatchNormalization", "AveragePool",
    "MaxPool", "GlobalAveragePool", "GlobalMaxPool", "Concat", "Reshape", "Flatten", "Squeeze",
    "Unsqueeze", "Pad", "Softmax", "Identity", "Dropout", "Constant", "QuantizeLinear",
    "DequantizeLinear", "QLinearConv", "QLinearMatMul", "com.microsoft.QLinearAdd",
    "com.microsoft.QLinearAveragePool", "com.microsoft.QLinearGlobalAveragePool",
    "com.microsoft.QLinearConcat",
)

_NCHW_TO_NHWC = (0, 2, 3, 1)

#: the kind of value of each node attribute the importer reads
_ATTR_KINDS = {
    **dict.fromkeys(("strides", "dilations", "pads", "kernel_shape", "axes"), "ints"),
    **dict.fromkeys(("group", "axis", "transA", "transB", "ceil_mode", "count_include_pad",
                     "channels_last", "allowzero", "value_int"), "int"),
    **dict.fromkeys(("alpha", "beta", "epsilon", "min", "max", "value_float"), "float"),
    **dict.fromkeys(("auto_pad", "mode"), "text"),
}

#: QLinear ops: (indices of quantised activation inputs, index of the output scale)
_QLINEAR_IO: dict[str, Callable[[int], tuple[tuple[int, ...], int]]] = {
    "QLinearConv": lambda n: ((0,), 6), "QLinearMatMul": lambda n: ((0,), 6),
    "QLinearAdd": lambda n: ((0, 3), 6), "QLinearAveragePool": lambda n: ((0,), 3),
    "QLinearGlobalAveragePool": lambda n: ((0,), 3),
    "QLinearConcat": lambda n: (tuple(range(2, n, 3)), 0),
}
_FUSABLE = {"Conv", "Gemm", "MatMul", "Add", "QLinearConv", "QLinearMatMul",
            "QLinearAdd"}
_QDQ_FREE = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
             "QLinearAdd", "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearConcat"}


def load_onnx(path: str | Path) -> Graph:
    """The graph of the ``.onnx`` file at ``path``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read ONNX model {path}: {exc.strerror or exc}; give a "
                        "readable .onnx file") from None
    return parse_onnx(data, name=path.stem, source=str(path))


def parse_onnx(model: Any, name: str | None = None, source: str = "<onnx>") -> Graph:
    """The graph of an ONNX ``ModelProto`` or its serialised bytes."""
    try:
        import onnx
    except ImportError:
        raise DesimError("reading .onnx files needs the 'onnx' package: pip install onnx") \
            from None
    if isinstance(model, bytes | bytearray):
        try:
            model = onnx.load_model_from_string(bytes(model))
        except Exception as exc:
            if not raised_in(exc, ("google", "onnx")):
                raise
            raise SpecError(f"{source} is not a readable ONNX model (truncated or not a "
                            f"model: {exc}); export or download the model again") from None
    if not model.graph.node:
        raise SpecError(f"{source} is not an ONNX model with a graph (no nodes found); give "
                        "a .onnx file that holds the network's graph")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:
        if not raised_in(exc, ("onnx",)):
            raise
        raise SpecError(f"{source}: ONNX shape inference failed: {exc}; check the model with "
                        "onnx.checker.check_model, or export it again") from None
    try:
        return _Importer(onnx, model, inferred, source).run(name or model.graph.name or "model")
    except SpecError as exc:
        if str(exc).startswith(source):
            raise
        raise SpecError(f"{source}: {exc}") from None
    except Exception as exc:  # numpy or onnx refusing the file's arrays: the file's fault
        if not raised_in(exc, ("numpy", "onnx", "google")):
            raise
        raise SpecError(f"{source}: malformed model ({type(exc).__name__}: {exc}); check it "
                        "with onnx.checker.check_model, or export it again") from None


@dataclass
class _Node:
    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    act: Activation = Activation.NONE
    bias: str | None = None  # a bias folded in from a following Add (MatMul -> _FC)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass
class _QConst:
    """A constant with integer values and quantisation (a DequantizeLinear of a constant)."""

    data: np.ndarray
    quant: Quant


@dataclass
class _Importer:
    onnx: Any
    model: Any
    inferred: Any
    source: str
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    qconsts: dict[str, _QConst] = field(default_factory=dict)
    onnx_shapes: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    act_quant: dict[str, Quant] = field(default_factory=dict)
    out_dtype: dict[str, str] = field(default_factory=dict)
    chw: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[_Node] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def fail(self, msg: str) -> SpecError:
        return SpecError(f"{self.source}: {msg}")

    # -- reading ----------------------------------------------------------------------

    def run(self, name: str) -> Graph:
        g = self.model.graph
        numpy_helper = self.onnx.numpy_helper
        for init in g.initializer:
            try:
                self.consts[init.name] = numpy_helper.to_array(init)
            except Exception as exc:
                if not raised_in(exc, ("onnx", "numpy", "google")):
                    raise
                raise self.fail(f"cannot read initializer '{init.name}' (external or corrupt "
                                f"data: {exc}); save the model with its weights inside "
                                "(save_as_external_data=False)") from None
        for vi in (*self.inferred.graph.value_info, *self.inferred.graph.output):
            tt = vi.type.tensor_type
            if tt.HasField("shape"):
                self.onnx_shapes[vi.name] = tuple(
                    d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
        declared = self._input_shapes()
        helper = self.onnx.helper
        for i, n in enumerate(g.node):
            domain = n.domain if n.domain not in ("", "ai.onnx") else ""
            op_type = f"{domain}.{n.op_type}" if domain else n.op_type
            if op_type not in SUPPORTED_OPS:
                raise self.fail(f"unsupported ONNX op {op_type} (node '{n.name or i}'); "
                                f"supported: {', '.join(SUPPORTED_OPS)}")
            node_name = n.name or f"{n.op_type}_{i}"
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            self._check_attrs(op_type, node_name, attrs)
            self.nodes.append(_Node(n.op_type, node_name, list(n.input), list(n.output),
                                    attrs))
        self.outputs = [o.name for o in g.output]
        self._fold_constants()
        self._fold_batchnorm()
        self._fuse_bias_add()
        self._fuse_activations()
        self._collect_quant()
        self._absorb_qdq()
        inputs = [self._input(name, shape, dtype) for name, shape, dtype in declared]
        ops = [op for node in self.nodes for op in self._convert(node)]
        missing = [o for o in self.outputs if o not in self.tensors]
        if missing:
            raise self.fail(f"graph output '{missing[0]}' is never produced; list only "
                            "outputs a node writes")
        return Graph(name, tuple(ops), tuple(inputs), tuple(self.tensors[o] for o in self.outputs),
                     self.source)

    def _check_attrs(self, op_type: str, name: str, attrs: dict[str, Any]) -> None:
        """Refuse an attribute the importer reads whose value has the wrong kind."""
        for key, value in attrs.items():
            kind = _ATTR_KINDS.get(key)
            if kind == "ints":
                ok = isinstance(value, list | tuple) and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value)
            elif kind == "int":
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif kind == "float":
                ok = isinstance(value, int | float) and not isinstance(value, bool)
            elif kind == "text":
                ok = isinstance(value, str | bytes)
            else:
                ok = True
            if not ok:
                what = {"ints": "a list of integers", "int": "an integer", "float": "a number",
                        "text": "a string"}[kind or ""]
                raise self.fail(f"{op_type} node '{name}': attribute '{key}' must be {what}, "
                                f"got {value!r:.40}; export the model again")

    def _input_shapes(self) -> list[tuple[str, tuple[int, ...], str]]:
        """Name, static NCHW shape and dtype of each graph input (initializers excluded)."""
        result = []
        for vi in self.model.graph.input:
            if vi.name in self.consts:
                continue  # older exporters list initializers among the inputs
            tt = vi.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                    for d in tt.shape.dim]
            if not tt.HasField("shape") or any(not isinstance(d, int) or d <= 0 for d in dims):
                shown = dims if tt.HasField("shape") else "of unknown rank"
                raise self.fail(
                    f"input '{vi.name}' has a dynamic shape {shown}; desim needs static "
                    "shapes: fix them, e.g. with onnx.tools.update_model_dims."
                    "update_inputs_outputs_dims")
            shape = tuple(int(d) for d in dims)
            self.onnx_shapes[vi.name] = shape
            result.append((vi.name, shape, self._dtype(tt.elem_type, vi.name)))
        return result

    def _input(self, name: str, shape: tuple[int, ...], dtype: str) -> Tensor:
        quant = self.act_quant.get(name) if dtype in INTEGER_DTYPES else None
        t = Tensor(name, _to_nhwc(shape), dtype, quant)
        self.tensors[name] = t
        return t

    def _dtype(self, elem_type: int, what: str) -> str:
        name = self.onnx.helper.tensor_dtype_to_np_dtype(elem_type).name \
            if elem_type else "undefined"
        if name not in ("float32", "float16", "int8", "uint8", "int16", "int32", "int64"):
            raise self.fail(f"tensor '{what}' has element type {name}; supported: float32, "
                            "float16, int8, uint8, int16, int32, int64")
        return str(name)

    # -- normalisation passes ---------------------------------------------------------

    def _rename(self, old: str, new: str) -> None:
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]

    def _consumers(self, name: str) -> list[_Node]:
        return [n for n in self.nodes if name in n.inputs]

    def _single_user(self, name: str) -> _Node | None:
        users = self._consumers(name)
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def _fold_constants(self) -> None:
        """Constant nodes, Identity/Dropout, DequantizeLinear of constants."""
        kept = []
        for n in self.nodes:
            if n.op_type == "Constant":
                self.consts[n.outputs[0]] = self._constant_value(n)
            elif n.op_type in ("Identity", "Dropout"):
                if n.inputs[0] in self.consts:
                    self.consts[n.outputs[0]] = self.consts[n.inputs[0]]
                else:
                    self._rename(n.outputs[0], n.inputs[0])
            elif n.op_type == "DequantizeLinear" and n.inputs[0] in self.consts:
                self.qconsts[n.outputs[0]] = _QConst(self.consts[n.inputs[0]],
                                                     self._quant(n, 1, n.attr("axis", 1)))
            else:
                kept.append(n)
        self.nodes = kept

    def _constant_value(self, n: _Node) -> np.ndarray:
        for key, value in n.attrs.items():
            if key == "value":
                return self.onnx.numpy_helper.to_array(value)
            if key in ("value_float", "value_floats"):
                return np.asarray(value, np.float32)
            if key in ("value_int", "value_ints"):
                return np.asarray(value, np.int64)
        raise self.fail(f"Constant node '{n.name}' has no supported value attribute")

    def _quant(self, n: _Node, first: int, axis: int | None) -> Quant:
        """Scale and zero point from inputs ``first`` and ``first + 1`` of ``n``."""
        scale = self._const(n, first)
        has_zp = len(n.inputs) > first + 1 and n.inputs[first + 1]
        zp = self._const(n, first + 1) if has_zp else np.zeros_like(scale, np.uint8)
        scale, zp = np.atleast_1d(scale).astype(np.float64), np.atleast_1d(zp)
        return Quant(tuple(scale), tuple(int(z) for z in zp), axis if scale.size > 1 else None)

    def _zp_dtype(self, n: _Node, index: int) -> str:
        has_zp = len(n.inputs) > index and n.inputs[index]
        return str(self._const(n, index).dtype) if has_zp else "uint8"

    def _const(self, n: _Node, index: int) -> np.ndarray:
        name = n.inputs[index] if len(n.inputs) > index else ""
        if name not in self.consts:
            raise self.fail(f"{n.op_type} node '{n.name}': input {index} ('{name}') must be a "
                            "constant")
        return self.consts[name]

    def _fold_batchnorm(self) -> None:
        for bn in [n for n in self.nodes if n.op_type == "BatchNormalization"]:
            conv = self._producer(bn.inputs[0])
            if conv is None or conv.op_type != "Conv" or conv.inputs[1] not in self.consts \
                    or self._single_user(conv.outputs[0]) is not bn:
                raise self.fail(f"BatchNormalization node '{bn.name}' must follow a Conv with "
                                "constant weights whose output it alone reads")
            gamma, beta, mean, var = (self._const(bn, i) for i in range(1, 5))
            k = gamma / np.sqrt(var + bn.attr("epsilon", 1e-5))
            w = self.consts[conv.inputs[1]]
            b = self.consts[conv.inputs[2]] if len(conv.inputs) > 2 and conv.inputs[2] else 0
            wname, bname = f"{conv.name}/bn_weights", f"{conv.name}/bn_bias"
            self.consts[wname] = (w * k.reshape(-1, 1, 1, 1)).astype(w.dtype)
            self.consts[bname] = ((b - mean) * k + beta).astype(w.dtype)
            conv.inputs = [conv.inputs[0], wname, bname]
            conv.outputs = list(bn.outputs[:1])
            self.nodes.remove(bn)

    def _producer(self, name: str) -> _Node | None:
        return next((n for n in self.nodes if name in n.outputs), None)

    def _fuse_bias_add(self) -> None:
        """MatMul(x, W) + b with constant b becomes one fully-connected op (_FC)."""
        for mm in [n for n in self.nodes if n.op_type == "MatMul"]:
            add = self._single_user(mm.outputs[0])
            if add is None or add.op_type != "Add":
                continue
            other = add.inputs[1] if add.inputs[0] == mm.outputs[0] else add.inputs[0]
            if other in self.consts or other in self.qconsts:
                mm.bias, mm.outputs = other, list(add.outputs)
                self.nodes.remove(add)

    def _fuse_activations(self) -> None:
        for act_node in [n for n in self.nodes if n.op_type in ("Relu", "Clip")]:
            act = self._activation(act_node)
            prod = self._producer(act_node.inputs[0])
            if prod is None or prod.op_type not in _FUSABLE or prod.act is not Activation.NONE \
                    or self._single_user(prod.outputs[0]) is not act_node:
                raise self.fail(f"{act_node.op_type} node '{act_node.name}' cannot be fused: "
                                "desim supports activations only right after a Conv, Gemm, "
                                "MatMul or Add whose output nothing else reads")
            prod.act, prod.outputs = act, list(act_node.outputs)
            self.nodes.remove(act_node)

    def _activation(self, n: _Node) -> Activation:
        if n.op_type == "Relu":
            return Activation.RELU
        lo, hi = n.attr("min", -math.inf), n.attr("max", math.inf)
        if len(n.inputs) > 1 and n.inputs[1]:
            lo = float(self._const(n, 1))
        if len(n.inputs) > 2 and n.inputs[2]:
            hi = float(self._const(n, 2))
        for act, bounds in ((Activation.RELU, (0.0, math.inf)), (Activation.RELU6, (0.0, 6.0)),
                            (Activation.RELU_N1_TO_1, (-1.0, 1.0))):
            if (lo, hi) == bounds:
                return act
        raise self.fail(f"Clip node '{n.name}' clamps to [{lo}, {hi}]; supported: "
                        "[0, inf), [0, 6] and [-1, 1]")

    def _collect_quant(self) -> None:
        """Activation parameters from every node that states them."""
        for n in self.nodes:
            t = n.op_type
            if t == "QuantizeLinear":
                self.act_quant[n.outputs[0]] = self._quant(n, 1, n.attr("axis", 1))
                self.out_dtype[n.outputs[0]] = self._zp_dtype(n, 2)
            elif t == "DequantizeLinear":
                self.act_quant.setdefault(n.inputs[0], self._quant(n, 1, n.attr("axis", 1)))
            elif t in _QLINEAR_IO:
                ins, out = _QLINEAR_IO[t](len(n.inputs))
                for i in ins:
                    self.act_quant.setdefault(n.inputs[i], self._quant(n, i + 1, None))
                self.act_quant[n.outputs[0]] = self._quant(n, out, None)
                self.out_dtype[n.outputs[0]] = self._zp_dtype(n, out + 1)

    def _absorb_qdq(self) -> None:
        """Run ops between DequantizeLinear and QuantizeLinear on the quantised tensors."""
        dq = {n.outputs[0]: n for n in self.nodes if n.op_type == "DequantizeLinear"}
        absorbed: set[int] = set()
        for n in self.nodes:
            if n.op_type in _QDQ_FREE:
                continue
            acts = [i for i in self._activation_inputs(n) if i]
            q = self._single_user(n.outputs[0])
            if not acts or not all(i in dq for i in acts) or q is None \
                    or q.op_type != "QuantizeLinear":
                continue
            if n.op_type in ("Conv", "Gemm", "MatMul") and n.inputs[1] not in self.qconsts:
                continue  # float weights: leave the op in float
            n.inputs = [dq[i].inputs[0] if i in acts else i for i in n.inputs]
            n.outputs = list(q.outputs)
            absorbed.add(id(q))
        self.nodes = [n for n in self.nodes if id(n) not in absorbed]
        self.nodes = [n for n in self.nodes if n.op_type != "DequantizeLinear"
                      or self._consumers(n.outputs[0]) or n.outputs[0] in self.outputs]

    def _activation_inputs(self, n: _Node) -> list[str]:
        if n.op_type in ("Conv", "Gemm", "MatMul", "Pad", "Reshape", "Squeeze", "Unsqueeze",
                         "Clip"):
            return n.inputs[:1]
        return [i for i in n.inputs if i not in self.consts and i not in self.qconsts]

    # -- conversion -------------------------------------------------------------------

    def _in(self, n: _Node, index: int) -> Tensor:
        name = n.inputs[index] if len(n.inputs) > index else ""
        if name not in self.tensors:
            raise self.fail(f"{n.op_type} node '{n.name}' reads '{name}', which is neither a "
                            "graph input, a constant nor an earlier node's output (nodes "
                            "must be topologically sorted)")
        return self.tensors[name]

    def _new(self, n: _Node, shape: tuple[int, ...], dtype: str, onnx_shape: tuple[int, ...],
             like: Tensor | None = None) -> Tensor:
        """The output tensor of ``n``; ``onnx_shape`` is checked against shape inference.

        An integer output takes the parameters stated for it in the file (a QLinear op's
        output scale, the QuantizeLinear it was absorbed with), else those of ``like``.
        """
        name = n.outputs[0]
        inferred = self.onnx_shapes.get(name)
        if inferred is not None and len(inferred) == len(onnx_shape) and any(
                a is not None and a != b for a, b in zip(inferred, onnx_shape, strict=True)):
            raise self.fail(f"{n.op_type} node '{n.name}': computed output shape "
                            f"{list(onnx_shape)} differs from ONNX shape inference "
                            f"{list(inferred)}; export the model again (its shapes disagree)")
        self.onnx_shapes[name] = onnx_shape
        dtype = self.out_dtype.get(name, dtype)
        quant = None
        if dtype in INTEGER_DTYPES:
            quant = self.act_quant.get(name, like.quant if like is not None else None)
        t = Tensor(name, shape, dtype, quant)
        self.tensors[name] = t
        return t

    def _convert(self, n: _Node) -> list[Op]:
        try:
            return [_CONVERTERS[n.op_type](self, n)]
        except SpecError as exc:
            if str(exc).startswith(self.source):
                raise
            raise self.fail(f"{n.op_type} node '{n.name}': {exc}") from None

    def _weights(self, n: _Node, index: int, perm: tuple[int, ...], x: Tensor) -> Tensor:
        """Weights moved to the IR layout by ``perm``, with their quantisation."""
        name = n.inputs[index]
        q = self.qconsts.get(name)
        if q is not None:
            data, quant = q.data, q.quant
            if quant.axis is not None:
                if quant.axis not in perm:
                    raise self.fail(f"{n.op_type} node '{n.name}': weights '{name}' are "
                                    f"quantised per channel along axis {quant.axis}, but "
                                    f"have {len(perm)} dimensions; give an axis below "
                                    f"{len(perm)}")
                quant = Quant(quant.scale, quant.zero_point, perm.index(quant.axis))
        elif name in self.consts:
            data, quant = self.consts[name], None
        else:
            raise self.fail(f"{n.op_type} node '{n.name}': weights '{name}' must be constant")
        if data.ndim != len(perm):
            raise self.fail(f"{n.op_type} node '{n.name}': weights '{name}' have shape "
                            f"{list(data.shape)}; expected {len(perm)} dimensions")
        if x.quant is not None and quant is None:
            raise self.fail(f"{n.op_type} node '{n.name}': weights '{name}' are not quantised "
                            "but the op's input is; quantise them too (DequantizeLinear)")
        data = np.ascontiguousarray(np.transpose(data, perm))
        return Tensor(name, data.shape, str(data.dtype), quant, True, data)

    def _qlinear_weights(self, n: _Node, axis: int) -> None:
        """A QLinear op's weights (input 3, scale 4, zero point 5) as a quantised constant."""
        self.qconsts[n.inputs[3]] = _QConst(self._const(n, 3), self._quant(n, 4, axis))

    def _bias(self, n: _Node, name: str, x: Tensor, w: Tensor) -> Tensor | None:
        """The bias; for a quantised op it is int32 at scale input_scale * weight_scale."""
        if not name:
            return None
        q = self.qconsts.get(name)
        if q is not None:
            data = q.data.reshape(-1)
            return Tensor(name, data.shape, str(data.dtype), q.quant, True, data)
        if name not in self.consts:
            raise self.fail(f"{n.op_type} node '{n.name}': bias '{name}' must be constant")
        b = self.consts[name].reshape(-1)
        if x.quant is None or w.quant is None:
            return Tensor(name, b.shape, str(b.dtype), None, True, b)
        scale = np.float32(x.quant.scale[0]) * np.asarray(w.quant.scale, np.float32)
        scale = np.broadcast_to(scale, b.shape).astype(np.float64)
        if w.quant.axis is not None:
            quant = Quant(tuple(scale), (0,) * b.size, 0)
        else:
            quant = Quant((float(scale[0]),), (0,))
        data = b.astype(np.int32) if b.dtype.kind in "iu" else np.round(b / scale).astype(np.int32)
        return Tensor(name, b.shape, "int32", quant, True, data)

    def _window(self, n: _Node, x: Tensor, kernel: tuple[int, int]) -> tuple[
            tuple[int, int], tuple[int, int], Padding]:
        """Stride, dilation and explicit padding of a conv or pool node."""
        strides = tuple(n.attr("strides", (1, 1)))
        dil = tuple(n.attr("dilations", (1, 1)))
        if len(kernel) != 2 or len(strides) != 2 or len(dil) != 2:
            raise self.fail(f"{n.op_type} node '{n.name}': only 2-D windows are supported")
        h, w = x.shape[1], x.shape[2]
        auto = n.attr("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            (t, b), (le, r) = (same_pads(h, kernel[0], strides[0], dil[0]),
                               same_pads(w, kernel[1], strides[1], dil[1]))
            if auto == "SAME_LOWER":
                t, b, le, r = b, t, r, le
            pad = Padding(t, b, le, r)
        elif auto == "VALID":
            pad = Padding()
        else:
            p = list(n.attr("pads", (0, 0, 0, 0)))
            pad = Padding(p[0], p[2], p[1], p[3])
        if n.attr("ceil_mode", 0):
            for size, k, st, a, b2 in ((h, kernel[0], strides[0], pad.top, pad.bottom),
                                       (w, kernel[1], strides[1], pad.left, pad.right)):
                if (size + a + b2 - k) % st:
                    raise self.fail(f"{n.op_type} node '{n.name}': ceil_mode=1 changes the "
                                    "output size here; export it with ceil_mode=0 (only floor "
                                    "mode is supported)")
        return (int(strides[0]), int(strides[1])), (int(dil[0]), int(dil[1])), pad

    def _out4(self, n: _Node, x: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
              dil: tuple[int, int], pad: Padding, channels: int,
              like: Tensor | None = None) -> Tensor:
        ho = window_output(x.shape[1], kernel[0], stride[0], pad.top, pad.bottom, dil[0])
        wo = window_output(x.shape[2], kernel[1], stride[1], pad.left, pad.right, dil[1])
        return self._new(n, (x.shape[0], ho, wo, channels), x.dtype,
                         (x.shape[0], channels, ho, wo), like)

    def conv(self, n: _Node) -> Op:
        x = self._in(n, 0)
        if x.rank != 4:
            raise self.fail(f"{n.op_type} node '{n.name}': only 2-D convolutions on NCHW "
                            f"inputs are supported, input has shape {x.shape}")
        qlinear = n.op_type == "QLinearConv"
        widx, bidx = (3, 8) if qlinear else (1, 2)
        if qlinear:
            self._qlinear_weights(n, 0)
        raw = self.qconsts[n.inputs[widx]].data if n.inputs[widx] in self.qconsts \
            else self._const(n, widx)
        if raw.ndim != 4:
            raise self.fail(f"Conv node '{n.name}': only 2-D convolutions are supported")
        co, ci_g, kh, kw = raw.shape
        group, ci = int(n.attr("group", 1)), x.shape[3]
        if group == 1:
            kind, perm = OpKind.CONV2D, (0, 2, 3, 1)
        elif group == ci and ci_g == 1:
            kind, perm = OpKind.DEPTHWISE_CONV2D, (1, 2, 3, 0)
        else:
            raise self.fail(f"Conv node '{n.name}': grouped convolution (group={group}, "
                            f"{ci} input channels) is not supported; only group=1 and "
                            "depthwise (group = input channels)")
        w = self._weights(n, widx, perm, x)
        b = self._bias(n, n.inputs[bidx] if len(n.inputs) > bidx else "", x, w)
        stride, dil, pad = self._window(n, x, (kh, kw))
        out = self._out4(n, x, (kh, kw), stride, dil, pad, co)
        return Op(n.name, kind, (x,), out, w, b, (kh, kw), stride, dil, pad, n.act)

    def fully_connected(self, n: _Node) -> Op:
        x = self._in(n, 0)
        if x.rank != 2:
            raise self.fail(f"{n.op_type} node '{n.name}': input must be 2-D (batch, "
                            f"features), has shape {x.shape}")
        widx, bias, perm = 1, n.bias or "", (1, 0)
        if n.op_type == "Gemm":
            if n.attr("alpha", 1.0) != 1.0 or n.attr("beta", 1.0) != 1.0 or n.attr("transA", 0):
                raise self.fail(f"Gemm node '{n.name}': only alpha=1, beta=1, transA=0 are "
                                "supported")
            perm = (0, 1) if n.attr("transB", 0) else (1, 0)
            bias = n.inputs[2] if len(n.inputs) > 2 else ""
        elif n.op_type == "QLinearMatMul":
            widx = 3
            self._qlinear_weights(n, 1)
        w = self._weights(n, widx, perm, x)
        if x.name in self.chw:  # flattened from C x H x W: reorder columns to H x W x C
            c, h, wd = self.chw[x.name]
            assert w.data is not None
            if w.shape[1] != c * h * wd:
                raise self.fail(f"{n.op_type} node '{n.name}': weights '{w.name}' take "
                                f"{w.shape[1]} inputs, but the flattened input has "
                                f"{c} x {h} x {wd} = {c * h * wd}; fix the shapes")
            data = w.data.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape)
            w = Tensor(w.name, w.shape, w.dtype, w.quant, True, np.ascontiguousarray(data))
        b = self._bias(n, bias, x, w)
        out = self._new(n, (x.shape[0], w.shape[0]), x.dtype, (x.shape[0], w.shape[0]))
        return Op(n.name, OpKind.FULLY_CONNECTED, (x,), out, w, b, activation=n.act)

    def add(self, n: _Node) -> Op:
        if n.op_type == "QLinearAdd":
            a, b = self._in(n, 0), self._in(n, 3)
        else:
            for i in n.inputs:
                if i in self.consts or i in self.qconsts:
                    raise self.fail(f"Add node '{n.name}': adding a constant is supported only "
                                    "as the bias of a MatMul")
            a, b = self._in(n, 0), self._in(n, 1)
        out = self._new(n, a.shape, a.dtype, self._onnx_shape(a))
        return Op(n.name, OpKind.ADD, (a, b), out, activation=n.act)

    def pool(self, n: _Node) -> Op:
        x = self._in(n, 0)
        if x.rank != 4:
            raise self.fail(f"{n.op_type} node '{n.name}': input must be NCHW, has {x.shape}")
        if n.attr("channels_last", 0):
            raise self.fail(f"{n.op_type} node '{n.name}': channels_last=1 is not supported")
        kind = OpKind.MAX_POOL2D if "Max" in n.op_type else OpKind.AVG_POOL2D
        if "Global" in n.op_type:
            kernel = (x.shape[1], x.shape[2])
            n.attrs["strides"] = kernel
        else:
            k = n.attr("kernel_shape")
            kernel = (int(k[0]), int(k[-1])) if k is not None and len(k) == 2 else (0, 0)
            if k is None or len(k) != 2:
                raise self.fail(f"{n.op_type} node '{n.name}': only 2-D pooling is supported")
        stride, dil, pad = self._window(n, x, kernel)
        if dil != (1, 1):
            raise self.fail(f"{n.op_type} node '{n.name}': dilated pooling is not supported")
        if n.attr("count_include_pad", 0) and pad != Padding():
            raise self.fail(f"{n.op_type} node '{n.name}': count_include_pad=1 with padding "
                            "is not supported (desim averages over valid positions, as TFLite)")
        out = self._out4(n, x, kernel, stride, dil, pad, x.shape[3], like=x)
        return Op(n.name, kind, (x,), out, kernel=kernel, stride=stride, padding=pad)

    def concat(self, n: _Node) -> Op:
        first = 2 if n.op_type == "QLinearConcat" else 0
        step = 3 if n.op_type == "QLinearConcat" else 1
        xs = [self._in(n, i) for i in range(first, len(n.inputs), step)]
        rank = xs[0].rank
        axis = int(n.attr("axis")) % rank
        onnx_in = [self.onnx_shapes[t.name] for t in xs]
        shape = [int(d or 0) for d in onnx_in[0]]
        shape[axis] = sum(int(s[axis] or 0) for s in onnx_in)
        ir_axis = _NCHW_TO_NHWC.index(axis) if rank == 4 else axis
        out = self._new(n, _to_nhwc(tuple(shape)), xs[0].dtype, tuple(shape), like=xs[0])
        return Op(n.name, OpKind.CONCAT, tuple(xs), out, axis=ir_axis)

    def reshape(self, n: _Node) -> Op:
        x = self._in(n, 0)
        src = self._onnx_shape(x)
        dst = self._reshape_target(n, src)
        if not _order_free(src) or not _order_free(dst):
            users = self._consumers(n.outputs[0])
            if len(src) == 4 and len(dst) == 2 and users and all(
                    u.op_type in ("Gemm", "MatMul", "QLinearMatMul") for u in users):
                self.chw[n.outputs[0]] = (src[1], src[2], src[3])
            else:
                raise self.fail(f"{n.op_type} node '{n.name}' turns {list(src)} into "
                                f"{list(dst)}, which changes element order between NCHW and "
                                "desim's NHWC layout; supported only when it feeds a Gemm or "
                                "MatMul")
        out = self._new(n, _to_nhwc(dst), x.dtype, dst, like=x)
        return Op(n.name, OpKind.RESHAPE, (x,), out)

    def _onnx_shape(self, t: Tensor) -> tuple[int, ...]:
        return tuple(int(d or 0) for d in self.onnx_shapes[t.name])

    def _reshape_target(self, n: _Node, src: tuple[int, ...]) -> tuple[int, ...]:
        """Output shape of Reshape, Flatten, Squeeze, Unsqueeze (ONNX semantics)."""
        if n.op_type == "Flatten":
            axis = int(n.attr("axis", 1)) % (len(src) or 1)
            return (math.prod(src[:axis]), math.prod(src[axis:]))
        if n.op_type in ("Squeeze", "Unsqueeze"):
            axes = n.attr("axes")
            if axes is None and len(n.inputs) > 1 and n.inputs[1]:
                axes = self._const(n, 1).tolist()
            if n.op_type == "Squeeze":
                drop = {a % len(src) for a in axes} if axes is not None else {
                    i for i, d in enumerate(src) if d == 1}
                return tuple(d for i, d in enumerate(src) if i not in drop)
            rank = len(src) + len(axes or ())
            put = {a % rank for a in axes or ()}
            rest = iter(src)
            return tuple(1 if i in put else next(rest) for i in range(rank))
        spec = [int(v) for v in self._const(n, 1).reshape(-1)]
        zero_copies = not n.attr("allowzero", 0)
        dims = [src[i] if v == 0 and zero_copies else v for i, v in enumerate(spec)]
        if dims.count(-1) == 1:
            known = math.prod(d for d in dims if d != -1)
            dims[dims.index(-1)] = math.prod(src) // known if known else 0
        return tuple(dims)

    def pad(self, n: _Node) -> Op:
        x = self._in(n, 0)
        mode = n.attr("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise self.fail(f"Pad node '{n.name}': mode '{mode}' is not supported, only "
                            "'constant'")
        if len(n.inputs) > 3 and n.inputs[3]:
            raise self.fail(f"Pad node '{n.name}': the 'axes' input is not supported")
        raw = n.attr("pads") if n.attr("pads") is not None else self._const(n, 1).tolist()
        value = float(self._const(n, 2).reshape(-1)[0]) if len(n.inputs) > 2 and n.inputs[2] \
            else float(n.attr("value", 0.0))
        zero = x.quant.zero_point[0] if x.quant is not None else 0
        if value != zero:
            raise self.fail(f"Pad node '{n.name}': pad value {value} is not supported; desim "
                            f"pads with zero (the zero point, {zero}, when quantised)")
        rank = x.rank
        onnx_pads = [(int(raw[i]), int(raw[i + rank])) for i in range(rank)]
        src = self._onnx_shape(x)
        dst = tuple(d + a + b for d, (a, b) in zip(src, onnx_pads, strict=True))
        pads = tuple(onnx_pads[i] for i in _NCHW_TO_NHWC) if rank == 4 else tuple(onnx_pads)
        out = self._new(n, _to_nhwc(dst), x.dtype, dst, like=x)
        return Op(n.name, OpKind.PAD, (x,), out, pads=pads)

    def softmax(self, n: _Node) -> Op:
        x = self._in(n, 0)
        src = self._onnx_shape(x)
        opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")),
                     13)
        axis = int(n.attr("axis", -1 if opset >= 13 else 1)) % len(src)
        if opset < 13 and axis != len(src) - 1:
            raise self.fail(f"Softmax node '{n.name}': opset {opset} flattens from axis "
                            f"{axis}; desim supports the softmax over the last axis only")
        ir_axis = _NCHW_TO_NHWC.index(axis) if len(src) == 4 else axis
        out = self._new(n, x.shape, x.dtype, src)
        return Op(n.name, OpKind.SOFTMAX, (x,), out, axis=ir_axis)

    def quantize(self, n: _Node) -> Op:
        x = self._in(n, 0)
        if n.op_type == "QuantizeLinear":
            kind, dtype = OpKind.QUANTIZE, self._zp_dtype(n, 2)
        else:
            kind, dtype = OpKind.DEQUANTIZE, "float32"
        out = self._new(n, x.shape, dtype, self._onnx_shape(x))
        return Op(n.name, kind, (x,), out)


def _to_nhwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[i] for i in _NCHW_TO_NHWC) if len(shape) == 4 else tuple(shape)


def _order_free(shape: tuple[int, ...]) -> bool:
    """NCHW and NHWC list this tensor's elements in the same order."""
    return len(shape) != 4 or shape[1] == 1 or shape[2] * shape[3] == 1


_CONVERTERS: dict[str, Callable[[_Importer, _Node], Op]] = {
    "Conv": _Importer.conv, "QLinearConv": _Importer.conv,
    "Gemm": _Importer.fully_connected, "MatMul": _Importer.fully_connected,
    "QLinearMatMul": _Importer.fully_connected,
    "Add": _Importer.add, "QLinearAdd": _Importer.add,
    "AveragePool": _Importer.pool, "MaxPool": _Importer.pool,
    "GlobalAveragePool": _Importer.pool, "GlobalMaxPool": _Importer.pool,
    "QLinearAveragePool": _Importer.pool, "QLinearGlobalAveragePool": _Importer.pool,
    "Concat": _Importer.concat, "QLinearConcat": _Importer.concat,
    "Reshape": _Importer.reshape, "Flatten": _Importer.reshape,
    "Squeeze": _Importer.reshape, "Unsqueeze": _Importer.reshape,
    "Pad": _Importer.pad, "Softmax": _Importer.softmax,
    "QuantizeLinear": _Importer.quantize, "DequantizeLinear": _Importer.quantize,
}
