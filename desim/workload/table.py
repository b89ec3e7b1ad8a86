"""The per-layer table of a graph: one row per op, then totals."""

from __future__ import annotations

from typing import Any

from desim.workload.graph import Graph
from desim.workload.op import WINDOWED, Op, OpKind

COLUMNS = ("#", "name", "op", "input", "kernel", "stride", "pad", "output", "act",
           "params", "MACs", "act in B", "act out B")
_NUMERIC = {"#", "params", "MACs", "act in B", "act out B"}


def fmt_shape(shape: tuple[int, ...]) -> str:
    """``HxWxC`` with a batch of 1 dropped: (1, 32, 32, 3) -> 32x32x3, (1, 64) -> 64."""
    dims = shape[1:] if len(shape) > 1 and shape[0] == 1 else shape
    return "x".join(map(str, dims)) or "scalar"


def layer_row(index: int, op: Op) -> dict[str, Any]:
    """One table row as plain data (numbers stay ints)."""
    kernel = stride = pad = ""
    if op.kind in WINDOWED:
        kernel = "x".join(map(str, op.kernel))
        stride = ",".join(map(str, op.stride))
        pad = str(op.padding)
    elif op.kind is OpKind.FULLY_CONNECTED and op.weights is not None:
        kernel = f"{op.weights.shape[1]}x{op.weights.shape[0]}"
    return {"#": index, "name": op.name, "op": op.kind.value,
            "input": " + ".join(fmt_shape(t.shape) for t in op.inputs if not t.const),
            "kernel": kernel, "stride": stride, "pad": pad, "output": fmt_shape(op.output.shape),
            "act": "" if op.activation == "none" else op.activation.value,
            "params": op.params, "MACs": op.macs, "act in B": op.act_in_bytes,
            "act out B": op.act_out_bytes}


def format_table(graph: Graph) -> str:
    """Aligned text table; pad is explicit top,bottom,left,right; then a totals block."""
    rows = [layer_row(i, op) for i, op in enumerate(graph.ops)]
    total: dict[str, Any] = {c: "" for c in COLUMNS}
    total.update({"name": "total", "params": graph.params, "MACs": graph.macs})
    cells = [[_cell(c, r[c]) for c in COLUMNS] for r in (*rows, total)]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if c in _NUMERIC else v.ljust(w)
                         for c, v, w in zip(COLUMNS, values, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    s = graph.summary()
    def io(ts: tuple) -> str:
        return ", ".join(f"{t.name} {fmt_shape(t.shape)} {t.dtype}" for t in ts)

    head = (f"{graph.name}  ({graph.source or 'built in code'})  inputs: {io(graph.inputs)}  "
            f"outputs: {io(graph.outputs)}")
    body = [line(list(COLUMNS)), rule, *(line(c) for c in cells[:-1]), rule, line(cells[-1])]
    foot = (f"{s['ops']} ops, {s['params']:,} params, {s['macs']:,} MACs, "
            f"weights {s['weight_bytes']:,} B, "
            f"largest layer in+out {s['largest_layer_bytes']:,} B, "
            f"peak live activations {s['peak_activation_bytes']:,} B (topological order)")
    return "\n".join([head, "", *body, "", foot])


def _cell(column: str, value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and column != "#" else str(value)
