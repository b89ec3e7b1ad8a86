"""Tile kernels: jitted speed against the numpy reference, and first-call compile cost.

For each operator on one representative tile: the best-of-5 time of the jitted kernel
(steady state) and of its numpy reference, their ratio, and the MAC (or element) rate.
The AIMC MVM (numpy only) reports MVMs per second. Then, each in a fresh subprocess
sharing a new empty ``NUMBA_CACHE_DIR``: the first call of every operator with no cache
(compile and write the cache), and again in a second process (load from the cache).

    python benchmarks/kernels_bench.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

RNG = np.random.default_rng(0)


def _i8(*shape: int) -> np.ndarray:
    return RNG.integers(-128, 128, shape, dtype=np.int8)


def _q(c: int) -> dict:
    return {"multiplier": RNG.integers(2**30, 2**31 - 1, c), "shift": RNG.integers(-10, -5, c),
            "output_zero_point": 3}


def cases() -> list[tuple[str, int, str, tuple, dict]]:
    """(name, MACs or elements, operator, args, kwargs) of one tile each."""
    from desim.functional.kernels.quant import add_params

    x = _i8(1, 18, 18, 32)
    return [
        ("conv3x3 16x16x32->64", 16 * 16 * 64 * 9 * 32, "conv2d",
         (x, _i8(64, 3, 3, 32), None), {**_q(64), "input_zero_point": 5}),
        ("pointwise 32x32x64->64", 32 * 32 * 64 * 64, "conv2d",
         (_i8(1, 32, 32, 64), _i8(64, 1, 1, 64), None), {**_q(64), "input_zero_point": 5}),
        ("depthwise3x3 32x32x64 SAME", 32 * 32 * 64 * 9, "depthwise_conv2d",
         (_i8(1, 32, 32, 64), _i8(1, 3, 3, 64), None),
         {**_q(64), "padding": "SAME", "input_zero_point": 5}),
        ("fc 1024->256 x8", 8 * 1024 * 256, "fully_connected",
         (_i8(8, 1024), _i8(256, 1024), None), {**_q(256), "input_zero_point": 5}),
        ("avgpool2x2 32x32x64", 32 * 32 * 64, "avg_pool2d", (_i8(1, 32, 32, 64), 2),
         {"stride": 2}),
        ("maxpool3x3 32x32x64 SAME", 32 * 32 * 64, "max_pool2d", (_i8(1, 32, 32, 64), 3),
         {"stride": 2, "padding": "SAME"}),
        ("add 32x32x64", 32 * 32 * 64, "add",
         (_i8(1, 32, 32, 64), _i8(1, 32, 32, 64), add_params(0.05, 3, 0.02, -4, 0.06, 1)), {}),
        ("requantize 1024x64", 1024 * 64, "requantize",
         (RNG.integers(-(2**20), 2**20, (1024, 64)).astype(np.int32),),
         {"multiplier": RNG.integers(2**30, 2**31 - 1, 64), "shift": -12}),
    ]


def best(fn, *args, repeat: int = 5, **kwargs) -> float:
    fn(*args, **kwargs)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return min(times)


def steady_state() -> None:
    from desim.functional.kernels import int8
    from desim.functional.kernels import reference as ref

    print(f"{'kernel':30s} {'numba us':>10s} {'numpy us':>10s} {'ratio':>7s} {'G/s':>6s}")
    for name, work, op, args, kwargs in cases():
        t_jit = best(getattr(int8, op), *args, **kwargs)
        t_ref = best(getattr(ref, op), *args, repeat=2, **kwargs)
        assert np.array_equal(getattr(int8, op)(*args, **kwargs), getattr(ref, op)(*args, **kwargs))
        print(f"{name:30s} {t_jit * 1e6:10.0f} {t_ref * 1e6:10.0f} {t_ref / t_jit:7.1f} "
              f"{work / t_jit / 1e9:6.2f}")

    from desim.functional.kernels.aimc import CrossbarSpec, mvm, program
    state = program(RNG.integers(-7, 8, (256, 256)), RNG, CrossbarSpec(prog_noise_sigma=0.02))
    x = RNG.integers(-127, 128, (64, 256))
    t = best(mvm, state, x, 1.0, RNG)
    print(f"{'aimc mvm 64 x 256x256':30s} {t * 1e6:10.0f} {'':>10s} {'':>7s} "
          f"{64 / t / 1e3:6.1f} k MVM/s")


FIRST_CALLS = """
import json, sys, time
t0 = time.perf_counter()
import numba
t_numba = time.perf_counter() - t0
sys.path.insert(0, {bench_dir!r})
from kernels_bench import cases
from desim.functional.kernels import int8
out = {{"import numba": t_numba}}
for name, _, op, args, kwargs in cases():
    if op in out:
        continue
    t0 = time.perf_counter()
    getattr(int8, op)(*args, **kwargs)
    out[op] = time.perf_counter() - t0
print(json.dumps(out))
"""


def first_calls() -> None:
    code = FIRST_CALLS.format(bench_dir=os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                          capture_output=True, text=True).stdout)
                for _ in range(2)]
    print(f"\n{'first call (ms)':30s} {'no cache':>10s} {'cached':>10s}")
    for key in runs[0]:
        print(f"{key:30s} {runs[0][key] * 1e3:10.0f} {runs[1][key] * 1e3:10.0f}")
    total = [sum(v for k, v in r.items() if k != "import numba") for r in runs]
    print(f"{'all operators':30s} {total[0] * 1e3:10.0f} {total[1] * 1e3:10.0f}")


if __name__ == "__main__":
    steady_state()
    first_calls()
