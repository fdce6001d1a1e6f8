"""The fold model's formulas, the auto-folder's choices and errors, and what compile() writes."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.errors import InputError
from fpga_accel.fold import FoldError, fold_model, fold_summary, get_board
from fpga_accel.fold.boards import RESOURCES
from fpga_accel.fold.design import evaluate
from fpga_accel.fold.lower import plan_layer
from fpga_accel.fold.resources import BRAM18_SHAPES, bram18_count, memory_cost, uram_count
from fpga_accel.pe import Stage
from fpga_accel.pe.cost import Memory
from fpga_accel.pe.mvau import multipliers
from models import data


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    out = tmp_path_factory.mktemp("fold") / "mnist.fpga"
    b = fpga_accel.compile(data.model_path("mnist_cnn"), out, calib=data.load_calib("mnist_cnn"), progress=False,
                           generators=[])
    return load_qmodel(b)


def mvau(pe, simd, w=8, a=8, mw=72, mh=16, n=196, port=0, signed=True, mul="dsp"):
    """An MVAU stage whose multipliers pe/mvau.py chooses for a ``port``-bit DSP port (0: none)."""
    return Stage("L", "mvau", {"MW": mw, "MH": mh, "SIMD": simd, "PE": pe, "N_VECTORS": n, "IN_BITS": a,
                               "W_BITS": w, "ACC_BITS": 24, "OUT_BITS": 8, "IN_SIGNED": signed,
                               **multipliers(w, a, signed, pe, port, mul)})


def test_mvau_cycles_and_multipliers():
    e2, e1 = get_board("zcu104"), get_board("pynq-z2")
    s = mvau(4, 8, port=e2.dsp_port_bits)
    assert s.cycles() == 196 * (16 // 4) * (72 // 8)
    # int8 x int8: the packed operand is 2*8 + 8 + 1 = 25 bits, two products per DSP48E2 (27-bit port)
    # and per DSP48E1 (25-bit); +1 requant DSP per PE
    assert s.params["PACK"] == 2 and s.params["PACK_SHIFT"] == 16
    assert s.cost(e2).dsp == math.ceil(4 / 2) * 8 + 4
    assert mvau(4, 8, port=e1.dsp_port_bits).cost(e1).dsp == 2 * 8 + 4
    assert mvau(4, 8, port=0).cost(e2).dsp == 4 * 8 + 4  # built without a board: not packed, not counted
    assert mvau(1, 8, port=27).cost(e2).dsp == 8 + 1  # no partner PE to pack with
    assert mvau(3, 8, port=27).cost(e2).dsp == (1 + 1) * 8 + 3  # an odd PE multiplies alone
    assert mvau(4, 8, w=4, a=4, port=27).cost(e2).dsp == 4  # 4 x 4 products are LUTs: only the requantise
    # 9-bit weights: 2*9 + 8 + 1 = 27 bits pack on DSP48E2 only
    assert mvau(4, 8, w=9, port=27).params["PACK"] == 2 and mvau(4, 8, w=9, port=25).params["PACK"] == 1
    assert mvau(4, 8, w=9, port=25).cost(e1).dsp == 4 * 8 + 4
    # a stage packed for a 27-bit port priced on a 25-bit one: each packed multiply takes two DSPs
    assert mvau(4, 8, w=9, port=27).cost(e1).dsp == 2 * 2 * 8 + 4
    # uint8 activations: 9 bits signed on the narrow port, the packed operand still 25 bits
    assert mvau(4, 8, port=25, signed=False).params["PACK"] == 2
    # 18-bit activations: signed ones fit the 18-bit port, unsigned ones (19 bits signed) do not
    assert mvau(4, 8, a=18, w=2, port=27).params["PACK"] == 2
    assert mvau(4, 8, a=18, w=2, port=27, signed=False).params["PACK"] == 1


def test_lut_multipliers_trade_dsps_for_luts():
    e1 = get_board("pynq-z2")
    dsp, lut = mvau(4, 8, port=25), mvau(4, 8, port=25, mul="lut")
    assert lut.params["MUL_FABRIC"] and lut.params["PACK"] == 1 and not dsp.params["MUL_FABRIC"]
    assert lut.cost(e1).dsp == 4  # the requantise only
    assert lut.cost(e1).lut - dsp.cost(e1).lut == 4 * 8 * 8 * 8 - 2 * 8 * 16  # W*A LUTs a product, less the borrow adders


def test_mvau_memories():
    c = mvau(4, 8).cost(get_board("zcu104"))
    weights = next(m for m in c.memories if m.role == "weights")
    assert (weights.depth, weights.width, weights.count) == (4 * 9, 8 * 8, 4)


def test_bram18_mapping():
    for depth, width in BRAM18_SHAPES:
        assert bram18_count(depth, width) == 1
        assert bram18_count(depth + 1, width) == 2
    assert bram18_count(392, 128) == 4  # 512 x 36 four times
    assert uram_count(4096, 72) == 1 and uram_count(4097, 73) == 4
    assert memory_cost(Memory("weights", 64, 64)).bram18 == 0  # small: LUTRAM
    assert memory_cost(Memory("weights", 1024, 18, 3)).bram18 == 3
    assert memory_cost(Memory("weights", 8192, 72), "uram").uram == 2


def test_window_cycles_steady_state():
    p = {"IH": 28, "IW": 28, "C": 8, "KH": 3, "KW": 3, "SH": 1, "SW": 1, "DH": 1, "DW": 1, "PAD_T": 1, "PAD_L": 1,
         "PAD_B": 1, "PAD_R": 1, "SIMD": 2, "BITS": 8}
    s = Stage("L", "sliding_window", p)
    cf = 8 // 2
    # 28 output rows each emitting 28*9*CF words; the next image's rows 0..1 (LAST(0) = 1) are read
    # during the last rows, so only a call's first image pays the prologue of 2 rows
    assert s.cycles() == 28 * (28 * 9 * cf)
    assert s.batch_cycles(1) == 2 * 28 * cf + 28 * (28 * 9 * cf)
    assert s.batch_cycles(3) == 2 * 28 * cf + 3 * 28 * (28 * 9 * cf)
    # stride 2: the reads of 2 rows (2*IW*CF = 224) stay below the emission (14*9*CF = 504)
    s2 = Stage("L", "sliding_window", dict(p, SH=2, SW=2))
    assert s2.cycles() == 14 * (14 * 9 * cf) and s2.batch_cycles(1) == 2 * 28 * cf + 14 * (14 * 9 * cf)


def test_fold_mnist_pynq(mnist):
    board = get_board("pynq-z2")
    r = fold_model(mnist, board)
    assert r.design.fits()
    for lay in r.design.layers:
        assert lay.plan.check(lay.fold) is None and lay.plan.pe_dim % lay.fold.get("pe", 1) == 0
        simd = lay.fold.get("simd", 1)  # divides the channels, or is whole pixels times kernel positions
        assert lay.plan.simd_dim % simd == 0 or (simd % lay.plan.simd_dim == 0
                                                 and lay.plan.taps % (simd // lay.plan.simd_dim) == 0)
    assert r.fps == pytest.approx(board.clock_mhz * 1e6 / r.cycles)
    assert r.cycles == max(s.cycles() for s in r.design.stages)
    # balanced: no layer is faster than it needs to be by more than its next cheaper folding allows
    slow = max(lay.cycles for lay in r.design.layers)
    assert slow == r.cycles


def test_target_fps_saves_resources(mnist):
    full = fold_model(mnist, "zcu104")
    goal = full.fps / 4
    r = fold_model(mnist, "zcu104", target_fps=goal)
    assert r.fps >= goal and r.stop_reason == "target frames/s reached"
    assert r.design.usage.dsp < full.design.usage.dsp
    s = fold_summary(r)
    assert s["target_met"] is True and s["target_fps"] == goal
    too_much = fold_summary(fold_model(mnist, "zcu104", target_fps=full.fps * 10))
    assert too_much["target_met"] is False


def test_clock_override(mnist):
    r = fold_model(mnist, "pynq-z2", clock_mhz=125)
    assert r.clock_mhz == 125 and r.fps == pytest.approx(125e6 / r.cycles)


def test_overrides_are_kept_and_checked(mnist):
    r = fold_model(mnist, "kv260", overrides={"/4/Conv": {"pe": 2, "simd": 4}})
    assert r.foldings["/4/Conv"] == {"pe": 2, "simd": 4}
    with pytest.raises(FoldError, match=r"folding of layer '/4/Conv' \(Conv\): pe=3 must be a positive divisor of "
                                        r"16 \(output channels\)"):
        fold_model(mnist, "kv260", overrides={"/4/Conv": {"pe": 3}})
    with pytest.raises(FoldError, match=r"'/3/MaxPool' \(MaxPool\): keys \['simd'\] do not apply"):
        fold_model(mnist, "kv260", overrides={"/3/MaxPool": {"simd": 2}})
    with pytest.raises(FoldError, match="layer 'nope', which is not in the accelerated part"):
        fold_model(mnist, "kv260", overrides={"nope": {"pe": 1}})


def test_bad_options(mnist):
    for bad in (0, 1.5, "x"):
        with pytest.raises(InputError, match="ceiling must be a fraction"):
            fold_model(mnist, "pynq-z2", ceiling=bad)
    with pytest.raises(InputError, match="target frames/s"):
        fold_model(mnist, "pynq-z2", target_fps=-1)
    with pytest.raises(InputError, match="unknown board"):
        fold_model(mnist, "pynq-z9")


def _big_dense(path: Path, k: int, n: int) -> Path:
    r = np.random.default_rng(0)
    w = numpy_helper.from_array((r.standard_normal((k, n)) * 0.05).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="big")], "big",
                          [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, n])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def test_does_not_fit_names_needs_and_options(tmp_path):
    model = _big_dense(tmp_path / "big.onnx", 2048, 1024)  # 2 Mi int8 weights: 16 Mbit, the Z-7020 has ~5
    calib = np.random.default_rng(1).standard_normal((8, 2048)).astype(np.float32)
    b = fpga_accel.compile(model, tmp_path / "big.fpga", calib=calib, progress=False, generators=[],
                           board="alveo-u250")
    qm = load_qmodel(b)
    with pytest.raises(FoldError) as e:
        fold_model(qm, "pynq-z2")
    msg = str(e.value)
    assert "does not fit board 'pynq-z2' (xc7z020clg400-1) even fully folded" in msg
    assert "BRAM18: needs" in msg and "the board has 280" in msg
    assert "largest: 'big' (MatMul)" in msg
    assert "fewer bits" in msg and "a bigger board (" in msg and "alveo-u250" in msg
    with pytest.raises(FoldError):
        fpga_accel.compile(model, tmp_path / "big2.fpga", calib=calib, progress=False, generators=[], board="pynq-z2")


def test_plans_follow_the_lowering(mnist):
    plans = {lay.name: plan_layer(lay, mnist) for lay in mnist.layers}
    assert plans["/0/Conv"].kind == "mvau" and (plans["/0/Conv"].pe_dim, plans["/0/Conv"].simd_dim) == (8, 1)
    assert [s.kind for s in plans["/4/Conv"].stages({"pe": 2, "simd": 4})] == ["sliding_window", "mvau"]
    assert plans["/3/MaxPool"].kind == "pe" and plans["/8/Flatten"].kind == "none"
    assert plans["/9/Gemm"].simd_dim == 784 and plans["/9/Gemm"].pe_dim == 10


def test_compile_writes_folding_and_estimates(tmp_path):
    cfg = tmp_path / "q.json"
    cfg.write_text(json.dumps({"bits": 8, "layers": {"/4/Conv": {"folding": {"pe": 2, "simd": 4}}}}))
    b = fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "m.fpga", calib=data.load_calib("mnist_cnn"),
                           progress=False, generators=[], board="ultra96v2", config=cfg, ceiling=0.5)
    m = b.manifest
    board = get_board("ultra96v2")
    assert m["board"]["part"] == board.part and m["board"]["clock_mhz"] == board.clock_mhz
    by_name = {r["name"]: r for r in m["layers"]}
    assert by_name["/4/Conv"]["folding"] == {"pe": 2, "simd": 4}
    assert by_name["/8/Flatten"]["folding"] == {}
    for r in m["layers"]:
        assert set(r["estimate"]) == {"cycles", "dsp", "bram18", "uram", "lut", "ff", "memory_bits", "memory_block_bits"}
        assert r["estimate"]["memory_block_bits"] >= r["estimate"]["memory_bits"] >= 0
        assert all(isinstance(v, int) for v in r["estimate"].values())
    f = m["fold"]
    assert f["estimate"] is True and f["ceiling"] == 0.5 and f["overrides"] == ["/4/Conv"]
    assert f["cycles_per_image"] == max(r["estimate"]["cycles"] for r in m["layers"])
    assert f["frames_per_s"] == pytest.approx(board.clock_mhz * 1e6 / f["cycles_per_image"])
    for k in RESOURCES:
        assert f["totals"][k] <= f["budget"][k] == int(board.available(k) * 0.5)
    assert f["macs_per_image"] == m["hardware"]["macs"]
    with pytest.raises(InputError, match="ceiling"):
        fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "x.fpga", calib=data.load_calib("mnist_cnn"),
                           progress=False, generators=[], ceiling=2)


def test_large_memories_move_to_uram_when_bram_runs_out(tmp_path):
    import dataclasses

    b = fpga_accel.compile(data.model_path("mlp"), tmp_path / "mlp.fpga", calib=data.load_calib("mlp"),
                           progress=False, generators=[])
    qm = load_qmodel(b)
    zcu = get_board("zcu104")
    plain = fold_model(qm, zcu, target_fps=1000)
    assert plain.design.usage.uram == 0 and plain.design.usage.bram18 > 0
    tight = dataclasses.replace(zcu, name="zcu104-tight", bram18=plain.design.usage.bram18 // 2)
    r = fold_model(qm, tight, target_fps=1000)
    u = r.design.usage
    assert u.uram > 0 and u.bram18 <= int(tight.available("bram18") * 0.8)
    assert sum(lay.uram_memories for lay in r.design.layers) > 0
    # Without URAM, fully folded does not fit; foldings with wider words fill the BRAM18 better
    no_uram = dataclasses.replace(tight, name="no-uram", uram=0)
    limit = int(no_uram.available("bram18") * 0.8)
    start = {p.name: p.folds()[0] for p in (plan_layer(lay, qm) for lay in qm.layers)}
    assert evaluate(qm, [plan_layer(lay, qm) for lay in qm.layers], start, no_uram,
                    {"dsp": 10**9, "lut": 10**9, "ff": 10**9, "uram": 0, "bram18": 10**9}).usage.bram18 > limit
    r = fold_model(qm, no_uram, target_fps=1000)
    assert r.design.usage.bram18 <= limit and r.design.usage.uram == 0
    assert any(lay.fold != start[lay.name] for lay in r.design.layers)
    tiny = dataclasses.replace(no_uram, name="tiny", bram18=4, dsp=8, lut=4000)
    with pytest.raises(FoldError, match="does not fit board 'tiny'"):
        fold_model(qm, tiny, target_fps=1000)


def test_packing_is_reported_separately(mnist):
    f1 = fold_model(mnist, "aws-f1")
    s = fold_summary(f1)
    mv = [st.params for st in f1.design.stages if st.kind == "mvau"]
    # the stages carry the packing mvau.h performs: every int8 MVAU with a partner PE
    assert all((p["PACK"] == 2) == (p["PE"] >= 2) for p in mv)
    extra = sum(p["PE"] * p["SIMD"] - math.ceil(p["PE"] / 2) * p["SIMD"] for p in mv)
    assert s["dsp_packing"] == 2 and s["dsp_without_packing"] == s["totals"]["dsp"] + extra > s["totals"]["dsp"]
    z = fold_summary(fold_model(mnist, "pynq-z2"), {"all": 290_080})  # DSP48E1: int8 packs in 25 bits too
    assert z["dsp_packing"] == 2
    assert z["dsp_roofline_efficiency"] == pytest.approx(z["mac_per_s"] / (220 * 2 * 100e6))


def test_fold_stages_agree_with_generated_stages(tmp_path):
    """The cost model prices the stages the code generator emits: same kinds in the same order per
    layer, and every parameter both carry has one value (the average pools' accumulator aside,
    which the model sizes by tap count)."""
    b = fpga_accel.compile(data.model_path("resnet_ds"), tmp_path / "r.fpga", calib=data.load_calib("resnet_ds"),
                           progress=False)
    m = b.manifest
    folded = {}
    for s in m["fold"]["stages"]:
        layer, kind = s["name"].rsplit("/", 1)
        if kind in ("width_convert", "duplicate", "input", "output"):  # the folder's stream plumbing
            continue
        folded.setdefault(layer, []).append((kind, s["params"]))
    compared = 0
    for lay in m["hls"]["layers"]:
        gen = [s for s in lay["stages"] if s["kind"] != "rename"]
        mine = folded.get(lay["name"], [])
        assert [s["kind"] for s in gen] == [k for k, _ in mine], lay["name"]
        for s, (kind, p) in zip(gen, mine):
            shared = set(p) & set(s["params"]) - ({"ACC_BITS"} if kind.endswith("avg_pool") else set())
            assert {k: int(p[k]) for k in shared} == {k: s["params"][k] for k in shared}, (lay["name"], kind)
            compared += len(shared)
    assert compared > 50
