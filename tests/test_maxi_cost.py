"""The m_axi adapters' memories in the estimates: every port the generated tops have is priced from the
options its pragma is written from (pe/io.py MaxiPort), by the UG1399 rule (a data FIFO of outstanding x
burst words per direction), placed as the stream FIFOs are; the dataflow design's totals and the tiled
engine's memories hold them, and the folder keeps the whole within the budget."""
import dataclasses
import re
from pathlib import Path

import pytest
from tiled_util import quantised

import fpga_accel
from fpga_accel.codegen.hls_project import generate_hls
from fpga_accel.fold import fold_model, get_board
from fpga_accel.fold.design import budget
from fpga_accel.fold.fifos import fifo_usage
from fpga_accel.fold.resources import Usage, maxi_buffers, maxi_cost
from fpga_accel.pe.io import KERNEL_IN, KERNEL_OUT, WEIGHT_LOAD, MaxiPort
from fpga_accel.tiled.ports import PORTS, WIDE_BITS, adapter_usage, axi_bits, header_ports, ports
from fpga_accel.tiled.target import memories
from models import data

HLS = Path(__file__).resolve().parents[1] / "hls" / "include" / "fpga_accel" / "tiled"
PRAGMA = re.compile(r"#pragma HLS INTERFACE mode = m_axi port = (\w+) offset = slave bundle = (\w+) ([^\n]*)")


def parsed(options: str, width: int = 512) -> MaxiPort:
    """A MaxiPort read back from a pragma's options (what Vitis HLS would read)."""
    o = {k: int(v) for k, v in re.findall(r"(\w+) = (\d+)", options)}
    return MaxiPort(width, o.get("max_read_burst_length", 0), o.get("max_write_burst_length", 0),
                    o.get("num_read_outstanding", 16), o.get("num_write_outstanding", 16), o.get("max_widen_bitwidth", 0))


def test_the_ug1399_rule_prices_each_direction():
    # 64-beat bursts x 16 in flight of 512-bit words: 1,024 x 512 bits, 29 RAMB18 at 1K x 18 (ceil(512 / 18))
    assert maxi_buffers(KERNEL_IN) == [("buff_rdata", 1024, 512)]
    assert maxi_buffers(KERNEL_OUT) == [("buff_wdata", 1024, 512)]
    assert maxi_cost(KERNEL_IN) == maxi_cost(KERNEL_OUT) == Usage(bram18=29)
    both = MaxiPort(512, read_burst=64, write_burst=64)
    assert maxi_cost(both) == Usage(bram18=58)
    # the weight load: 16 x 4 = 64 words, LUTRAM (64 deep: one LUT per bit), no block RAM
    assert maxi_buffers(WEIGHT_LOAD) == [("buff_rdata", 64, 512)] and maxi_cost(WEIGHT_LOAD) == Usage(lut=512)
    # two words: shift registers, one SRLC32E per bit
    assert maxi_cost(MaxiPort(32, read_burst=2, read_outstanding=1)) == Usage(lut=32)
    # the widened width counts, not the declared element
    assert maxi_cost(MaxiPort(8, read_burst=64, widen=512)) == Usage(bram18=29)
    assert maxi_cost(MaxiPort(512)) == Usage()  # a port that moves nothing has no module


@pytest.mark.parametrize("bits", [512, 128, 64])
def test_the_tiled_headers_declare_the_ports_priced(bits):
    kernel = header_ports((HLS / "kernel.h").read_text(), bits)
    top = header_ports((HLS / "top.h").read_text(), bits)
    assert kernel == ports(bits) and ports(512) == PORTS
    assert kernel["gmem1"].widen == kernel["gmem2"].widen == bits
    # the Zynq IP returns the status on s_axilite: no write module on gmem0, else the same
    assert top == {**ports(bits), "gmem0": dataclasses.replace(ports(bits)["gmem0"], write_burst=0)}
    # gmem1 and gmem2's two directions: 1,024 x bits each, ceil(bits / 18) RAMB18 at 1K x 18 (512: 29,
    # 128: 8, 64: 4); gmem0 1,024 x 32 descriptors (2) and 256 x 32 status (1)
    assert adapter_usage(bits) == {"bram18": 3 * -(-bits // 18) + 3, "uram": 0, "lut": 0}
    assert adapter_usage() == {"bram18": 90, "uram": 0, "lut": 0}
    # a split engine's top (FA_TILED_SPLIT = 1) adds gmem3 and gmem4, read only: 1,024 x bits each more
    split = header_ports(TOP_SPLIT_PRAGMAS.join(_split_at((HLS / "top.h").read_text())), bits, split=True)
    assert split == {**top, "gmem3": ports(bits, True)["gmem3"], "gmem4": ports(bits, True)["gmem4"]}
    assert split == {**ports(bits, True), "gmem0": top["gmem0"]} and ports(bits, True)["gmem3"].write_burst == 0
    assert adapter_usage(bits, split=True) == {"bram18": 5 * -(-bits // 18) + 3, "uram": 0, "lut": 0}
    if "FA_TILED_SPLIT" in (HLS / "top.h").read_text():  # the top's own split bundles, as the rule writes them
        assert header_ports((HLS / "top.h").read_text(), bits, split=True) == split
        assert header_ports((HLS / "top.h").read_text(), bits) == top == header_ports(
            TOP_SPLIT_PRAGMAS.join(_split_at((HLS / "top.h").read_text())), bits)


#: the split bundles as the rule writes them into tiled/top.h (docs/tiled.md §4), with an unsplit branch
TOP_SPLIT_PRAGMAS = """
#if FA_TILED_SPLIT
#pragma HLS INTERFACE mode = m_axi port = weights_b offset = slave bundle = gmem3 max_read_burst_length = 64 max_widen_bitwidth = FA_TILED_AXI_BITS
#pragma HLS INTERFACE mode = m_axi port = acts_b offset = slave bundle = gmem4 max_read_burst_length = 64 max_widen_bitwidth = FA_TILED_AXI_BITS
#pragma HLS INTERFACE mode = s_axilite port = weights_b
#pragma HLS INTERFACE mode = s_axilite port = acts_b
#else
#pragma HLS INTERFACE mode = s_axilite port = act_bytes
#endif
"""


def _split_at(top: str) -> tuple[str, str]:
    """``top`` cut after its last m_axi pragma, where a split block goes."""
    at = top.rindex("#pragma HLS INTERFACE mode = m_axi")
    end = top.index("\n", at) + 1
    return top[:end], top[end:]


def test_header_ports_keeps_the_split_block_at_its_switch_only():
    from fpga_accel.errors import InputError
    from fpga_accel.tiled.ports import compiled

    src = "a\n#ifdef X\n#if FA_TILED_SPLIT\nb\n#ifndef Y\nc\n#endif\n#else\nd\n#endif\ne\n#endif\n"
    assert compiled(src, True) == "a\n#ifdef X\nb\n#ifndef Y\nc\n#endif\ne\n#endif\n"
    assert compiled(src, False) == "a\n#ifdef X\nd\ne\n#endif\n"
    with pytest.raises(InputError, match="#elif"):
        compiled("#if FA_TILED_SPLIT\na\n#elif Z\n#endif\n", False)


def test_the_arenas_are_as_wide_as_the_boards_ps_port():
    assert axi_bits(get_board("zcu104")) == axi_bits(get_board("kv260")) == 128  # UG1085: 128-bit HP FPD
    assert axi_bits(get_board("pynq-z2")) == 64  # UG585: 64-bit HP
    assert axi_bits(get_board("alveo-u250")) == WIDE_BITS == 512  # no PS: the widest HLS widens to
    for name in ("zcu104", "pynq-z2", "alveo-u250"):
        b = get_board(name)
        assert axi_bits(b) == (b.ps.hp_bits if b.ps is not None else 512)
    # board data from a bundle reaches the HLS source only as an HP port's width
    from fpga_accel.errors import InputError

    zcu = get_board("zcu104")
    for bad in ("128 ; x", 100, True, 128.5):
        with pytest.raises(InputError, match="hp_bits"):
            axi_bits(dataclasses.replace(zcu, ps=dataclasses.replace(zcu.ps, hp_bits=bad)))


def test_the_tiled_memories_hold_the_adapters(monkeypatch):
    from fpga_accel.tiled import target

    bufs = {"input": 1 << 12, "weight": 9 * 16, "output": 1 << 12}
    with_ports, narrow = memories(4, 4, bufs, 36), memories(4, 4, bufs, 36, bus_bits=128)
    split = memories(4, 4, bufs, 36, bus_bits=128, split=True)
    monkeypatch.setattr(target, "adapter_usage", lambda bits=512, split=False: {"bram18": 0, "uram": 0, "lut": 0})
    # without the adapters, at the same bus width (the output path's lanes, and the tables' copies with them,
    # follow the bus: target.memories)
    without, without_narrow = memories(4, 4, bufs, 36), memories(4, 4, bufs, 36, bus_bits=128)
    assert with_ports["bram18"] - without["bram18"] == adapter_usage()["bram18"] == 90
    assert narrow["bram18"] - without_narrow["bram18"] == adapter_usage(128)["bram18"] == 27
    assert split["bram18"] - without_narrow["bram18"] == adapter_usage(128, split=True)["bram18"] == 27 + 2 * 8
    assert with_ports["lut"] == without["lut"] and narrow["lut"] == without_narrow["lut"]


@pytest.fixture(scope="module")
def kernel_bundle(tmp_path_factory):
    return fpga_accel.compile(data.model_path("mlp"), tmp_path_factory.mktemp("k") / "mlp.fpga",
                              calib=data.load_calib("mlp"), board="alveo-u50", progress=False,
                              generators=[generate_hls])


def test_the_kernel_top_writes_the_ports_the_fold_prices(kernel_bundle):
    top = (kernel_bundle.path / "hls" / "src" / "fa_top.cpp").read_text()
    found = {port: (bundle, parsed(opts)) for port, bundle, opts in PRAGMA.findall(top)}
    assert found == {"in0": ("gmem0", KERNEL_IN), "out0": ("gmem1", KERNEL_OUT)}
    fold = kernel_bundle.manifest["fold"]
    assert fold["m_axi_adapters"] == {"dsp": 0, "bram18": 58, "uram": 0, "lut": 0, "ff": 0}
    assert fold["totals"]["bram18"] >= 58


@pytest.fixture(scope="module")
def mlp():
    return quantised(data.model_path("mlp"), data.load_calib("mlp"))[1]


def totals_hold(d):
    """usage == layers + stream FIFOs + I/O adapters' logic + the m_axi adapters' memories."""
    io = Usage()
    for s in d.io:
        c = s.cost(d.board)
        io = io + Usage(dsp=c.dsp, lut=c.lut, ff=c.ff)
    layers = sum((lay.usage for lay in d.layers), Usage())
    return d.usage == layers + fifo_usage(d.fifos) + io + d.ports


def test_a_vitis_design_counts_its_buffers_ports(mlp):
    d = fold_model(mlp, "alveo-u50").design
    assert d.ports == Usage(bram18=29 * 2) and totals_hold(d) and d.fits()
    z = fold_model(mlp, "zcu104").design  # the Zynq IP: AXI-Stream, no m_axi port, no URAM weights
    assert z.ports == Usage() and totals_hold(z)


def test_the_weight_load_port_is_counted_where_weights_go_to_uram(mlp):
    board = dataclasses.replace(get_board("zcu104"), name="zcu104-tight", bram18=2)
    d = fold_model(mlp, board, target_fps=1000).design
    assert any(lay.uram_arrays for lay in d.layers)
    assert d.ports == maxi_cost(WEIGHT_LOAD) == Usage(lut=512) and totals_hold(d)


def test_the_folder_sees_the_ports_in_the_budget(mlp):
    """The MLP on the u50 holds all its memories in LUTRAM: only its two buffers' adapters take block RAM
    (58 BRAM18). With 40 BRAM18 to spend, which the arrays alone would leave untouched, it does not fit."""
    from fpga_accel.fold.folder import FoldError

    loose = fold_model(mlp, "alveo-u50").design
    assert loose.usage.bram18 == loose.ports.bram18 == 58
    board = get_board("alveo-u50")
    tight = dataclasses.replace(board, name="u50-tight", bram18=50, reserved={**board.reserved, "bram18": 0.0})
    assert budget(tight, 0.8)["bram18"] == 40
    with pytest.raises(FoldError, match="BRAM18|bram18"):
        fold_model(mlp, tight)


def test_the_tiled_search_refuses_a_budget_the_adapters_alone_exceed():
    from fpga_accel.errors import InputError
    from fpga_accel.tiled.target import choose_array

    qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))[1]
    pynq = adapter_usage(axi_bits(get_board("pynq-z2")))["bram18"]  # 64-bit arenas: 15
    tight = dataclasses.replace(get_board("pynq-z2"), name="pynq-z2-tight", bram18=pynq + 1)
    assert budget(tight, 0.5)["bram18"] < pynq
    with pytest.raises(InputError, match="fits no array"):
        choose_array(qm, tight, ceiling=0.5)
    c = choose_array(qm, "pynq-z2", ceiling=0.5)
    assert c.bram18 <= budget(get_board("pynq-z2"), 0.5)["bram18"] and c.bram18 >= pynq
