"""Every input surface of desim, as a generator of bad input and the contract check.

A surface is a function ``(data, root) -> violations``: it draws one case with
hypothesis's ``data`` object, writes the case's files under the empty folder ``root``,
runs the command (or API call) on them and returns how the outcome breaks the contract of
:mod:`contract` (an empty list when it keeps it). :data:`SURFACES` lists them by name;
the test suite and ``benchmarks/fuzz.py`` draw from the same functions.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import re
import shutil
import string
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import corpus
from .contract import Call, check_api, check_cli, run_cli, violations
from .mutate import spoiled_bytes, spoiled_doc

Surface = Callable[[st.DataObject, Path], list[str]]

PLATFORMS = ("pulp_cluster", "imc_cluster", "stream_soc", "flat_cluster", "gap9",
             "hetero_cluster")
#: the small workload the surfaces run (< 0.1 s on every platform)
WORKLOAD = "autoencoder"
#: runs estimated beyond this are refused (--max-minutes): 1.2 s, so that a run whose
#: estimate is many times too low still ends well within the time limit
MAX_MINUTES = ["--max-minutes", "0.02"]


def workload_of(platform: str) -> str:
    """The small workload ``platform`` runs (stream_soc runs synthetic tile streams)."""
    return "tiles" if platform == "stream_soc" else WORKLOAD


def _draw(data: st.DataObject, strategy: st.SearchStrategy[Any], label: str = "") -> Any:
    return data.draw(strategy, label=label or None)


# -- --set keys and values ------------------------------------------------------------------

@functools.cache
def _keys(platform: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The platform's dotted parameter keys and its group names."""
    from desim.soc.loader import load_platform
    from desim.spec import flat_keys

    keys = tuple(flat_keys(load_platform(platform).default_spec()))
    groups = tuple(sorted({k.rsplit(".", 1)[0] for k in keys if "." in k}))
    return keys, groups


def _misspelt(key: str) -> st.SearchStrategy[str]:
    """``key`` with one character dropped, doubled, swapped or changed."""
    def edit(args: tuple[int, str, str]) -> str:
        i, how, ch = args
        i %= max(len(key), 1)
        if how == "drop":
            return key[:i] + key[i + 1:]
        if how == "double":
            return key[:i] + key[i] + key[i:]
        if how == "swap" and i + 1 < len(key):
            return key[:i] + key[i + 1] + key[i] + key[i + 2:]
        return key[:i] + ch + key[i + 1:]

    return st.tuples(st.integers(0, 60), st.sampled_from(["drop", "double", "swap", "change"]),
                     st.sampled_from(string.ascii_lowercase + "._")).map(edit).filter(
        lambda k: k != key)


_VALUE_TEXT = ["nan", "NaN", "inf", "-inf", "1e309", "-1e309", "-0", "0", "-1", "1e9", "1e18",
               "1e30", "1e-300", "0x10", "1_000", "true", "false", "none", "null", "", " ",
               "abc", "ddr4_3200", "lpddr4_2400", "hyperram", "no_such_preset", "1,2,3", "é",
               "１２", "1.5", "2**64", "9" * 40, "-9" + "9" * 40, "0.0", "1e-9", "[1]", "{}"]


def set_values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(_VALUE_TEXT),
        st.integers(-(10**30), 10**30).map(str),
        st.integers(-4, 4096).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(max_size=8),
    )


@st.composite
def set_items(draw: st.DrawFn, platform: str) -> tuple[list[str], list[str]]:
    """1 to 3 ``--set`` items and the key names an error may give."""
    keys, groups = _keys(platform)
    key = st.one_of(
        st.sampled_from(keys), st.sampled_from(keys), st.sampled_from(keys).flatmap(_misspelt),
        st.sampled_from(groups), st.text(string.ascii_letters + string.digits + "._-",
                                         max_size=24),
        st.sampled_from(["", ".", "..", "cluster.", ".n_cores", "a.b.c.d"]))
    items, names = [], ["--set"]
    for _ in range(draw(st.integers(1, 3))):
        k, v = draw(key), draw(set_values())
        form = draw(st.sampled_from(["kv", "kv", "kv", "kv", "no_eq", "spaces"]))
        items.append(f"{k}{v}" if form == "no_eq" else f" {k} = {v} " if form == "spaces"
                     else f"{k}={v}")
        names += [k.strip(), *(p for p in k.split(".") if len(p) > 1)]
    return items, names


def surface_set(data: st.DataObject, root: Path) -> list[str]:
    """``desim run --set`` (and ``platforms show --set``) with odd keys and values, one to
    three at a time, so that individually valid values meet in inconsistent combinations."""
    platform = _draw(data, st.sampled_from(PLATFORMS), "platform")
    items, names = _draw(data, set_items(platform), "sets")
    sets = [f"--set={i}" for i in items]
    if _draw(data, st.integers(0, 9), "command") == 0:
        return check_cli(Call(["platforms", "show", platform, *sets], root, names=names))
    return check_cli(Call(["run", platform, "-w", workload_of(platform), "--no-trace", "-o",
                           "out", *MAX_MINUTES, *sets],
                          root, outputs=["out"], names=names))


_API_VALUES: list[Any] = [None, float("nan"), float("inf"), -1, 0, 10**30, -(10**30), 1.5,
                          [1, 2], (1, 2), {}, {"a": 1}, object(), b"x", True, "", "x",
                          np.int64(4), np.float32("nan"), np.array([1, 2])]


def surface_api(data: st.DataObject, root: Path) -> list[str]:
    """``desim.simulate`` with overrides of any Python type, and odd platform, workload and
    seed arguments: it returns or raises DesimError."""
    import desim

    platform = _draw(data, st.sampled_from(PLATFORMS), "platform")
    keys, groups = _keys(platform)
    overrides = _draw(data, st.dictionaries(
        st.one_of(st.sampled_from(keys), st.sampled_from(groups), st.text(max_size=6)),
        st.one_of(st.sampled_from(_API_VALUES), set_values()), max_size=3), "overrides")
    seed = _draw(data, st.sampled_from([0, 1, -1, 2**70, 1.5, "x", None]), "seed")
    workload = _draw(data, st.sampled_from([workload_of(platform), WORKLOAD, "", "nope",
                                            "a/b.onnx",
                                            str(root)]), "workload")
    label = f"simulate({platform!r}, {workload!r}, seed={seed!r}, overrides={overrides!r})"
    return check_api(lambda: desim.simulate(platform, workload, seed=seed, overrides=overrides,
                                            max_minutes=float(MAX_MINUTES[1])), label)


# -- model files --------------------------------------------------------------------------

def _model_call(data: st.DataObject, root: Path, name: str, blob: bytes) -> list[str]:
    """Write ``blob`` as the model ``name`` and show it, run it, or load it by the API."""
    from desim.workload import load_workload

    path = root / name
    path.write_bytes(blob)
    how = _draw(data, st.sampled_from(["show", "show", "show", "run", "api"]), "command")
    if how == "api":
        return check_api(lambda: load_workload(str(path)), f"load_workload({name})")
    if how == "show":
        return check_cli(Call(["workloads", "show", name], root, names=[name]))
    platform = _draw(data, st.sampled_from([p for p in PLATFORMS if p != "stream_soc"]),
                     "platform")
    return check_cli(Call(["run", platform, "-w", name, "--no-trace", "-o", "out",
                           *MAX_MINUTES], root, outputs=["out"],
                          names=[name, "l1", "l2", "dram", "--max-minutes"]))


def surface_tflite(data: st.DataObject, root: Path) -> list[str]:
    """Random bytes, and truncated, bit-flipped, overwritten or int-spliced copies of the
    shipped TFLite models."""
    models = corpus.tflite_models()
    kind = _draw(data, st.sampled_from(["random", "header", "spoiled", "spoiled", "spoiled"]),
                 "kind")
    if kind == "random" or not models:
        blob = _draw(data, st.binary(max_size=512), "bytes")
    elif kind == "header":
        blob = b"\x1c\x00\x00\x00TFL3" + _draw(data, st.binary(max_size=512), "bytes")
    else:
        base = _draw(data, st.sampled_from(sorted(models)), "model")
        blob = _draw(data, spoiled_bytes(models[base]), "spoiled")
    return _model_call(data, root, "model.tflite", blob)


# ONNX: structural edits of a valid model (each reaching one check of the importer)

_UNSUPPORTED = ["Sigmoid", "LSTM", "Conv3D", "Foo", "", "Loop", "If", "Resize", "Transpose"]


def _onnx_edit(model: Any, edit: str, pick: int, value: Any) -> None:
    """Apply one structural edit to an ONNX ModelProto in place."""
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    nodes = list(g.node)
    n = nodes[pick % len(nodes)]
    if edit == "input_dim":
        dims = g.input[0].type.tensor_type.shape.dim
        d = dims[pick % len(dims)]
        if isinstance(value, str):
            d.dim_param = value
        else:
            d.dim_value = int(value)
    elif edit == "input_rank":
        del g.input[0].type.tensor_type.shape.dim[pick % 4]
    elif edit == "unsupported_op":
        n.op_type = _UNSUPPORTED[pick % len(_UNSUPPORTED)]
    elif edit == "domain":
        n.domain = "com.example"
    elif edit == "cycle":
        first, last = nodes[0], nodes[-1]
        first.input[0] = last.output[0]
    elif edit == "self_loop":
        n.input[0] = n.output[0]
    elif edit == "dangling_input":
        n.input[pick % len(n.input)] = "no_such_tensor"
    elif edit == "dangling_output":
        g.output[0].name = "never_produced"
    elif edit == "written_twice":
        nodes[-1].output[0] = nodes[0].output[0]
    elif edit == "drop_initializer":
        del g.initializer[pick % len(g.initializer)]
    elif edit == "initializer":
        init = g.initializer[pick % len(g.initializer)]
        arr = numpy_helper.to_array(init)
        new = np.full(value if isinstance(value, tuple) else (int(value) % 7,),
                      np.nan if arr.dtype.kind == "f" else 0, dtype=arr.dtype)
        init.CopyFrom(numpy_helper.from_array(new, init.name))
    elif edit == "attribute":
        if n.attribute:
            a = n.attribute[pick % len(n.attribute)]
            if a.ints:
                a.ints[pick % len(a.ints)] = int(value)
            elif a.type == a.INT:
                a.i = int(value)
            elif a.type == a.FLOAT:
                a.f = float(value)
        else:
            n.attribute.append(helper.make_attribute("axis", int(value)))
    elif edit == "quant_scale":
        scales = [i for i in g.initializer if i.name.endswith("_s")]
        if scales:
            init = scales[pick % len(scales)]
            arr = numpy_helper.to_array(init)
            init.CopyFrom(numpy_helper.from_array(np.full(arr.shape, value, np.float32),
                                                  init.name))
    elif edit == "quant_zero_point":
        zps = [i for i in g.initializer if i.name.endswith("_z")]
        if zps:
            init = zps[pick % len(zps)]
            kinds = [np.int32(0), np.zeros(3, np.int8), np.float32(0.5), np.uint8(200),
                     np.zeros((2, 2), np.int8)]
            init.CopyFrom(numpy_helper.from_array(np.asarray(kinds[pick % len(kinds)]),
                                                  init.name))
    elif edit == "elem_type":
        g.input[0].type.tensor_type.elem_type = [TensorProto.DOUBLE, TensorProto.STRING,
                                                 TensorProto.BOOL, TensorProto.INT8,
                                                 0][pick % 5]
    elif edit == "opset":
        model.opset_import[0].version = int(value) % 40
    elif edit == "no_nodes":
        del g.node[:]


_ONNX_EDITS = ["input_dim", "input_rank", "unsupported_op", "domain", "cycle", "self_loop",
               "dangling_input", "dangling_output", "written_twice", "drop_initializer",
               "initializer", "attribute", "quant_scale", "quant_zero_point", "elem_type",
               "opset", "no_nodes"]
_ONNX_VALUES = [0, -1, 1, 2, 3, 10**6, 10**9, -(10**6), 2**31 - 1, float("nan"),
                float("inf"), -2.0, 0.0, "N", "", (0,), (3, 3), (10**6,), (2, 0, 3)]


def surface_onnx(data: st.DataObject, root: Path) -> list[str]:
    """Small generated ONNX models (float and QDQ) with structural edits: absurd or dynamic
    input shapes, unsupported ops, cycles, dangling tensors, mismatched quantisation, odd
    attributes and initializers; then, sometimes, byte-level spoiling."""
    qdq = _draw(data, st.booleans(), "qdq")
    model = corpus.onnx_model(qdq)
    for _ in range(_draw(data, st.integers(0, 2), "edits")):
        edit = _draw(data, st.sampled_from(_ONNX_EDITS), "edit")
        pick = _draw(data, st.integers(0, 40), "pick")
        value = _draw(data, st.sampled_from(_ONNX_VALUES), "value")
        # an edit that does not apply to this model leaves it as it is
        with contextlib.suppress(ValueError, TypeError, OverflowError, IndexError,
                                 ZeroDivisionError):
            _onnx_edit(model, edit, pick, value)
    blob = bytes(model.SerializeToString())
    if _draw(data, st.integers(0, 3), "bytes") == 0:
        blob = _draw(data, spoiled_bytes(blob), "spoiled")
    return _model_call(data, root, "model.onnx", blob)


@st.composite
def absurd_graph(draw: st.DrawFn) -> str:
    """A valid graph JSON document of one conv with absurd shapes: 1 to 10^6 wide, up to
    4096 channels (MACs up to ~10^18)."""
    from desim.workload.builder import GraphBuilder

    dims = st.sampled_from([1, 2, 7, 64, 1000, 4096, 10**5, 10**6])
    h, w = draw(dims), draw(dims)
    c, f = draw(st.sampled_from([1, 3, 64, 512, 4096])), draw(st.sampled_from([1, 16, 4096]))
    k = draw(st.sampled_from([1, 3, 7]))
    b = GraphBuilder("absurd")
    x = b.input((1, h, w, c))
    b.conv2d(x, f, k, padding="same")
    return json.dumps(b.build().to_dict())


def surface_graph_json(data: st.DataObject, root: Path) -> list[str]:
    """desim graph JSON: zoo graphs with values replaced, dropped or duplicated (zero,
    negative and huge dims, unknown kinds, dangling and twice-written tensors, cycles, odd
    quantisation), and valid graphs of absurd size."""
    kind = _draw(data, st.sampled_from(["spoiled", "spoiled", "spoiled", "absurd", "bytes"]),
                 "kind")
    if kind == "absurd":
        text = _draw(data, absurd_graph(), "graph")
    else:
        base = corpus.graph_doc(_draw(data, st.sampled_from(["autoencoder", "resnet8"]),
                                      "graph"))
        if kind == "bytes":
            text = _draw(data, spoiled_bytes(base.encode()), "spoiled").decode("latin-1")
        else:
            text = json.dumps(_draw(data, spoiled_doc(json.loads(base)), "doc"))
    return _model_call(data, root, "graph.json", text.encode("utf-8", "surrogatepass"))


# -- --input arrays -------------------------------------------------------------------------

class _Pwned:
    """An object whose unpickling would leave a file behind: the proof it ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.marker),))


_DTYPES = ["int8", "int8", "uint8", "int16", "int32", "int64", "float16", "float32",
           "float64", "bool", "complex64", "U3", "S2", "object", "V4"]


@st.composite
def input_files(draw: st.DrawFn, root: Path) -> tuple[bytes, str]:
    """The bytes of an --input file and what it is."""
    dtype = draw(st.sampled_from(_DTYPES))
    shape = draw(st.sampled_from([(1, 640), (1, 640), (640,), (1, 641), (2, 640), (),
                                  (0, 640), (1, 1, 640), (640, 1), (1, 0)]))
    form = draw(st.sampled_from(["npy", "npy", "npy", "truncated", "header", "npz", "raw",
                                 "pickle", "empty", "fortran"]))
    if dtype == "object":
        arr = np.empty(shape, dtype=object)
        if arr.size:
            arr.flat[0] = _Pwned(str(root / "PWNED"))
    else:
        arr = np.zeros(shape, dtype=np.dtype(dtype))
        if arr.dtype.kind in "fc" and arr.size:
            with np.errstate(over="ignore"):  # 1e30 is inf in float16: as meant
                arr.flat[draw(st.integers(0, arr.size - 1))] = draw(
                    st.sampled_from([np.nan, np.inf, -np.inf, 1e30, 0.5]))
        elif arr.dtype.kind in "iu" and arr.size:
            info = np.iinfo(arr.dtype)
            arr.flat[0] = draw(st.sampled_from([info.min, info.max, 0]))
    if form == "fortran":
        arr = np.asfortranarray(arr)
    buf = _npy(arr)
    if form == "truncated":
        buf = buf[:draw(st.integers(0, max(len(buf) - 1, 0)))]
    elif form == "header":
        buf = buf[:10] + draw(st.binary(min_size=1, max_size=40)) + buf[50:]
    elif form == "npz":
        import io

        out = io.BytesIO()
        np.savez(out, a=arr) if dtype != "object" else np.savez(out, a=np.zeros(3))
        buf = out.getvalue()
    elif form == "raw":
        buf = draw(st.binary(max_size=700))
    elif form == "pickle":
        import pickle

        buf = pickle.dumps(_Pwned(str(root / "PWNED")))
    elif form == "empty":
        buf = b""
    return buf, f"{form} {dtype} {shape}"


def _npy(arr: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, arr, allow_pickle=True)
    return out.getvalue()


def surface_input(data: st.DataObject, root: Path) -> list[str]:
    """``desim run --input`` with arrays of the wrong dtype or shape, NaN, object arrays
    (never unpickled), truncated or spoiled .npy files, .npz and pickles; and the same
    arrays given to ``desim.simulate(inputs=...)``."""
    import desim

    buf, what = _draw(data, input_files(root), "input")
    (root / "in.npy").write_bytes(buf)
    if _draw(data, st.integers(0, 4), "api") == 0:
        def call() -> None:
            try:
                arr = np.load(root / "in.npy", allow_pickle=False)
            except Exception:
                return  # not an array numpy reads safely: nothing to hand to the API
            desim.simulate("hetero_cluster", WORKLOAD, inputs=arr,
                           max_minutes=float(MAX_MINUTES[1]))
        bad = check_api(call, f"simulate(inputs=<{what}>)")
    else:
        bad = check_cli(Call(["run", "hetero_cluster", "-w", WORKLOAD, "--input", "in.npy",
                              "--no-trace", "-o", "out", *MAX_MINUTES], root, outputs=["out"],
                             names=["in.npy", "input"]))
    if (root / "PWNED").exists():
        bad.append(f"an --input file was unpickled ({what})")
    return bad


# -- DRAM traces ----------------------------------------------------------------------------

@st.composite
def trace_lines(draw: st.DrawFn) -> list[str]:
    """Trace lines, most valid, some malformed."""
    good = st.builds(lambda a, w, c: f"{a * 64:#010x} {'WRITE' if w else 'READ'} {c}",
                     st.integers(0, 2**20), st.booleans(), st.integers(0, 10**4))
    bad = st.one_of(
        st.sampled_from(["0x40 READ", "0x40 READ 1 2", "READ 0x40 1", "zz READ 1",
                         "0x40 FETCH 1", "0x40 read 1", "0x41 READ 1", "-0x40 READ 1",
                         "0x40 READ -5", "0x40 READ 1.5", "0x40 READ 1e3", "0x40 READ nan",
                         "0xffffffffffffffffff READ 1", "0x40 WRITE 99999999999999999999",
                         "0x40\tREAD\t7", "# a comment", "", "   ", "0x40 READ ０",
                         "\x00\x01", "0x40 READ 10000000000000"]),
        st.text(max_size=30),
        st.builds(lambda a, c: f"{a:#x} READ {c}", st.integers(2**30, 2**64),
                  st.integers(-(10**6), 10**15)))
    lines = draw(st.lists(st.one_of(good, good, good, bad), min_size=0, max_size=40))
    if draw(st.booleans()):  # arrivals out of order
        lines = list(reversed(lines))
    return lines


def surface_dram_trace(data: st.DataObject, root: Path) -> list[str]:
    """``desim dram-replay`` on traces with malformed lines, out-of-range or unaligned
    addresses, unsorted, negative or huge arrival times, and corrupt gzip files."""
    from desim.hw.dram.spec import PRESETS

    lines = _draw(data, trace_lines(), "lines")
    text = "\n".join(lines) + "\n"
    packed = _draw(data, st.sampled_from(["plain", "plain", "gz", "gz_spoiled"]), "packing")
    name = "trace.txt" if packed == "plain" else "trace.txt.gz"
    blob = text.encode("utf-8", "surrogatepass")
    if packed != "plain":
        blob = gzip.compress(blob, mtime=0)
        if packed == "gz_spoiled":
            blob = _draw(data, spoiled_bytes(blob), "spoiled")
    (root / name).write_bytes(blob)
    argv = ["dram-replay", name]
    if _draw(data, st.booleans(), "preset"):
        argv += ["--preset", _draw(data, st.sampled_from([*PRESETS, "ddr9", ""]), "name")]
    if _draw(data, st.integers(0, 3), "set") == 0:
        key = _draw(data, st.sampled_from(["tCCD_L", "rows", "bus_width", "ranks", "tCK_ns",
                                           "refresh", "nope"]), "key")
        argv += [f"--set={key}={_draw(data, set_values(), 'value')}"]
    return check_cli(Call([*argv, *MAX_MINUTES], root,
                          names=[name, "preset", "--set", "tCCD_L", "rows", "bus_width", "ranks",
                                 "tCK_ns", "refresh", "nope"]))


# -- baselines, sweep folders, run folders ---------------------------------------------------

def surface_baseline(data: st.DataObject, root: Path) -> list[str]:
    """``desim regress check`` and ``record`` on a baseline folder with a spoiled file:
    broken JSON, values of the wrong type, another format, unknown or escaping paths."""
    base = corpus.baseline_dir()
    folder = root / "base"
    shutil.copytree(base, folder)
    (path,) = folder.glob("*.json")
    if _draw(data, st.integers(0, 3), "kind") == 0:
        path.write_bytes(_draw(data, spoiled_bytes(path.read_bytes()), "spoiled"))
    else:
        doc = json.loads(path.read_text())
        path.write_text(json.dumps(_draw(data, spoiled_doc(doc), "doc")))
    if _draw(data, st.integers(0, 3), "command") == 0:
        return check_cli(Call(["regress", "record", "base"], root, outputs=["base"],
                              names=[path.name, "base"]))
    return check_cli(Call(["regress", "check", "base"], root, names=[path.name, "base"],
                          ok_codes=(0, 1)))


def surface_sweep_dir(data: st.DataObject, root: Path) -> list[str]:
    """A sweep folder with a spoiled point file or results table, resumed by ``desim
    sweep`` or drawn by ``desim sweep plot``."""
    folder = root / "sw"
    shutil.copytree(corpus.sweep_dir(), folder)
    points = sorted((folder / "points").glob("*.json"))
    target = _draw(data, st.sampled_from([*points, folder / "results.parquet"]), "file")
    raw = target.read_bytes()
    if target.suffix == ".json" and _draw(data, st.booleans(), "structured"):
        target.write_text(json.dumps(_draw(data, spoiled_doc(json.loads(raw)), "doc")))
    else:
        target.write_bytes(_draw(data, spoiled_bytes(raw), "spoiled"))
    if _draw(data, st.booleans(), "command"):
        return check_cli(Call(["sweep", "plot", "sw", "--x", "dma.setup_cycles", "--y",
                               "cycles", "--output", "plot.png"], root, outputs=["plot.png"],
                              names=[target.name, "sw"]))
    return check_cli(Call(["sweep", "stream_soc", "-w", "tiles", "--grid",
                           "dma.setup_cycles=12,20", "--jobs", "1", "-o", "sw"], root,
                          outputs=["sw"], names=[target.name, "sw"]))


def _spoiled_trace(data: st.DataObject, raw: bytes) -> bytes:
    """A trace.json.gz spoiled in its bytes or in its events."""
    if _draw(data, st.booleans(), "trace_bytes"):
        return _draw(data, spoiled_bytes(raw), "spoiled")
    doc = json.loads(gzip.decompress(raw))
    events = doc["traceEvents"]
    # spoil a few events (and sometimes the envelope) rather than the whole document
    sample = {"events": events[:40], "otherData": doc.get("otherData", {})}
    sample = _draw(data, spoiled_doc(sample, 4), "doc")
    if isinstance(sample, dict) and isinstance(sample.get("events"), list):
        doc = {"traceEvents": sample["events"] + events[40:],
               "otherData": sample.get("otherData")}
    else:
        doc = sample
    return gzip.compress(json.dumps(doc).encode(), mtime=0)


def surface_trace_dir(data: st.DataObject, root: Path) -> list[str]:
    """``desim trace summary|stalls|export|plot`` on a run folder whose summary.json or
    trace.json.gz is spoiled."""
    folder = root / "run"
    shutil.copytree(corpus.run_dir(), folder)
    which = _draw(data, st.sampled_from(["summary.json", "trace.json.gz"]), "file")
    path = folder / which
    if which == "summary.json":
        if _draw(data, st.booleans(), "structured"):
            path.write_text(json.dumps(_draw(data, spoiled_doc(json.loads(path.read_text()),
                                                               4), "doc")))
        else:
            path.write_bytes(_draw(data, spoiled_bytes(path.read_bytes()), "spoiled"))
    else:
        path.write_bytes(_spoiled_trace(data, path.read_bytes()))
    command = _draw(data, st.sampled_from(["summary", "stalls", "export", "export", "plot"]),
                    "command")
    names = [which, "run"]
    if command in ("summary", "stalls"):
        return check_cli(Call(["trace", command, "run"], root, names=names))
    if command == "plot":
        kind = _draw(data, st.sampled_from(["timeline", "energy", "roofline"]), "kind")
        return check_cli(Call(["trace", "plot", "run", "--kind", kind, "-o", "p.png"], root,
                              outputs=["p.png"], names=names))
    fmt = _draw(data, st.sampled_from(["csv", "parquet", "vcd", "json"]), "format")
    argv = ["trace", "export", "run", "--format", fmt, "-o", "x.out"]
    if _draw(data, st.booleans(), "window"):
        argv += ["--window", _draw(data, st.sampled_from(["0:10us", "5:1", "nan:1", "1e99:",
                                                           ":0", "-1:-2", "x"]), "window")]
    return check_cli(Call(argv, root, outputs=["x.out"], names=[*names, "window"]))


# -- platform scripts -----------------------------------------------------------------------

_SCRIPT_SPEC = ("from desim.soc.pulp import PulpSoc, SocSpec\n\n\n"
                "def default_spec():\n    return {spec}\n\n\n"
                "def build(sim, spec):\n    return {build}\n")
_SPECS = ["SocSpec()", "None", "1", "'pulp'", "{}", "[]", "SocSpec", "object()",
          "1 / 0", "SocSpec(name=3)", "__import__('desim').soc.pulp.SocSpec().cluster",
          "SocSpec().with_overrides({'nope': 1})"]
_BUILDS = ["PulpSoc(sim, spec)", "None", "1", "'soc'", "object()", "sim", "spec",
           "PulpSoc(sim, None)", "PulpSoc(None, spec)", "[][0]", "PulpSoc"]
_MODULE = ["", "raise RuntimeError('top level')\n", "import no_such_module_xyz\n",
           "def default_spec(:\n", "x = 1 +\n", "default_spec = 3\n", "build = None\n",
           "from desim.errors import SpecError\nraise SpecError('my own error; fix it')\n"]


def surface_script(data: st.DataObject, root: Path) -> list[str]:
    """Platform scripts that fail to import, raise, or return the wrong types from
    ``default_spec()`` and ``build()``: one line naming the script, then only its frames."""
    spec = _draw(data, st.sampled_from(_SPECS), "spec")
    build = _draw(data, st.sampled_from(_BUILDS), "build")
    tail = _draw(data, st.sampled_from(_MODULE), "module")
    script = root / "my_soc.py"
    script.write_text(_SCRIPT_SPEC.format(spec=spec, build=build) + tail)
    if _draw(data, st.booleans(), "command"):
        call = Call(["run", "my_soc.py", "-w", WORKLOAD, "--no-trace", "-o", "out"], root,
                    outputs=["out"], names=["my_soc.py"])
    else:
        call = Call(["platforms", "show", "my_soc.py"], root, names=["my_soc.py"])
    outcome = run_cli(call)
    if outcome.code != 2:
        return violations(call, outcome)
    # one line, then only the frames of the user's own script (location, code, carets)
    first, *rest = outcome.err.strip().splitlines() or [""]
    bad = violations(call, replace(outcome, err=first + "\n"))
    if _USER_ERROR.match(first):  # the script's own exception: its file and line are the fix
        bad = [b for b in bad if not b.startswith("the error says nothing of a fix")]
        bad = [] if len(bad) == 1 else bad  # only the argv note left
    frames = [ln for ln in rest if ln.startswith("  File ")]
    if any("my_soc.py" not in ln for ln in frames) or len(rest) > 3 * len(frames):
        bad.append(f"frames other than the script's: {rest[:4]}")
    return bad


#: the first line of an error raised by a platform script's own code
_USER_ERROR = re.compile(r"desim: error: platform script .*, line \d+: \w+(Error|Exception|Exit)\b")


# -- sweep files ----------------------------------------------------------------------------

def surface_sweep_file(data: st.DataObject, root: Path) -> list[str]:
    """TOML sweep files with odd entries, tables, keys, values and syntax."""
    value = st.one_of(st.sampled_from(['"stream_soc"', '"tiles"', '"nope"', "1", "-1", "1e999",
                                       "nan", "[]", "[1, 2]", '["a", 1]', "{}", "true",
                                       '"../x.py"', '"12,20"', '"1:2:log"', '"0:0"']),
                      st.integers(-(10**20), 10**20).map(str))
    lines = ['platform = "stream_soc"', 'workload = "tiles"']
    for _ in range(_draw(data, st.integers(1, 4), "lines")):
        where = _draw(data, st.sampled_from(["", "[grid]", "[random]", "[random.range]",
                                             "[other]", "[[grid]]"]), "table")
        key = _draw(data, st.sampled_from(["platform", "workload", "seed", "n",
                                           "dma.setup_cycles", "engine.macs_per_cycle",
                                           "nope.key", "grid", "random", "range", "x"]), "key")
        lines += [where, f"{key} = {_draw(data, value, 'value')}"]
    if _draw(data, st.integers(0, 5), "syntax") == 0:
        lines.append(_draw(data, st.sampled_from(["= 1", "[grid", "a = ", "a = [1,", "\x00"]),
                           "junk"))
    (root / "s.toml").write_text("\n".join(lines) + "\n")
    return check_cli(Call(["sweep", "s.toml", "--jobs", "1", "-o", "sw"], root, outputs=["sw"],
                          names=["s.toml", "--random", "--range", "random", "range", "grid",
                                 "platform", "workload", "seed", "nope", "n"]))


#: every surface by name
SURFACES: dict[str, Surface] = {
    "set": surface_set,
    "api": surface_api,
    "tflite": surface_tflite,
    "onnx": surface_onnx,
    "graph_json": surface_graph_json,
    "input": surface_input,
    "dram_trace": surface_dram_trace,
    "baseline": surface_baseline,
    "sweep_dir": surface_sweep_dir,
    "trace_dir": surface_trace_dir,
    "script": surface_script,
    "sweep_file": surface_sweep_file,
}
