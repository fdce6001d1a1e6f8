"""Property test over random branchy networks (residual blocks, inception-style concats, a tensor
read by three layers), built with onnx.helper: at the depths the sizing finds the network never
deadlocks and runs at its unbounded-FIFO interval, outputs == emulator; the code generator's depths
never deadlock; every fork FIFO at the default depth deadlocks a network with a residual block."""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import make_model, need_toolchain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper
from sim_util import _conv, _relu

IMAGES = 6
BLOCKS = ("residual", "concat", "fork3")


def branchy(blocks: list[tuple[str, int, list[int]]], c: int, hw: int, seed: int):
    """stem conv → the blocks, each (kind, kernel of its last conv, concat branches) → global pool."""
    r = np.random.default_rng(seed)
    nodes, inits = [], {}

    def conv(name, x, y, ci, co, k):
        n, i = _conv(name, x, y, ci, co, k, r)
        inits.update(i)
        nodes.append(n)

    conv("stem", "x", "s", 1, c, 3)
    nodes.append(_relu("r0", "s", "a0"))
    for b, (kind, k, branches) in enumerate(blocks):
        a, out = f"a{b}", f"a{b + 1}"
        if kind == "residual":
            conv(f"c{b}", a, f"b{b}", c, c, 3)
            nodes.append(_relu(f"rb{b}", f"b{b}", f"bb{b}"))
            conv(f"d{b}", f"bb{b}", f"e{b}", c, c, k)
            nodes += [helper.make_node("Add", [f"e{b}", a], [f"f{b}"], name=f"add{b}"), _relu(f"rf{b}", f"f{b}", out)]
        elif kind == "concat":
            outs = []
            for j, kind_j in enumerate(branches):
                y = f"p{b}_{j}"
                if kind_j == 0:
                    nodes.append(helper.make_node("MaxPool", [a], [y], name=f"mp{b}_{j}", kernel_shape=[3, 3],
                                                  pads=[1, 1, 1, 1]))
                else:
                    conv(f"q{b}_{j}", a, y, c, c, kind_j)
                outs.append(y)
            nodes.append(helper.make_node("Concat", outs, [f"cat{b}"], name=f"cat{b}", axis=1))
            conv(f"m{b}", f"cat{b}", f"g{b}", c * len(outs), c, 1)
            nodes.append(_relu(f"rg{b}", f"g{b}", out))
        else:  # fork3: a read by a 1x1 conv, a kxk conv and the final add
            conv(f"t1_{b}", a, f"u{b}", c, c, 1)
            conv(f"tk_{b}", a, f"v{b}", c, c, k)
            nodes += [helper.make_node("Add", [f"u{b}", f"v{b}"], [f"w{b}"], name=f"addu{b}"),
                      helper.make_node("Add", [f"w{b}", a], [out], name=f"adda{b}")]
    nodes.append(helper.make_node("GlobalAveragePool", [f"a{len(blocks)}"], ["y"], name="gap"))
    return make_model(nodes, {"x": [1, hw, hw]}, inits)


block = st.tuples(st.sampled_from(BLOCKS), st.sampled_from([1, 3]),
                  st.lists(st.sampled_from([0, 1, 3]), min_size=2, max_size=3))


@pytest.mark.slow
@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(blocks=st.lists(block, min_size=1, max_size=3), c=st.sampled_from([4, 8]), hw=st.sampled_from([6, 8]))
def test_sized_depths_keep_the_interval_and_never_deadlock(blocks, c, hw, tmp_path_factory):
    need_toolchain()
    import fpga_accel
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.sim import DeadlockError, Simulator

    model = branchy(blocks, c, hw, seed=len(blocks) * 10 + c + hw)
    calib = np.random.default_rng(0).uniform(-1, 1, (16, 1, hw, hw)).astype(np.float32)
    b = fpga_accel.compile(model, tmp_path_factory.mktemp("prop") / "net.fpga", board="pynq-z2", calib=calib,
                           progress=False, generators=[generate_hls], fifo_sizing="sim")
    rec = b.manifest["fifo_sizing"]
    assert rec["method"] == "sim", rec.get("note")
    sim = Simulator(b.path / "hls", load_qmodel(b), b.manifest)
    res = sim.run(IMAGES)  # the bundle's own depths: the sized ones
    assert res.deadlock is None and res.outputs_match is True
    assert res.cycles_per_image == rec["cycles"] == rec["unbounded_cycles"]
    tr, procs, _ = sim.trace(IMAGES)
    free = sim.run(IMAGES, {s: 1 << 40 for s in rec["depths"]})
    assert res.cycles_per_image <= free.cycles_per_image  # no throughput lost to the bounded FIFOs
    assert rec["cycles_at_model_depths"] is not None  # the cost model's depths do not deadlock either
    if any(kind == "residual" for kind, _, _ in blocks):
        forks = [s for i, s in enumerate(tr.streams)
                 if procs.writer[i] >= 0 and procs.names[procs.writer[i]].endswith("/duplicate")]
        with pytest.raises(DeadlockError):
            sim.run(IMAGES, {s: 2 for s in forks})
