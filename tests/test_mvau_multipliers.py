"""The MVAU's multipliers as generated for a board: two products per DSP (PACK = 2) exactly where the
board's DSP port holds the packed operand, LUT products (MUL_FABRIC) where a layer folds with
``mul: "lut"``, and the C simulation of each equal to the emulator bit for bit, with the simulation
fast paths and with the loops synthesis sees (where the packed multiply runs)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from codegen_util import Csim, make_model, need_toolchain, quantise
from onnx import helper

from fpga_accel.codegen.network import lower_model
from fpga_accel.fold import fold_model, get_board

N_IMAGES = 6


def conv_gemm(seed=0):
    """Conv 3x3 (3 -> 6 channels, ReLU) then Gemm (6*5*5 -> 4): two MVAUs, one per op."""
    r = np.random.default_rng(seed)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "g", "b"], ["y"], name="fc", transB=1)]
    inits = {"w": r.standard_normal((6, 3, 3, 3)).astype(np.float32),
             "g": r.standard_normal((4, 150)).astype(np.float32), "b": r.standard_normal(4).astype(np.float32)}
    return make_model(nodes, {"x": [3, 7, 7]}, inits)


def folding(conv_pe=6, fc_pe=4, conv_mul="dsp"):
    conv = {"pe": conv_pe, "simd": 3, **({"mul": conv_mul} if conv_mul != "dsp" else {})}
    return [{"name": "conv", "folding": conv}, {"name": "fc", "folding": {"pe": fc_pe, "simd": 5}}]


def configs(hls_dir) -> dict[str, dict[str, int]]:
    """The generated mvau config structs: {struct name: {member: value}} for PACK, PACK_SHIFT, MUL_FABRIC,
    PACK_GROUP."""
    text = "\n".join(p.read_text() for p in sorted(hls_dir.rglob("*.h")) + sorted(hls_dir.rglob("*.cpp")))
    out = {}
    for name, body in re.findall(r"struct (\w+) \{(.*?)\};", text, re.S):
        members = dict(re.findall(r"static const \w+ (PACK|PACK_SHIFT|MUL_FABRIC|PACK_GROUP) = (\w+);", body))
        if members:
            out[name] = {k: int(v == "true") if v in ("true", "false") else int(v) for k, v in members.items()}
    return out


def check_both_paths(cs: Csim):
    ins = cs.inputs(N_IMAGES, np.random.default_rng(1))
    cs.check(ins, what="fast paths")
    cs.lib.set_fast_paths(False)
    try:
        cs.check(ins, what="synthesis loops")
    finally:
        cs.lib.set_fast_paths(True)


def mvau_params(qm, layers, board) -> dict[str, dict]:
    manifest = {"layers": layers, "board": get_board(board).to_dict()}
    return {name: next(s.params for s in stages if s.kind == "mvau")
            for name, stages in lower_model(qm, manifest).items() if any(s.kind == "mvau" for s in stages)}


def test_packing_follows_the_board_port():
    """9-bit weights x 8-bit activations: the packed operand is 2*9 + 8 + 1 = 27 bits, which the
    DSP48E2 port (27) holds and the DSP48E1 port (25) does not; int8 x int8 (25 bits) packs on both."""
    model = conv_gemm()
    w9 = quantise(model, layers={"conv": {"weight_bits": 9}, "fc": {"weight_bits": 9}})
    zcu, pynq = mvau_params(w9, folding(), "zcu104"), mvau_params(w9, folding(), "pynq-z2")
    assert {n: (p["PACK"], p["PACK_SHIFT"]) for n, p in zcu.items()} == {"conv": (2, 17), "fc": (2, 17)}
    assert {n: p["PACK"] for n, p in pynq.items()} == {"conv": 1, "fc": 1}
    int8 = mvau_params(quantise(model), folding(), "pynq-z2")
    assert {n: (p["PACK"], p["PACK_SHIFT"]) for n, p in int8.items()} == {"conv": (2, 16), "fc": (2, 16)}
    # the folder's estimate counts what the HLS does: one DSP per lane of each PE pair on zcu104
    r = fold_model(w9, "zcu104", overrides={lay["name"]: lay["folding"] for lay in folding()})
    conv = next(s for s in r.design.stages if s.name == "conv/mvau")
    # 3 pairs x SIMD 3; the 6 outputs of a fold complete every SF = 9 cycles: one shared requantiser
    assert conv.params["PACK"] == 2 and conv.params["RQ"] == 1 and conv.cost(r.board).dsp == 3 * 3 + 1


@pytest.mark.parametrize("board", ["zcu104", "pynq-z2"])
def test_packed_csim_equals_emulator(board, tmp_path):
    need_toolchain()
    qm = quantise(conv_gemm())
    layers = folding(conv_pe=3)  # an odd PE: one pair packed, the third PE alone
    cs = Csim(qm, tmp_path, layers, get_board(board).to_dict())
    packed = sorted((c["PACK_GROUP"], c["PACK_SHIFT"]) for c in configs(cs.hls).values()
                    if c["PACK"] == 2 and c["MUL_FABRIC"] == 0)
    # on DSP48E2 the packed products summed before one separation: the conv's int8 x int8 at SIMD 3 all
    # three lanes (3 · 2^14 < 2^16: shift 17), the fc's int8 x uint8 (after the ReLU) at SIMD 5 in a
    # group of 4 and a short one of 1 (4 · 32,640 < 2^17: shift 18); on DSP48E1's 25-bit port no room
    # beyond one product
    assert packed == ([(3, 17), (4, 18)] if board == "zcu104" else [(1, 16), (1, 16)])
    check_both_paths(cs)


def test_lut_multipliers_csim_equals_emulator(tmp_path):
    need_toolchain()
    qm = quantise(conv_gemm(), layers={"conv": {"weight_bits": 9}})
    cs = Csim(qm, tmp_path, folding(conv_mul="lut"), get_board("pynq-z2").to_dict())
    got = sorted((c["PACK"], c["MUL_FABRIC"]) for c in configs(cs.hls).values())
    assert got == [(1, 1), (2, 0)]  # the conv in LUTs, the int8 Gemm packed
    check_both_paths(cs)


def test_mul_is_a_fold_key_of_mvau_layers():
    from fpga_accel.codegen.network import folding_of
    from fpga_accel.fold.lower import plan_layer
    from fpga_accel.pe import FoldingProblem

    qm = quantise(conv_gemm())
    plans = {lay.name: plan_layer(lay, qm, 25) for lay in qm.layers}
    conv = plans["conv"]
    assert conv.check({"pe": 2, "simd": 3, "mul": "lut"}) is None
    assert "must be one of ['dsp', 'lut']" in conv.check({"pe": 2, "mul": "fast"})
    assert {"pe": 2, "simd": 3, "mul": "lut"} in conv.folds() and {"pe": 2, "simd": 3} in conv.folds()
    lut = next(s for s in conv.stages({"pe": 2, "simd": 3, "mul": "lut"}) if s.kind == "mvau")
    dsp = next(s for s in conv.stages({"pe": 2, "simd": 3}) if s.kind == "mvau")
    board = get_board("pynq-z2")
    # requantise only / one pair x SIMD 3 + it: PE 2 outputs every SF = 9 cycles share one requantiser
    assert lut.cost(board).dsp == 1 and dsp.cost(board).dsp == 3 + 1
    # the folder keeps an override's multipliers, the code generator reads them back
    r = fold_model(qm, "pynq-z2", overrides={"conv": {"pe": 2, "simd": 3, "mul": "lut"}})
    assert r.foldings["conv"] == {"pe": 2, "simd": 3, "mul": "lut"}
    manifest = {"layers": [{"name": "conv", "folding": r.foldings["conv"]}]}
    assert folding_of(manifest, "conv", 0)["mul"] == "lut"
    with pytest.raises(FoldingProblem, match="mul='dsp; rm' must be one of"):
        folding_of({"layers": [{"name": "conv", "folding": {"mul": "dsp; rm"}}]}, "conv", 0)

