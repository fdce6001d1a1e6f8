"""Packing waste: per layer, the bits its arrays hold against the bits of the blocks they occupy
(BRAM18, URAM, LUTRAM as placed), in the manifest and the report; and how close the BRAM18 the
model charges comes to the theoretical minimum when the folding chooses the arrays' shape.

The bound, and why not tighter (docs/fold-model.md, "Packing waste"): every block holds at most
18,432 bits, so ⌈bits / 18432⌉ is a floor. A word width that is not a multiple of 9 cannot use the
parity bits (16,384 per block), and each array rounds its width and depth up to whole blocks of one
aspect ratio on its own (no two arrays share a block), which no folding can avoid when MH and MW
leave few divisors (primes). For the folding the memory-led start picks (least share of the board,
folder._share), with the weights packed (pe/weight_memory.py), the charge stays within 10 % + 3 blocks
of ⌈bits / 16384⌉ (the slots of a packed word are a power of two, so a depth just past one rounds up a
whole row of blocks: MH = 9, MW = 456, 10-bit weights, 4,104 words, take 5 blocks for a floor of 3);
where some folding makes
the word a multiple of 36 bits and the depth a multiple of 512, the fewest blocks over the foldings
is the floor exactly.
"""
from __future__ import annotations

import math

import numpy as np
from codegen_util import make_model
from hypothesis import example, given, settings
from hypothesis import strategies as st
from onnx import helper

import fpga_accel
from fpga_accel.cli.report import print_report
from fpga_accel.fold import get_board
from fpga_accel.fold.folder import _share
from fpga_accel.fold.lower import LayerPlan
from fpga_accel.fold.report_html import render_html
from fpga_accel.fold.resources import BRAM18_BITS, URAM_BITS, block_bits, memory_cost, small
from fpga_accel.pe import Stage
from fpga_accel.pe.cost import Memory
from fpga_accel.pe.mvau import multipliers
from fpga_accel.pe.weight_memory import choose


def dense_plan(mh: int, mw: int, w_bits: int) -> LayerPlan:
    """The fold space of an MVAU with an MH x MW weight matrix of ``w_bits`` (its stage as priced, its
    weights packed as mvau_stage packs them)."""
    def build(pe, simd, mul="dsp"):
        packing = choose(pe, (mh // pe) * (mw // simd), simd * w_bits).config()
        return [Stage("dense", "mvau", {"MW": mw, "MH": mh, "SIMD": simd, "PE": pe, "N_VECTORS": 1, "IN_BITS": 8,
                                        "W_BITS": w_bits, "ACC_BITS": 32, "OUT_BITS": 8, "IN_SIGNED": True,
                                        **multipliers(w_bits, 8, True, pe, 27, mul), **packing})]
    return LayerPlan("dense", "Gemm", "mvau", pe_dim=mh, simd_dim=mw, build=build)


def weights(plan: LayerPlan, fold: dict, board) -> Memory:
    return next(m for m in plan.stages(fold)[0].cost(board).memories if m.role == "weights")


def test_block_bits_as_placed():
    # 1000 x 8: one BRAM18 as 2K x 9; 4096 x 72: one URAM; 64 x 8 twice: 8 LUTs each as 64 x 1
    assert block_bits(Memory("weights", 1000, 8)) == BRAM18_BITS
    assert block_bits(Memory("weights", 4096, 72), "uram") == URAM_BITS
    assert block_bits(Memory("weights", 64, 8, 2)) == 2 * 8 * 64
    assert block_bits(Memory("weights", 512, 37)) == 2 * BRAM18_BITS  # 37 bits: two 36-bit columns


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1024), st.integers(1, 4608), st.integers(2, 16),
       st.sampled_from(["pynq-z2", "zcu104", "alveo-u250"]))
@example(9, 456, 10, "pynq-z2")  # a depth just past a power of two
def test_the_memory_led_fold_is_near_the_minimum(mh, mw, w_bits, board_name):
    board = get_board(board_name)
    plan, cache = dense_plan(mh, mw, w_bits), {}
    pick = min((f for f in plan.folds() if f.get("mul") != "lut"),
               key=lambda f: (_share(plan, f, board, cache), f.get("pe", 1), f.get("simd", 1)))
    mem = weights(plan, pick, board)
    assert mem.bits == mh * mw * w_bits
    if small(mem):
        return
    charged = memory_cost(mem).bram18
    assert charged >= math.ceil(mem.bits / BRAM18_BITS)  # a floor no placement beats
    assert charged <= 1.1 * math.ceil(mem.bits / 16384) + 3  # packed (1.25x + 4 with one array per PE)
    assert block_bits(mem) == charged * BRAM18_BITS >= mem.bits


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 8), st.integers(2, 16))
def test_the_floor_is_reached_when_a_folding_gives_whole_blocks(b, a, w_bits):
    # 36 | MW lets SIMD·W be a multiple of 36 bits; MH·MW/SIMD then a multiple of 512 words
    mh, mw = 512 * b, 36 * a
    plan, board = dense_plan(mh, mw, w_bits), get_board("zcu104")
    fewest = min(memory_cost(weights(plan, f, board)).bram18 for f in plan.folds() if f.get("mul") != "lut"
                 and not small(weights(plan, f, board)))
    assert fewest == mh * mw * w_bits / BRAM18_BITS


def test_the_report_shows_memory_use(tmp_path, capsys):
    r = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "W1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "W2"], ["c2"], name="grouped", kernel_shape=[3, 3], group=4),
             helper.make_node("Relu", ["c2"], ["y"], name="relu2")]
    model = make_model(nodes, {"x": [8, 12, 12]}, {"W1": r.standard_normal((64, 8, 3, 3)).astype(np.float32),
                                                   "W2": r.standard_normal((64, 16, 3, 3)).astype(np.float32)})
    calib = {"x": r.standard_normal((16, 8, 12, 12)).astype(np.float32)}
    b = fpga_accel.compile(model, tmp_path / "m.fpga", calib=calib, progress=False, generators=[], board="zcu104")
    f, layers = b.manifest["fold"], b.manifest["layers"]
    assert f["memory_bits"] == sum(lay["estimate"]["memory_bits"] for lay in layers) > 0
    assert f["memory_block_bits"] == sum(lay["estimate"]["memory_block_bits"] for lay in layers) >= f["memory_bits"]
    for lay in layers:  # the blocks counted in BRAM18 / URAM are inside what the layer occupies
        e = lay["estimate"]
        assert e["bram18"] * BRAM18_BITS + e["uram"] * URAM_BITS <= e["memory_block_bits"]
    print_report(b.manifest)
    out = capsys.readouterr().out
    assert "mem use" in out
    for lay in layers:
        e = lay["estimate"]
        if e["memory_bits"]:
            row = next(line for line in out.splitlines() if line.lstrip().startswith(lay["name"] + " "))
            assert f"{e['memory_bits'] / e['memory_block_bits']:.0%}" in row
    waste = 1 - f["memory_bits"] / f["memory_block_bits"]
    assert f"{waste:.1%} packing waste" in out
    page = render_html(b.manifest)
    assert "<th class=n>mem use</th>" in page
    assert f"<td class=n>{f['memory_bits'] / f['memory_block_bits']:.0%}</td></tr>" in page  # the totals row


def fewest_uram(mh: int, mw: int, w_bits: int) -> int:
    plan, board = dense_plan(mh, mw, w_bits), get_board("zcu104")
    return min(memory_cost(weights(plan, f, board), "uram").uram for f in plan.folds() if f.get("mul") != "lut")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.sampled_from([2, 4, 8, 16]))
def test_uram_reaches_its_floor_only_with_72_bit_words(b, a, w_bits):
    # URAM has one shape, 4K x 72: whole blocks need SIMD·W a multiple of 72 (SIMD | MW) and the
    # depth MH·MW/SIMD a multiple of 4096
    mh, mw = 4096 * b, 72 * a
    assert fewest_uram(mh, mw, w_bits) == mh * mw * w_bits / URAM_BITS


def test_a_prime_width_comes_near_its_uram_floor_once_packed():
    # MW = 4099 is prime: the folded word is 8 bits (8 of 72 used) or the whole 4099-wide row. One
    # memory per PE took 4x the floor of a 1024 x 4099 8-bit matrix (114 URAM of bits) whichever the
    # folding; packed (several 8-bit words per 72-bit word, pe/weight_memory.py) it comes within 25 %
    mh, mw = 1024, 4099
    floor = math.ceil(mh * mw * 8 / URAM_BITS)
    assert floor <= fewest_uram(mh, mw, 8) <= 1.25 * floor
