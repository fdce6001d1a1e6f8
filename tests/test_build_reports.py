"""Report parsers on report text in the layouts the AMD tools write (7-series and UltraScale
utilisation tables, with and without the Prohibited column), and the DMA / memory planning."""
from __future__ import annotations

import zipfile

import pytest

from fpga_accel.flow import reports as rp
from fpga_accel.flow.errors import BuildError
from fpga_accel.flow.target import MAX_LENGTH_WIDTH, dma_plan, memory_tags
from fpga_accel.flow.tools import tail, version_from_log

UTIL_7SERIES = """\
Copyright 1986-2022 Xilinx, Inc. All Rights Reserved.
1. Slice Logic
--------------
+----------------------------+------+-------+-----------+-------+
|          Site Type         | Used | Fixed | Available | Util% |
+----------------------------+------+-------+-----------+-------+
| Slice LUTs                 | 4519 |     0 |     53200 |  8.49 |
|   LUT as Logic             | 4210 |     0 |     53200 |  7.91 |
| Slice Registers            | 6057 |     0 |    106400 |  5.69 |
+----------------------------+------+-------+-----------+-------+
3. Memory
+-------------------+------+-------+-----------+-------+
|     Site Type     | Used | Fixed | Available | Util% |
+-------------------+------+-------+-----------+-------+
| Block RAM Tile    |  2.5 |     0 |       140 |  1.79 |
|   RAMB36/FIFO*    |    2 |     0 |       140 |  1.43 |
|   RAMB18          |    1 |     0 |       280 |  0.36 |
+-------------------+------+-------+-----------+-------+
4. DSP
+-----------+------+-------+-----------+-------+
| Site Type | Used | Fixed | Available | Util% |
+-----------+------+-------+-----------+-------+
| DSPs      |   12 |     0 |       220 |  5.45 |
+-----------+------+-------+-----------+-------+
"""

UTIL_ULTRASCALE = """\
+----------------------------+-------+-------+------------+-----------+-------+
|          Site Type         |  Used | Fixed | Prohibited | Available | Util% |
+----------------------------+-------+-------+------------+-----------+-------+
| CLB LUTs                   | 22397 |     0 |          0 |    117120 | 19.12 |
| CLB Registers              | 30001 |     0 |          0 |    234240 | 12.81 |
| Block RAM Tile             |    40 |     0 |          0 |       144 | 27.78 |
| URAM                       |     3 |     0 |          0 |        64 |  4.69 |
| DSPs                       |    15 |     0 |          0 |      1248 |  1.20 |
+----------------------------+-------+-------+------------+-----------+-------+
"""


def test_utilization_7series(tmp_path):
    p = tmp_path / "u.rpt"
    p.write_text(UTIL_7SERIES)
    u = rp.parse_utilization(p)
    assert u["used"] == {"lut": 4519, "ff": 6057, "bram18": 5, "dsp": 12}
    assert u["available"] == {"lut": 53200, "ff": 106400, "bram18": 280, "dsp": 220}


def test_utilization_ultrascale_with_prohibited_column(tmp_path):
    p = tmp_path / "u.rpt"
    p.write_text(UTIL_ULTRASCALE)
    u = rp.parse_utilization(p)
    assert u["used"] == {"lut": 22397, "ff": 30001, "bram18": 80, "uram": 3, "dsp": 15}
    assert u["available"]["bram18"] == 288 and u["available"]["uram"] == 64


def test_timing_summary(tmp_path):
    p = tmp_path / "t.rpt"
    p.write_text("| Design Timing Summary\n| ---------------------\n\n"
                 "    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  "
                 "THS Failing Endpoints  THS Total Endpoints\n"
                 "    -------      -------  ---------------------  -------------------      -------      -------  "
                 "---------------------  -------------------\n"
                 "     -0.412      -12.500                     31                 9000        0.021        0.000  "
                 "                   0                 9000\n\nTiming constraints are not met.\n")
    t = rp.parse_timing_summary(p)
    assert t == {"wns_ns": -0.412, "tns_ns": -12.5, "whs_ns": 0.021, "ths_ns": 0.0, "met": False}
    assert rp.fmax_mhz(200.0, -0.412) == round(1000 / (5 + 0.412), 2)
    assert rp.parse_timing_summary(tmp_path / "missing.rpt") == {}


def test_csynth_xml_old_and_new_tags(tmp_path):
    p = tmp_path / "csynth.xml"
    p.write_text("<profile><ReportVersion><Version>2020.2</Version></ReportVersion>"
                 "<UserAssignments><Part>xc7z020-clg400-1</Part><TopModelName>fa_axis</TopModelName>"
                 "<TargetClockPeriod>10.00</TargetClockPeriod></UserAssignments><PerformanceEstimates>"
                 "<SummaryOfTimingAnalysis><EstimatedClockPeriod>8.750</EstimatedClockPeriod></SummaryOfTimingAnalysis>"
                 "<SummaryOfOverallLatency><Best-caseLatency>10</Best-caseLatency><Worst-caseLatency>undef"
                 "</Worst-caseLatency><Interval-min>11</Interval-min><Interval-max>undef</Interval-max>"
                 "</SummaryOfOverallLatency></PerformanceEstimates><AreaEstimates><Resources><BRAM_18K>4</BRAM_18K>"
                 "<DSP48E>9</DSP48E><FF>100</FF><LUT>200</LUT></Resources></AreaEstimates></profile>")
    r = rp.parse_csynth_xml(p)
    assert r["top"] == "fa_axis" and r["version"] == "2020.2" and r["estimated_clock_ns"] == 8.75
    assert r["latency_cycles"] == {"best": 10, "worst": None, "interval_min": 11, "interval_max": None}
    assert r["resources"] == {"lut": 200, "ff": 100, "dsp": 9, "bram18": 4, "uram": None}
    (tmp_path / "bad.xml").write_text("<profile>")
    assert rp.parse_csynth_xml(tmp_path / "bad.xml") == {}


def test_register_offsets_from_header_and_kernel_xml(tmp_path):
    h = tmp_path / "xfa_kernel_hw.h"
    h.write_text("#define XFA_KERNEL_CONTROL_ADDR_AP_CTRL       0x00\n"
                 "#define XFA_KERNEL_CONTROL_ADDR_IN0_DATA      0x10\n"
                 "#define XFA_KERNEL_CONTROL_BITS_IN0_DATA      64\n"
                 "#define XFA_KERNEL_CONTROL_ADDR_OUT0_DATA     0x1c\n"
                 "#define XFA_KERNEL_CONTROL_ADDR_N_IMAGES_DATA 0x28\n")
    assert rp.parse_hw_header(h) == {"in0": 0x10, "out0": 0x1C, "n_images": 0x28}
    xml = ('<root><kernel name="fa_kernel"><args><arg name="in0" addressQualifier="1" id="0" offset="0x10"/>'
           '<arg name="n_images" addressQualifier="0" id="2" offset="0x28"/></args></kernel></root>')
    xo = tmp_path / "k.xo"
    with zipfile.ZipFile(xo, "w") as z:
        z.writestr("ip/fa_kernel/kernel.xml", xml)
    assert rp.parse_kernel_xml(rp.kernel_xml_from_xo(xo)) == {"in0": 0x10, "n_images": 0x28}
    assert rp.kernel_xml_from_xo(tmp_path / "missing.xo") is None


def test_tool_version_and_log_tail(tmp_path):
    assert version_from_log("\n****** Vivado v2023.1 (64-bit)\n  **** SW Build 3865809\n") == "2023.1"
    assert version_from_log("****** Vitis HLS - High-Level Synthesis from C, C++ and OpenCL v2022.2 (64-bit)\n") == "2022.2"
    assert version_from_log("no banner") is None
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)))
    assert tail(log, 3) == "line 97\nline 98\nline 99"


def test_dma_length_register_covers_a_batch():
    (d,) = dma_plan([{"name": "in0", "direction": "in", "tdata_bits": 8, "beats_per_image": 784}], max_batch=64)
    assert d.max_images == 64 and (1 << d.length_width) - 1 >= 64 * 784 > (1 << (d.length_width - 1)) - 1
    # TLAST after each output image ends each S2MM transfer there
    (o,) = dma_plan([{"name": "out0", "direction": "out", "tdata_bits": 16, "beats_per_image": 300, "tlast": "image"}])
    assert o.max_images == 1 and o.length_width == (600).bit_length()
    # images so large that fewer fit: the register is at its 26-bit limit and holds whole images
    (big,) = dma_plan([{"name": "in0", "direction": "in", "tdata_bits": 64, "beats_per_image": 300_000}])
    assert big.length_width <= MAX_LENGTH_WIDTH and big.max_images == ((1 << 26) - 1) // (300_000 * 8)
    with pytest.raises(BuildError, match="more than one AXI DMA transfer"):
        dma_plan([{"name": "in0", "direction": "in", "tdata_bits": 64, "beats_per_image": 10_000_000}])
    with pytest.raises(BuildError, match="at most 1024"):
        dma_plan([{"name": "out0", "direction": "out", "tdata_bits": 2048, "beats_per_image": 1}])


def test_memory_tags_of_board_descriptions():
    assert memory_tags([{"name": "HBM", "banks": 32}])[31] == "HBM[31]"
    assert memory_tags([{"name": "DDR[0]", "banks": 1}, {"name": "DDR[1]", "banks": 1}]) == ["DDR[0]", "DDR[1]"]
    assert memory_tags(None) == ["DDR[0]"] and memory_tags(["PLRAM[0]"]) == ["PLRAM[0]"]


def test_estimates_compared_are_the_reports_totals(tmp_path):
    """The build's comparison uses the same design totals `fpga-accel report` prints (layers plus
    width converters and I/O adapters), not a sum over layers only."""
    import fpga_accel
    from fpga_accel.flow.compare import estimate_totals
    from models import data

    m = fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "m.fpga", calib=data.load_calib("mnist_cnn"),
                           progress=False).manifest
    est = estimate_totals(m)
    assert {k: est[k] for k in m["fold"]["totals"]} == m["fold"]["totals"]
    assert est["cycles"] == m["fold"]["cycles_per_image"]
    assert est["lut"] > sum(lay["estimate"]["lut"] for lay in m["layers"])  # the adapters count too
