"""Packed weight memories (pe/weight_memory.py, weight_memory.h): the layout round-trips, the
packed block count stays near the theoretical minimum for random shapes, bit widths and folds, the
generated top declares what the model counts, and the C simulation of packed layers equals the
emulator bit for bit with the cycle counts of the unpacked PEs.

The minimum a PE's weights can take, in blocks of B bits with ports of P bits: ⌈bits / B⌉ (capacity)
and ⌈bits read per cycle / P⌉ (every PE reads its SIMD words each cycle), BRAM18 18,432 bits and a
36-bit port (512 x 36), URAM 294,912 bits and a 72-bit port (AMD UG573).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from codegen_util import Csim, make_model, need_toolchain, quantise
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from fpga_accel.pe import depthwise, grouped_mvau, mvau
from fpga_accel.pe.cost import BRAM18_BITS, URAM_BITS, bram18_count, small, uram_count
from fpga_accel.pe.packing import pack_lanes
from fpga_accel.pe.weight_memory import Layout, choose, pack, unpack


def floors(mems: int, depth: int, width: int) -> tuple[int, int]:
    """(BRAM18, URAM) no layout can beat: capacity and read bandwidth."""
    bits, per_cycle = mems * depth * width, mems * width
    return (max(math.ceil(bits / BRAM18_BITS), math.ceil(per_cycle / 36)),
            max(math.ceil(bits / URAM_BITS), math.ceil(per_cycle / 72)))


def blocks(lay: Layout) -> tuple[int, int]:
    m = lay.memory()
    return bram18_count(m.depth, m.width) * m.count, uram_count(m.depth, m.width) * m.count


@st.composite
def folded_matrix(draw):
    """An MH x MW matrix of W_BITS weights folded by a PE dividing MH and a SIMD dividing MW."""
    mh, mw, w = draw(st.integers(1, 1024)), draw(st.integers(1, 4608)), draw(st.integers(2, 16))
    pe = draw(st.sampled_from([d for d in range(1, mh + 1) if mh % d == 0]))
    simd = draw(st.sampled_from([d for d in range(1, mw + 1) if mw % d == 0]))
    return mh, mw, w, pe, simd


@settings(max_examples=300, deadline=None)
@given(folded_matrix())
def test_packed_blocks_stay_near_the_minimum(case):
    mh, mw, w, pe, simd = case
    depth, width = (mh // pe) * (mw // simd), simd * w
    lay, plain = choose(pe, depth, width), Layout(pe, depth, width)
    assert lay.bits == mh * mw * w
    if small(lay.memory()):
        return
    (b, u), (fb, fu) = blocks(lay), floors(pe, depth, width)
    assert b >= math.ceil(lay.bits / BRAM18_BITS) and u >= math.ceil(lay.bits / URAM_BITS)
    # within twice the minimum plus one block; unpacked, a narrow memory per PE takes up to 72/W URAM
    # per 72-bit word (51x the minimum at 4 bits) and 4.5x in BRAM18
    assert b <= 2 * fb + 1 and u <= 2 * fu + 1, (lay, b, fb, u, fu)
    pb, pu = blocks(plain)
    assert b + u <= pb + pu + 1  # never more blocks than unpacked (the slot mux aside)


def test_packing_reaches_the_uram_floor_for_a_deep_narrow_memory():
    # 36,864 x 8 bits (a 3x3, 64 -> 64 conv at PE = SIMD = 1): 9 URAM one per array row, 2 packed
    lay = choose(1, 36864, 8)
    assert (lay.pes, lay.slots) == (1, 8)
    assert blocks(lay) == (18, 2) and blocks(Layout(1, 36864, 8)) == (18, 9)
    # 4 PEs of 576 x 8 bits: one BRAM18 each, or all four side by side in two
    assert blocks(choose(4, 576, 8))[0] == 2 and blocks(Layout(4, 576, 8))[0] == 4


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 70), st.integers(1, 6), st.integers(1, 12), st.integers(0, 4),
       st.integers(2, 16), st.integers(0, 2**31))
def test_the_layout_round_trips(mems, depth, lanes, pes, log_slots, bits, seed):
    lay = Layout(mems, depth, lanes * bits, min(pes, mems), 2 ** log_slots)
    r = np.random.default_rng(seed)
    w = r.integers(-(1 << (bits - 1)), 1 << (bits - 1), (mems, depth, lanes))
    packed = pack(w, lay)
    assert packed.shape == (lay.banks, lay.packed_depth, lay.slots * lay.pes * lanes)
    np.testing.assert_array_equal(unpack(packed, lay), w)
    # the memory image as written (words of lanes, two's complement): memory m at address t is bits
    # [(t % R * P + m % P) * width, +width) of word t // R of bank m // P (weight_memory.h)
    words = pack_lanes(packed, bits)
    mask = (1 << (lanes * bits)) - 1
    for m in range(mems):
        for t in range(depth):
            got = (int(words[m // lay.pes, t // lay.slots]) >> ((t % lay.slots * lay.pes + m % lay.pes) * lanes * bits)) & mask
            assert got == int(pack_lanes(w[m, t][None], bits)[0])


def conv_dw_gemm(seed=0):
    """Conv 3x3 (4 -> 8, ReLU), depthwise 3x3 (8), grouped 1x1 (8 -> 8, 2 groups) and Gemm (8*3*3 -> 6)."""
    r = np.random.default_rng(seed)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="dw", kernel_shape=[3, 3], group=8),
             helper.make_node("Conv", ["c2", "w3"], ["c3"], name="grouped", kernel_shape=[1, 1], group=2),
             helper.make_node("Flatten", ["c3"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "g", "b"], ["y"], name="fc", transB=1)]
    inits = {"w1": r.standard_normal((8, 4, 3, 3)).astype(np.float32),
             "w2": r.standard_normal((8, 1, 3, 3)).astype(np.float32),
             "w3": r.standard_normal((8, 4, 1, 1)).astype(np.float32),
             "g": r.standard_normal((6, 72)).astype(np.float32), "b": r.standard_normal(6).astype(np.float32)}
    return make_model(nodes, {"x": [4, 7, 7]}, inits)


FOLDING = [{"name": "conv", "folding": {"pe": 4, "simd": 2}}, {"name": "dw", "folding": {"pe": 2}},
           {"name": "grouped", "folding": {"pe": 2, "simd": 2}}, {"name": "fc", "folding": {"pe": 3, "simd": 4}}]


def forced(pes: int, slots: int):
    """A chooser that packs every memory ``pes`` side by side (at most all of them) and ``slots`` words per row."""
    return lambda mems, depth, width: Layout(mems, depth, width, min(pes, mems), slots)


def packing_members(hls_dir) -> dict[str, tuple[int, int]]:
    text = (hls_dir / "src" / "fa_top.cpp").read_text()
    out = {}
    for name, body in re.findall(r"struct (\w+) \{(.*?)\};", text, re.DOTALL):
        m = dict(re.findall(r"static const int (WM_PES|WM_SLOTS) = (\d+);", body))
        if m:
            out[name] = (int(m["WM_PES"]), int(m["WM_SLOTS"]))
    return out


@pytest.mark.parametrize("pes,slots", [(1, 1), (2, 4), (3, 2), (4, 16)])
def test_packed_csim_equals_emulator(pes, slots, tmp_path, monkeypatch):
    """Every packing of every weight-holding PE: the same integers on both simulation paths, and the
    same loop counts as the unpacked project (packing keeps II = 1)."""
    need_toolchain()
    for module in (mvau, depthwise, grouped_mvau):
        monkeypatch.setattr(module, "choose", forced(pes, slots))
    qm = quantise(conv_dw_gemm())
    cs = Csim(qm, tmp_path / "packed", FOLDING)
    members = packing_members(cs.hls)
    assert len(members) == 4 and all(v == (min(pes, p), slots) for v, p in zip(members.values(), (4, 1, 2, 3)))
    ins = cs.inputs(4, np.random.default_rng(3))
    cs.check(ins, what=f"P {pes} R {slots}, fast paths")
    cycles = cs.lib.stage_cycles()
    cs.lib.set_fast_paths(False)
    try:
        cs.check(ins, what=f"P {pes} R {slots}, synthesis loops")
        assert cs.lib.stage_cycles() == cycles
    finally:
        cs.lib.set_fast_paths(True)
    monkeypatch.undo()
    plain = Csim(qm, tmp_path / "chosen", FOLDING)
    plain.run(ins)
    assert plain.lib.stage_cycles() == cycles


def test_the_top_binds_what_the_model_counts(tmp_path, monkeypatch):
    """BIND_STORAGE per packed weight array: LUTRAM where the model places it in LUTRAM, else BRAM18;
    a memory the fold put in URAM is a writable URAM array the load call fills (a URAM holds no initial
    contents), never a ROM."""
    from fpga_accel.codegen.hls_project import generate_hls

    qm = quantise(conv_dw_gemm())
    layers = [dict(e) for e in FOLDING]
    layers[3]["estimate"] = {"uram_arrays": ["mvau/weights"]}
    generate_hls(tmp_path, qm, {"layers": layers, "board": {"name": "test", "clock_mhz": 100.0}})
    top = (tmp_path / "hls" / "src" / "fa_top.cpp").read_text()
    binds = dict(re.findall(r"BIND_STORAGE variable = (\w+)_weights type = rom_1p impl = (\w+)", top))
    assert sorted(binds.values()) == ["lutram"] * 3 and len(binds) == 3  # tiny layers: every bank is small
    assert len(re.findall(r"BIND_STORAGE variable = \w+_weights type = ram_2p impl = uram", top)) == 1
    assert "fa::load_words<" in top


def test_weights_the_fold_puts_in_uram_are_recorded_reported_and_loaded_at_start(tmp_path, capsys):
    import copy
    import dataclasses

    import fpga_accel
    from fpga_accel.cli.report import print_report
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.compiler import load_qmodel
    from fpga_accel.fold import apply_to_manifest, fold_model, get_board
    from models import data

    b = fpga_accel.compile(data.model_path("mlp"), tmp_path / "mlp.fpga", calib=data.load_calib("mlp"),
                           progress=False, generators=[])
    qm = load_qmodel(b)
    zcu = get_board("zcu104")
    plain = fold_model(qm, zcu, target_fps=1000)
    tight = dataclasses.replace(zcu, name="zcu104-tight", bram18=plain.design.usage.bram18 // 2)
    r = fold_model(qm, tight, target_fps=1000)
    moved = {lay.name: lay.uram_arrays for lay in r.design.layers if lay.uram_arrays}
    assert moved and all(len(v) == lay.uram_memories for lay in r.design.layers for v in [lay.uram_arrays])
    manifest = copy.deepcopy(b.manifest)
    apply_to_manifest(manifest, r)
    assert {e["name"]: e["estimate"]["uram_arrays"] for e in manifest["layers"]
            if "uram_arrays" in e["estimate"]} == {k: sorted(set(v)) for k, v in moved.items()}
    print_report(manifest)
    weights = [k for k, v in moved.items() if "mvau/weights" in v]
    assert weights  # the mlp's largest memories are weights
    assert (f"URAM weights    {len(weights)} layer(s)" in capsys.readouterr().out) == bool(weights)
    generate_hls(tmp_path / "gen", qm, manifest)
    top = (tmp_path / "gen" / "hls" / "src" / "fa_top.cpp").read_text()
    # a URAM holds nothing after configuration: those arrays are writable, bound to URAM, filled by the load
    bound = re.findall(r"BIND_STORAGE variable = (\w+)_weights type = ram_2p impl = uram", top)
    assert len(bound) == len(weights) == len(manifest["uram_load"]["arrays"])
    assert all(f"fa::load_words<" in top and f"{u}_weights);" in top for u in bound)
