"""The folder ranks a layer's foldings by its share of the board: on a board whose DSPs pack two
8-bit products sharing an activation (PE pairs, pe/mvau.py), PE = 2 x SIMD = 8 comes before
PE = 1 x SIMD = 16 (the same products, half the DSPs); without a board, by products per cycle."""
from __future__ import annotations

import numpy as np
from codegen_util import make_model, quantise
from onnx import helper


def pointwise_model():
    r = np.random.default_rng(0)
    w = (r.standard_normal((16, 16, 1, 1)) / 4).astype(np.float32)
    return make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="pw", kernel_shape=[1, 1])],
                      {"x": [16, 4, 4]}, {"w": w}, ["y"])


def test_packed_pairs_rank_before_one_wide_pe():
    from fpga_accel.fold import get_board
    from fpga_accel.fold.folder import _ordered
    from fpga_accel.fold.lower import plan_layer

    qm = quantise(pointwise_model())
    plan = plan_layer(qm.layers[0], qm, get_board("zcu104").dsp_port_bits)
    board = get_board("zcu104")
    ranked = [f for f, _ in _ordered(plan, qm, {}, board)]
    pair, wide = ranked.index({"pe": 2, "simd": 8}), ranked.index({"pe": 1, "simd": 16})
    assert pair < wide
    cost = lambda f: sum(s.cost(board).dsp for s in plan.stages(f))
    assert cost({"pe": 2, "simd": 8}) < cost({"pe": 1, "simd": 16})
    # without a board: products per cycle, then cycles
    plain = [plan.products(f) for f, _ in _ordered(plan, qm, {})]
    assert plain == sorted(plain)
