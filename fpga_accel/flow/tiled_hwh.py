"""A hardware handoff (``.hwh``) for a tiled bundle's Zynq design, in the form Vivado writes it.

The design :mod:`.tiled_vivado_tcl` builds: the PS (its PL clock, the master port that maps the
registers, the HP ports), and the engine ``fa_tiled_0`` with its s_axilite register map (CTRL,
GIER, IP_IER, IP_ISR, ``ap_return``, each pointer's two words ``NAME_1`` / ``NAME_2`` and the sizes,
at the offsets of ``manifest["scripts"]["ip"]``) and its m_axi masters, each on its HP port
(the weights on ``ps.hp_weights``, the others on ``ps.hp``; a split engine's ``m_axi_gmem3`` on
``ps.hp_weights_b`` and ``m_axi_gmem4`` on ``ps.hp_b``: tiled_vivado_tcl.hp_ports) with that port's DDR
segment and address range, its registers ``weights_b`` and ``acts_b`` in the map. As
:mod:`fpga_accel.codegen.hwh` does for the dataflow design, it describes only what a driver
reads, so the pynq backend can be tested before any build; a build's own .hwh replaces it and is
checked the same way.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..codegen.hwh import (
    CTRL_FIELDS,
    RANGE,
    _axilite,
    _busif,
    _clock_params,
    _clock_reset,
    _params,
    _port,
    _register,
    _sub,
    board_ps,
    clock_divisors,
)
from .tiled_vivado_tcl import hp_ports


def generate_tiled_hwh(manifest: dict, design: str = "fa_design", registers: dict | None = None) -> str:
    """The .hwh text of the tiled bundle's Zynq design; ``registers`` overrides offsets of the IP's map."""
    ip = manifest["scripts"]["ip"]
    regs = {**ip["registers"], **(registers or {})}
    ps = board_ps(manifest)
    clock_mhz = float((manifest.get("board") or {}).get("clock_mhz") or 100.0)
    d0, d1 = clock_divisors(ps.pll_mhz, clock_mhz)
    act_mhz = ps.pll_mhz / (d0 * d1)
    ctx = {"ps": ps.instance, "clk_net": f"{ps.instance}_{ps.clock_pin}", "rst_net": f"{ps.instance}_{ps.reset_pin}",
           "clk_pin": ps.clock_pin, "rst_pin": ps.reset_pin, "clk_hz": round(act_mhz * 1e6)}
    inst, base = ip["instance"], ps.register_base
    root = ET.Element("EDKSYSTEM", EDWVERSION="1.2", TIMESTAMP="none", VIVADOVERSION="none (fpga-accel stand-in)")
    root.append(ET.Comment(" written by fpga-accel from the bundle's manifest (scripts.ip); the .hwh of a Vivado "
                           "build of this bundle replaces it "))
    _sub(root, "SYSTEMINFO", ARCH=ps.arch, DEVICE=(manifest.get("board") or {}).get("part", ""), NAME=design,
         PACKAGE="", SPEEDGRADE="")
    _sub(root, "EXTERNALPORTS")
    _sub(root, "EXTERNALINTERFACES")
    mods = _sub(root, "MODULES")

    m = _sub(mods, "MODULE", FULLNAME=f"/{ps.instance}", INSTANCE=ps.instance, IPTYPE="PERIPHERAL", IS_ENABLE=1,
             IS_PL="FALSE", MODTYPE=ps.ip, VLNV=ps.vlnv)
    _params(m, _clock_params(ps, d0, d1, clock_mhz, act_mhz))
    ports = _sub(m, "PORTS")
    _port(ports, ps.clock_pin, "O", signame=ctx["clk_net"], to=[(inst, "ap_clk")], sigis="clk")
    _port(ports, ps.reset_pin, "O", signame=ctx["rst_net"], to=[(inst, "ap_rst_n")], sigis="rst")
    bifs = _sub(m, "BUSINTERFACES")
    _busif(bifs, ps.master, "MASTER", "xilinx.com:interface:aximm:1.0", f"{ps.instance}_{ps.master}", [],
           [("DATA_WIDTH", 32), ("PROTOCOL", ps.master_protocol), ("FREQ_HZ", ctx["clk_hz"])])
    on = hp_ports(ps, ip["bundles"])
    for hp in dict.fromkeys(on.values()):
        _busif(bifs, hp, "SLAVE", "xilinx.com:interface:aximm:1.0", f"{ps.instance}_{hp}", [],
               [("DATA_WIDTH", ps.hp_bits), ("FREQ_HZ", ctx["clk_hz"])])
    _sub(_sub(m, "MEMORYMAP"), "MEMRANGE", ADDRESSBLOCK="Reg", BASENAME="C_BASEADDR", BASEVALUE=f"0x{base:08X}",
         HIGHNAME="C_HIGHADDR", HIGHVALUE=f"0x{base + RANGE - 1:08X}", INSTANCE=inst, IS_DATA="TRUE",
         IS_INSTRUCTION="TRUE", MASTERBUSINTERFACE=ps.master, MEMTYPE="REGISTER", SLAVEBUSINTERFACE="s_axi_control")

    m = _sub(mods, "MODULE", FULLNAME=f"/{inst}", HWVERSION="1.0", INSTANCE=inst, IPTYPE="PERIPHERAL", IS_ENABLE=1,
             MODCLASS="PERIPHERAL", MODTYPE=ip["name"], VLNV=ip["vlnv"])
    rs = _sub(_sub(_sub(m, "ADDRESSBLOCKS"), "ADDRESSBLOCK", ACCESS="read-write", INTERFACE="s_axi_control",
                   NAME="Reg", RANGE=RANGE, USAGE="register"), "REGISTERS")
    _register(rs, "CTRL", 0, "read-write", "Control signals", CTRL_FIELDS)
    for name, off in (("GIER", 4), ("IP_IER", 8), ("IP_ISR", 12)):
        _register(rs, name, off, "read-write", name)
    for name, off in sorted(regs.items(), key=lambda kv: kv[1]):
        if name == "ap_return":
            _register(rs, name, int(off), "read-only", "Data signal of ap_return", [(name, 0, 32, "read-only")])
        elif name in ip["pointers"]:
            for word in (1, 2):
                _register(rs, f"{name}_{word}", int(off) + 4 * (word - 1), "write-only", f"Data signal of {name}",
                          [(name, 0, 32, "write-only")])
        else:
            _register(rs, name, int(off), "write-only", f"Data signal of {name}", [(name, 0, 32, "write-only")])
    _params(m, [("C_S_AXI_CONTROL_ADDR_WIDTH", 7), ("C_S_AXI_CONTROL_DATA_WIDTH", 32),
                ("Component_Name", f"{design}_{inst}"), ("clk_period", f"{1e3 / act_mhz:g}"),
                ("C_S_AXI_CONTROL_BASEADDR", f"0x{base:08X}"), ("C_S_AXI_CONTROL_HIGHADDR", f"0x{base + RANGE - 1:08X}")])
    ports, bifs = _sub(m, "PORTS"), _sub(m, "BUSINTERFACES")
    _axilite(ports, bifs, "s_axi_control", f"{ps.instance}_{ps.master}", 7, ctx["clk_hz"], ctx["rst_net"])
    _clock_reset(ports, ["ap_clk"], "ap_rst_n", ctx)
    _sub(ports, "PORT", DIR="O", NAME="interrupt", SENSITIVITY="LEVEL_HIGH", SIGIS="INTERRUPT")
    mm = _sub(m, "MEMORYMAP")
    for bundle, hp in on.items():
        _busif(bifs, f"m_axi_{bundle}", "MASTER", "xilinx.com:interface:aximm:1.0", f"{inst}_m_axi_{bundle}", [],
               [("DATA_WIDTH", 32), ("ADDR_WIDTH", 64), ("PROTOCOL", "AXI4"), ("FREQ_HZ", ctx["clk_hz"])])
        segment = ps.hp_ports[hp]["segment"].rsplit("/", 1)[-1] if hp in ps.hp_ports else "HP0_DDR_LOWOCM"
        _sub(mm, "MEMRANGE", ADDRESSBLOCK=segment, BASENAME="C_BASEADDR", BASEVALUE="0x00000000",
             HIGHNAME="C_HIGHADDR", HIGHVALUE=f"0x{ps.hp_ddr_bytes - 1:08X}", INSTANCE=ps.instance, IS_DATA="TRUE",
             IS_INSTRUCTION="TRUE", MASTERBUSINTERFACE=f"m_axi_{bundle}", MEMTYPE="MEMORY", SLAVEBUSINTERFACE=hp)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_tiled_hwh(path: str | Path, manifest: dict, **kw) -> Path:
    """Write :func:`generate_tiled_hwh` to ``path`` (``bitstream/NAME.hwh`` beside ``NAME.bit``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(generate_tiled_hwh(manifest, design=p.stem, **kw))
    return p
