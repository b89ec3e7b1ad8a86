"""Functional mode against TFLite's reference interpreter on the MLPerf Tiny int8 models.

Each model runs on pulp_cluster, tile by tile, from seeded random int8 inputs; every
tensor the interpreter keeps (``experimental_preserve_all_tensors``, reference op
resolver) must equal desim's tensor of the same name bit for bit, the softmax outputs
included. Skips where ai-edge-litert (the interpreter, in the ``test`` extra) or the
models in ``shared/models/mlperf_tiny`` are absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from desim.driver import simulate

MODELS = ("vww_96_int8", "kws_ref_model", "pretrainedResnet_quant", "ad01_int8")



@pytest.mark.parametrize("model", MODELS)
def test_every_tensor_equals_the_reference_interpreter(reference_interpreter, model):
    path, interp = reference_interpreter(model)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    for seed in (0, 1):
        x = np.random.default_rng(seed).integers(-128, 128, inp["shape"], dtype=np.int8)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        r = simulate("pulp_cluster", str(path), seed=seed, trace=False, inputs=x)
        assert r.functional["weights"] == "model"
        np.testing.assert_array_equal(r.outputs[0], interp.get_tensor(out["index"]))
        checked = 0
        for d in interp.get_tensor_details():
            name = d["name"]
            if name in r.tensors and name != inp["name"]:
                want = interp.get_tensor(d["index"])
                got = r.tensors[name]
                assert np.array_equal(got.reshape(want.shape), want), (
                    f"{model} {name}: {np.count_nonzero(got.reshape(want.shape) != want)} "
                    f"of {want.size} values differ")
                checked += 1
        ops = len(r.workload.ops)
        assert checked >= ops - 1, f"compared {checked} tensors of {ops} ops"
