"""Grouped convolution (1 < group, not depthwise) in the dataflow design: window + grouped_mvau.

C simulation of the generated HLS == the emulator bit for bit for small onnx.helper models with
groups 2, 4 and 8 (2D and 1D), strides and pads, at several foldings within a group; the loop counts C
simulation reports == the PE model; the folder's fold space of the layer; the OpenCL kernel on
PoCL == the emulator.
"""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import Csim, make_model, need_toolchain, quantise
from onnx import helper

from fpga_accel.fold.lower import divisors, plan_layer
from fpga_accel.ops import lookup
from fpga_accel.pe import FoldingProblem, LowerContext

#: (C, M, group, kernel, strides, pads, size)
CASES = {
    "g2": (4, 6, 2, [3, 3], [1, 1], [1, 1, 1, 1], [6, 5]),
    "g4": (8, 8, 4, [3, 3], [2, 2], [1, 0, 1, 0], [7, 7]),
    "g8": (16, 16, 8, [1, 1], [1, 1], [0, 0, 0, 0], [4, 3]),
    "g4_mult": (4, 8, 4, [2, 3], [1, 2], [0, 1, 1, 1], [5, 6]),  # one input channel, two filters per group
    "g2_1d": (6, 4, 2, [3], [2], [1, 2], [11]),
}


def grouped_model(names, seed=0):
    r = np.random.default_rng(seed)
    nodes, ins, inits, outs = [], {}, {}, []
    for n in names:
        c, m, g, k, s, p, size = CASES[n]
        w = (r.standard_normal((m, c // g, *k)) * r.uniform(0.2, 1.0, (m,) + (1,) * (len(k) + 1))).astype(np.float32)
        inits[f"{n}W"], inits[f"{n}B"] = w, (0.2 * r.standard_normal(m)).astype(np.float32)
        nodes.append(helper.make_node("Conv", [f"{n}x", f"{n}W", f"{n}B"], [f"{n}y"], name=n, kernel_shape=k,
                                      strides=s, pads=p, group=g))
        nodes.append(helper.make_node("Relu", [f"{n}y"], [f"{n}z"], name=f"{n}relu"))
        ins[f"{n}x"] = [c, *size]
        outs.append(f"{n}z")
    return quantise(make_model(nodes, ins, inits, outs), seed)


def folds(name, how):
    c, m, g = CASES[name][:3]
    pe = {"min": 1, "max": m // g, "mid": divisors(m // g)[len(divisors(m // g)) // 2]}[how]
    simd = {"min": 1, "max": c // g, "mid": divisors(c // g)[len(divisors(c // g)) // 2]}[how]
    return {"pe": pe, "simd": simd}


@pytest.mark.parametrize("how", ["min", "max", "mid"])
def test_csim_equals_the_emulator(tmp_path, how):
    names = list(CASES)
    qm = grouped_model(names, seed=len(how))
    layers = [{"name": n, "folding": folds(n, how)} for n in names]
    kinds = [s.kind for lay in qm.layers if lay.name in CASES
             for s in lookup("Conv").lower(lay, LowerContext(qm, folds(lay.name, how)))]
    assert kinds.count("grouped_mvau") == len(names)
    need_toolchain()
    cs = Csim(qm, tmp_path, layers)
    ins = cs.inputs(3, np.random.default_rng(7))
    cs.check(ins, what=f"grouped convs at {how} folding")
    counted = cs.lib.stage_cycles()
    for lay in qm.layers:
        if lay.name not in CASES:
            continue
        stage = lookup("Conv").lower(lay, LowerContext(qm, folds(lay.name, how)))[-1]
        assert counted[f"{lay.name}/grouped_mvau"] == stage.batch_cycles(3), lay.name
    cs.lib.set_fast_paths(False)
    try:  # the loops synthesis sees give the same integers
        cs.check(ins, what=f"grouped convs at {how} folding, synthesis loops")
    finally:
        cs.lib.set_fast_paths(True)


def test_the_fold_space_is_within_one_group():
    qm = grouped_model(["g4", "g8"])
    for lay in qm.layers:
        if lay.name not in CASES:
            continue
        c, m, g = CASES[lay.name][:3]
        plan = plan_layer(lay, qm)
        assert (plan.kind, plan.pe_dim, plan.simd_dim) == ("mvau", m // g, c // g)
        got = {(f["pe"], f["simd"]) for f in plan.folds()}
        assert got == {(p, s) for p in divisors(m // g) for s in divisors(c // g)}
        for f in plan.folds():
            st = plan.stages(f)[-1]
            k = int(np.prod(CASES[lay.name][3]))
            n_vec = int(np.prod(qm.tensors[lay.outputs[0]].shape[1:-1]))
            assert st.kind == "grouped_mvau"
            assert st.cycles() == n_vec * (m // f["pe"]) * (k * (c // g) // f["simd"])
        with pytest.raises(FoldingProblem):  # PE across two groups
            lookup("Conv").lower(lay, LowerContext(qm, {"pe": 2 * m // g, "simd": 1}))


@pytest.mark.parametrize("name", list(CASES))
def test_opencl_equals_the_emulator(tmp_path, name):
    pytest.importorskip("pyopencl")
    from test_opencl_ops import check, conv_node  # noqa: F401
    from test_opencl_ops import make_model as float_model
    c, m, g, k, s, p, size = CASES[name]
    r = np.random.default_rng(len(name))
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["y"], kernel_shape=k, strides=s, pads=p, group=g)]
    model = float_model(nodes, {"x": [c, *size]}, {"W": r.standard_normal((m, c // g, *k)), "B": r.standard_normal(m)})
    check(tmp_path, model, 8, 8, want_ops=["Conv"])
