"""The tiled engine's array search (fpga_accel/tiled/target.py): it never exceeds the board's DSP,
BRAM18, URAM or LUT budget, packs two 8-bit products per DSP only for programs whose types allow
it, counts memories as tiled/top.h declares them, and no costed candidate beats its choice."""
import math

import pytest
from test_tiled_engine import GRAPHS
from tiled_util import quantised, random_case

from fpga_accel.errors import InputError
from fpga_accel.fold import get_board
from fpga_accel.fold.design import budget
from fpga_accel.tiled import build_program
from fpga_accel.tiled.csim import ALL_UNITS, U_AVGPOOL, U_ELTWISE, U_GLOBAL, U_MAXPOOL, U_MUL, units_of
from fpga_accel.tiled.ports import axi_bits
from fpga_accel.tiled.ports import split as split_engine
from fpga_accel.tiled.target import (
    ACT_BITS,
    LANE_DSP,
    MIN_DSP_SHARE,
    OUTPUT_PATHS,
    REQUANT_LANE_DSP,
    TM_SIZES,
    TN_SIZES,
    WEIGHT_BITS,
    array_dsp,
    candidates,
    choose_array,
    lane_dsp,
    memories,
    packs,
    ramb18,
    urams,
    widest,
)
from models import data


@pytest.fixture(scope="module")
def resnet():
    _, qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))
    return qm


@pytest.mark.parametrize("board, ceiling", [("pynq-z2", 0.8), ("zcu104", 0.8), ("kv260", 0.5), ("pynq-z2", 0.5)])
def test_search_stays_within_every_budget(resnet, board, ceiling):
    c = choose_array(resnet, board, ceiling=ceiling)
    lim = budget(get_board(board), ceiling)
    d = c.to_dict()
    e = c.program.engine
    assert d["estimate"] is True and d["pack"] == 2  # resnet_ds at 8 bits: every product packs
    lanes = e["out_lanes"]  # the output paths' lanes: a power of two up to a bus word's bytes
    assert d["out_lanes"] == lanes and lanes & (lanes - 1) == 0 and 1 <= lanes <= axi_bits(get_board(board)) // 8
    units = units_of(c.program)  # the engine has the units its program uses
    assert c.dsp == array_dsp(e["tm"], e["tn"], 2, lanes, units) == (
        -(-e["tm"] // 2) * e["tn"] + lanes * lane_dsp(units)) <= lim["dsp"]
    # no more lanes fit beside this array (fewer lanes only slow the output paths)
    assert lanes == axi_bits(get_board(board)) // 8 or array_dsp(e["tm"], e["tn"], 2, 2 * lanes, units) > lim["dsp"]
    assert d["split"] is split_engine(get_board(board)) is True  # every Zynq board here: four HP ports
    mem = memories(e["tm"], e["tn"], d["buffers"], d["acc_bits"], d["memory"] == "uram", d["lut_entries"],
                   axi_bits(get_board(board)), d["split"], lanes)
    assert (c.bram18, c.uram, c.lut) == (mem["bram18"], mem["uram"], mem["lut"])
    assert mem["bram18"] <= lim["bram18"] and mem["uram"] <= lim["uram"] and mem["lut"] <= lim["lut"]
    costed = [t for t in c.tried if "cycles" in t]
    assert costed and all(t["cycles"] >= c.cost.cycles for t in costed)
    assert all(t["dsp"] <= lim["dsp"] and t["bram18"] <= lim["bram18"] and t["lut"] <= lim["lut"] for t in costed)


def test_wider_types_do_not_pack():
    qm, _ = random_case(GRAPHS["residual"], seed=3, bits=12)
    assert not packs(build_program(qm, tm=4, tn=4), get_board("zcu104"))
    c = choose_array(qm, "zcu104")
    out = c.program.engine["out_lanes"] * lane_dsp(units_of(c.program))  # its output paths' lanes
    assert c.pack == 1 and c.dsp == c.program.engine["tm"] * c.program.engine["tn"] + out
    qm8, _ = random_case(GRAPHS["residual"], seed=3)
    assert packs(build_program(qm8, tm=4, tn=4), get_board("pynq-z2"))  # 25-bit packed operand on DSP48E1


def test_memories_follow_the_declared_banking():
    bufs = {"input": 1 << 16, "weight": 9 * 64 * 40, "output": 1 << 14}
    m = memories(64, 40, bufs, 36)
    # m_axi data FIFOs (tiled/ports.py): 64-beat bursts x 16 in flight of 512 bits on gmem1 (read) and gmem2
    # (read, write): 1024 x 512 = 29 BRAM18 each; gmem0: 1024 x 32 descriptor words (2) and 256 x 32 status (1)
    ports = 3 * 29 + 2 + 1
    # the tables: MAX_POST + 1 of them, each in a dual-port copy per output lane (the 512-bit bus's 64)
    fixed = ramb18(1 << 14, 32) + ramb18(1 << 14, 8) + 5 * 64 * ramb18(4096, 32) + ramb18(4096, 32) + ports
    # input: 64 banks of 1024 x 17 bits; accumulators: 64 banks of 256 x 36 bits; both halves
    assert m["bram18"] == fixed + 2 * (64 * 1 + 64 * 1) and m["uram"] == 0
    assert m["lut"] == 2 * 64 * 40 * WEIGHT_BITS * 1 + 64 * 40 * (16 + math.ceil(math.log2(41)))
    u = memories(64, 40, bufs, 36, uram=True)
    assert u["bram18"] == fixed and u["uram"] == 2 * (64 * urams(1024, ACT_BITS) + 64 * urams(256, 36)) == 256
    # tables of at most 64 entries: LUTRAM, a dual-port copy (2 LUTs a bit of 32) a lane, no block RAM
    t = memories(64, 40, bufs, 36, lut_entries=64)
    assert t["bram18"] == m["bram18"] - 5 * 64 * ramb18(4096, 32) and t["lut"] == m["lut"] + 5 * 64 * 2 * 32
    assert urams(4097, 72) == 2 and urams(4096, 73) == 2 and ramb18(512, 36) == 1 and ramb18(513, 36) == 2


def test_candidates_fill_the_dsp_budget():
    for dsp, pack, bus in ((1382, 2, 128), (176, 2, 64), (176, 1, 64)):  # zcu104's and pynq-z2's budgets and ports
        cands = candidates(dsp, pack, bus_bits=bus)
        assert cands and all(array_dsp(tm, tn, pack, lanes) <= dsp for tm, tn, lanes in cands)
        assert len({(tm, tn) for tm, tn, _ in cands}) == len(cands)  # a pair once, with its most lanes
        # each pair has the most output-path lanes (up to the bus word's bytes) its array leaves DSPs for
        assert all(lanes == bus // 8 or array_dsp(tm, tn, pack, 2 * lanes) > dsp for tm, tn, lanes in cands)
        # every pair of the lists within the budget at one lane is a candidate, the narrower Tn too
        assert {(tm, tn) for tm, tn, _ in cands} == {(tm, tn) for tm in TM_SIZES for tn in TN_SIZES
                                                      if array_dsp(tm, tn, pack, 1) <= dsp}
        costed = widest([(c, None) for c in cands])
        most = max(tm * tn for tm, tn, _ in cands)
        assert costed and all(c[0] * c[1] >= MIN_DSP_SHARE * most for c, _ in costed)


def test_every_output_path_is_counted():
    """The DSP census names every output path the engine's HLS has, as many lanes each."""
    from pathlib import Path

    inc = Path(__file__).resolve().parents[1] / "hls" / "include" / "fpga_accel" / "tiled"
    src = {h.name: h.read_text() for h in inc.glob("*.h")}
    # every lane loop of an output path is bounded by OUT_LANES, in drain (drain.h) and finish_pixel (pixels.h)
    bounded = [name for name, text in src.items() if "FA_TILED_LANES(lanes, C::OUT_LANES)" in text]
    assert sorted(bounded) == ["drain.h", "pixels.h"]
    # finish_pixel's one caller is the units' walk, made for the elementwise and mul units
    assert sum(text.count("finish_pixel<C>(") for text in src.values()) == 1 == src["pixels.h"].count("finish_pixel<C>(")
    walks = sum(text.count("return pixel_walk<C, ") for text in src.values())
    assert walks == 2
    # drain's call sites: the conv's (both halves, tile or whole pixels), the window and global pools';
    # the functions holding them inlined into run_layer, whose ALLOCATION makes them one instance
    calls = {name: text.count("drain<C>(") for name, text in src.items() if "drain<C>(" in text}
    assert calls == {"conv.h": 2, "pool.h": 2}
    assert "drain<C, " not in "".join(src.values())  # no instance of its own for a half
    engine = (inc.parent / "tiled_engine.h").read_text()
    assert "#pragma HLS ALLOCATION function instances = drain<C> limit = 1" in engine
    for name, fn in (("conv.h", "int conv_layer("), ("pool.h", "int window_pool("), ("pool.h", "int global_pool(")):
        head = src[name][src[name].index(fn):].split("{\n", 1)[1].split("\n")[:3]  # its body's first lines
        assert any(line.strip().startswith("#pragma HLS INLINE") and "off" not in line for line in head), fn
    assert REQUANT_LANE_DSP == 4 and len(OUTPUT_PATHS) == 3
    assert LANE_DSP == lane_dsp(ALL_UNITS) == 4 + (4 + 2 + 2 + 2) + (1 + 2 + 2) == 19
    # an engine without a unit has none of its output path: convs and pools alone 4 a lane
    assert lane_dsp(0) == lane_dsp(U_MAXPOOL | U_GLOBAL | U_AVGPOOL) == 4
    assert lane_dsp(U_ELTWISE) == 14 and lane_dsp(U_MUL) == 9
    # the dispatch calls a unit only when the engine has it (tiled_engine.h)
    assert all(f"C::UNITS & {u}" in engine for u in ("U_GLOBAL", "U_MUL", "U_ELTWISE", "(U_MAXPOOL | U_AVGPOOL)"))


def test_the_search_counts_only_the_units_its_program_uses(resnet):
    """resnet_ds has no mul and no elementwise unit of its own: its engine's output paths are the
    convs', the pools' it has; the recorded DSPs are those of that engine."""
    c = choose_array(resnet, "zcu104")
    d, e = c.to_dict(), c.program.engine
    assert d["units"] == units_of(c.program) and not d["units"] & (U_MUL | U_ELTWISE)
    assert c.dsp == -(-e["tm"] // 2) * e["tn"] + e["out_lanes"] * lane_dsp(d["units"])
    assert lane_dsp(d["units"]) < LANE_DSP


def test_nothing_fits_a_tiny_ceiling(resnet):
    with pytest.raises(InputError, match="fits no array"):
        choose_array(resnet, "pynq-z2", ceiling=0.001)
