"""Pieces of the pynq driver on their own: beat packing, DMA parameters, the generated .hwh."""
from __future__ import annotations

import numpy as np
import pytest
from fakes.hw_ip import decode, encode
from fakes.hwh_read import read_ip_dict

from fpga_accel.codegen.hwh import clock_divisors, generate_hwh
from fpga_accel.runtime.pynq_driver import DmaConfig, DmaError, StreamLayout, StreamLayoutError


def _layout(bits, signed, lanes, beats=6, tdata=None):
    return StreamLayout(name="in0", tensor="x", direction="in", lanes=lanes, elem_bits=bits,
                        tdata_bits=tdata or -(-lanes * bits // 8) * 8, beats_per_image=beats, tlast="image",
                        shape=(beats * lanes,), dtype=np.dtype(f"{'' if signed else 'u'}int{8 if bits <= 8 else 16}"),
                        signed=signed)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 8, 12, 16])
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("lanes", [1, 2, 3, 4])
def test_pack_matches_the_ip_side_decoder(bits, signed, lanes):
    lay = _layout(bits, signed, lanes)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    x = np.random.default_rng(bits * 10 + lanes).integers(lo, hi + 1, (5, 6 * lanes)).astype(lay.dtype)
    x[0, :2] = [lo, hi][:min(2, x.shape[1])]
    raw = lay.pack(x)
    assert raw.shape == (5, lay.image_bytes) and raw.dtype == np.uint8
    s = {"elem_bits": bits, "lanes": lanes, "tdata_bits": lay.tdata_bits}
    for i in range(5):  # the IP model decodes beat by beat with Python integers
        beats = [raw[i, j:j + lay.beat_bytes].tobytes() for j in range(0, lay.image_bytes, lay.beat_bytes)]
        np.testing.assert_array_equal(decode(beats, s, (6 * lanes,), lay.dtype, signed)[0], x[i])
        assert b"".join(encode(x[i], s)) == raw[i].tobytes()
    np.testing.assert_array_equal(lay.unpack(raw), x)


def test_padding_bits_of_a_wide_beat_are_zero():
    lay = _layout(8, True, 2, beats=3, tdata=32)  # 16 bits used of 32
    raw = lay.pack(np.full((1, 6), -1, np.int8)).reshape(3, 4)
    np.testing.assert_array_equal(raw[:, :2], 0xFF)
    np.testing.assert_array_equal(raw[:, 2:], 0)


def test_stream_description_is_checked():
    class Q:
        class qparams:
            class qtype:
                bits, signed, dtype = 8, True, np.dtype(np.int8)
        shape = (1, 4, 4, 3)

    s = {"name": "in0", "tensor": "x", "direction": "in", "lanes": 5, "elem_bits": 8, "tdata_bits": 40,
         "beats_per_image": 9, "tlast": "image"}
    with pytest.raises(StreamLayoutError, match=r"5 lanes x 9 beats != 48 elements per image"):
        StreamLayout.from_manifest(s, Q)


def test_dma_parameters():
    p = {"c_include_sg": "0", "c_sg_length_width": "14", "c_m_axi_mm2s_data_width": "64", "c_include_mm2s": "1"}
    cfg = DmaConfig.from_description("dma_in0", {"parameters": p}, "in")
    assert (cfg.max_bytes, cfg.align, cfg.addr_bits) == (16383, 8, 32)
    dre = DmaConfig.from_description("dma_in0", {"parameters": {**p, "c_include_mm2s_dre": "1"}}, "in")
    assert dre.align == 1
    with pytest.raises(DmaError, match="scatter-gather"):
        DmaConfig.from_description("dma_in0", {"parameters": {**p, "c_include_sg": "1"}}, "in")
    with pytest.raises(DmaError, match="no S2MM channel"):
        DmaConfig.from_description("dma_out0", {"parameters": {**p, "c_include_s2mm": "0"}}, "out")


def _manifest(board, clock=100.0):
    streams = [{"name": "in0", "tensor": "x", "direction": "in", "lanes": 1, "elem_bits": 8, "tdata_bits": 8,
                "beats_per_image": 784, "tlast": "image"},
               {"name": "out0", "tensor": "y", "direction": "out", "lanes": 2, "elem_bits": 8, "tdata_bits": 16,
                "beats_per_image": 5, "tlast": "image"}]
    return {"board": {"name": board, "clock_mhz": clock},
            "kernel": {"axis": {"name": "fa_axis", "control": "ap_ctrl_hs", "registers": {"n_images": 16},
                                "streams": streams}}}


@pytest.mark.parametrize("board,base,ps", [("pynq-z2", 0x4000_0000, "processing_system7"),
                                           ("kv260", 0xA000_0000, "zynq_ultra_ps_e")])
def test_generated_hwh_maps_the_ip_and_dmas(tmp_path, board, base, ps):
    text = generate_hwh(_manifest(board), sg_length_width=23)
    assert f'MODTYPE="{ps}"' in text
    (tmp_path / "d.hwh").write_text(text)
    ip = read_ip_dict(tmp_path / "d.hwh")
    assert sorted(ip) == ["dma_in0", "dma_out0", "fa_axis_0"]
    assert ip["fa_axis_0"]["phys_addr"] == base and ip["fa_axis_0"]["type"] == "fpga-accel.org:hls:fa_axis:1.0"
    assert {k: v["address_offset"] for k, v in ip["fa_axis_0"]["registers"].items()} == \
        {"CTRL": 0, "GIER": 4, "IP_IER": 8, "IP_ISR": 12, "n_images": 16}
    assert ip["fa_axis_0"]["registers"]["CTRL"]["fields"]["AP_DONE"]["bit_offset"] == 1
    assert ip["dma_in0"]["parameters"]["c_sg_length_width"] == "23"
    assert ip["dma_out0"]["parameters"]["c_include_s2mm"] == "1"
    assert ip["dma_out0"]["parameters"]["c_s_axis_s2mm_tdata_width"] == "16"
    assert generate_hwh(_manifest(board), sg_length_width=23) == text  # deterministic


def test_hwh_register_override_and_clock():
    text = generate_hwh(_manifest("pynq-z2", clock=142.0), registers={"n_images": 0x18})
    assert '<REGISTER NAME="n_images">\n' in text and '"ADDRESS_OFFSET" VALUE="24"' in text
    assert clock_divisors(1000.0, 142.0) == (7, 1)  # 142.857 MHz: no divisor pair of the IO PLL is closer
    assert '"PCW_FCLK0_PERIPHERAL_DIVISOR0" VALUE="7"' in text
    assert '"PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ" VALUE="142.857143"' in text
    assert clock_divisors(1500.0, 100.0) == (15, 1)


def test_hwh_refuses_a_board_without_a_ps():
    with pytest.raises(ValueError, match="not a Zynq board"):
        generate_hwh(_manifest("alveo-u250"))
