"""A hardware handoff (``.hwh``) for the bundle's Zynq design, in the form Vivado writes it.

A Vivado build writes ``<bd>.hwh`` next to the bitstream; pynq reads it (pynqmetadata on pynq
3.x, the older ``HWH`` parser before) to learn the instances, their address ranges, parameters
and register maps. This module writes the same XML for the design the bundle's block design
script builds — the PS, the streaming IP ``fa_axis_0`` with its s_axilite register map, one
simple-mode AXI DMA per stream (``dma_in0``, ``dma_out0``, ...) with the AXI-Stream nets to the
IP, the PL clock — so the pynq backend can be tested before any build. The PS, its ports, clock
properties and address windows are the board file's ``ps``. It describes only what
the driver reads: a Vivado handoff also lists the interconnect and reset blocks. The DMAs and
AXI-Stream width converters are those of :func:`fpga_accel.flow.target.dma_plan`, the plan the
block design script follows. A bundle in dataflow segments gets one design with every segment's IP
and DMAs (:func:`generate_segments_hwh`). After a build the real file replaces this one; the backend
checks that one against the manifest the same way.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..bundle_kernel import IP_VENDOR
from ..fold.boards import Ps, board_names, get_board, with_board_file

DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
CONVERTER_VLNV = "xilinx.com:ip:axis_dwidth_converter:1.1"
AXIS_VLNV = "xilinx.com:interface:axis:1.0"
RANGE = 0x1_0000
AXILITE = ["AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "BRESP", "BVALID", "BREADY",
           "ARADDR", "ARVALID", "ARREADY", "RDATA", "RRESP", "RVALID", "RREADY"]
DMA_REGS = [("MM2S_DMACR", 0x00), ("MM2S_DMASR", 0x04), ("MM2S_SA", 0x18), ("MM2S_SA_MSB", 0x1C),
            ("MM2S_LENGTH", 0x28), ("S2MM_DMACR", 0x30), ("S2MM_DMASR", 0x34), ("S2MM_DA", 0x48),
            ("S2MM_DA_MSB", 0x4C), ("S2MM_LENGTH", 0x58)]
CTRL_FIELDS = [("AP_START", 0, 1, "read-write"), ("AP_DONE", 1, 1, "read-only"), ("AP_IDLE", 2, 1, "read-only"),
               ("AP_READY", 3, 1, "read-only"), ("RESERVED_1", 4, 3, "read-only"),
               ("AUTO_RESTART", 7, 1, "read-write"), ("RESERVED_2", 8, 24, "read-only")]


def board_ps(manifest: dict) -> Ps:
    """The processing system of the manifest's board (the manifest's, else its board file's)."""
    board = with_board_file(manifest.get("board") or {})
    if not board.get("ps"):
        zynq = [n for n in board_names() if get_board(n).ps]
        raise ValueError(f"board {board.get('name')!r} is not a Zynq board (family {board.get('family')!r}); a .hwh "
                         f"describes a Zynq design: use one of {zynq}")
    return board["ps"] if isinstance(board["ps"], Ps) else Ps.from_dict(board["ps"])


def clock_divisors(pll_mhz: float, want_mhz: float) -> tuple[int, int]:
    """Two 6-bit divisors of the PS PLL that come closest to ``want_mhz`` (as Vivado picks them)."""
    best = min(((d0, d1) for d0 in range(1, 64) for d1 in range(1, 64)),
               key=lambda d: (abs(pll_mhz / (d[0] * d[1]) - want_mhz), d[1], d[0]))
    return best


def _sub(parent, tag, **attrs):
    return ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})


def _params(parent, items):
    ps = _sub(parent, "PARAMETERS")
    for k, v in items:
        _sub(ps, "PARAMETER", NAME=k, VALUE=v)
    return ps


def _port(ports, name, direction, width=1, signame=None, to=(), sigis="undef"):
    attrs = {"DIR": direction, "NAME": name, "SIGIS": sigis}
    if width > 1:
        attrs.update(LEFT=width - 1, RIGHT=0)
    if signame:
        attrs["SIGNAME"] = signame
    p = _sub(ports, "PORT", **attrs)
    if to:
        cons = _sub(p, "CONNECTIONS")
        for inst, port in to:
            _sub(cons, "CONNECTION", INSTANCE=inst, PORT=port)
    return p


def _busif(bifs, name, kind, vlnv, busname, portmap, params=()):
    b = _sub(bifs, "BUSINTERFACE", BUSNAME=busname, NAME=name, TYPE=kind, VLNV=vlnv)
    for k, v in params:
        _sub(b, "PARAMETER", NAME=k, VALUE=v)
    pm = _sub(b, "PORTMAPS")
    for logical, physical in portmap:
        _sub(pm, "PORTMAP", LOGICAL=logical, PHYSICAL=physical)
    return b


def _register(regs, name, offset, access, description, fields=()):
    r = _sub(regs, "REGISTER", NAME=name)
    for k, v in (("DESCRIPTION", description), ("ADDRESS_OFFSET", offset), ("SIZE", 32), ("ACCESS", access),
                 ("IS_ENABLED", "true"), ("RESET_VALUE", 0)):
        _sub(r, "PROPERTY", NAME=k, VALUE=v)
    if fields:
        fs = _sub(r, "FIELDS")
        for fname, bit, width, faccess in fields:
            f = _sub(fs, "FIELD", NAME=fname)
            for k, v in (("DESCRIPTION", f"Control signal Register for '{fname.lower()}'."), ("ADDRESS_OFFSET", bit),
                         ("ACCESS", faccess), ("BIT_OFFSET", bit), ("BIT_WIDTH", width)):
                _sub(f, "PROPERTY", NAME=k, VALUE=v)


def _axilite(mod_ports, bifs, prefix, busname, addr_bits, clk, rst):
    for sig in AXILITE:
        out = sig in ("AWREADY", "WREADY", "BRESP", "BVALID", "ARREADY", "RDATA", "RRESP", "RVALID")
        width = {"AWADDR": addr_bits, "ARADDR": addr_bits, "WDATA": 32, "RDATA": 32, "WSTRB": 4, "BRESP": 2,
                 "RRESP": 2}.get(sig, 1)
        _port(mod_ports, f"{prefix}_{sig}", "O" if out else "I", width)
    _busif(bifs, prefix, "SLAVE", "xilinx.com:interface:aximm:1.0", busname,
           [(s, f"{prefix}_{s}") for s in AXILITE],
           [("ADDR_WIDTH", addr_bits), ("DATA_WIDTH", 32), ("PROTOCOL", "AXI4LITE"), ("FREQ_HZ", clk),
            ("HAS_QOS", 0)])


def generate_hwh(manifest: dict, design: str = "fa_design", registers: dict | None = None,
                 sg_length_width: int | None = None, mm_data_width: int | None = None,
                 addr_width: int | None = None) -> str:
    """The .hwh text of the bundle's Zynq design. ``registers`` overrides the IP's register
    offsets (default: ``manifest["kernel"]["axis"]["registers"]``); ``sg_length_width``,
    ``mm_data_width`` and ``addr_width`` override what the build's DMA plan chose."""
    from ..flow.target import dma_plan

    axis = manifest["kernel"]["axis"]
    regs = dict(axis.get("registers", {}))
    regs.update(registers or {})
    ps = board_ps(manifest)
    plan = _plan("fa_axis_0", dma_plan(axis["streams"], ps.dma_addr_width), sg_length_width, mm_data_width, addr_width)
    return _hwh(manifest, design, [("fa_axis_0", axis, regs, plan)])


def generate_segments_hwh(manifest: dict, segments: list[dict], design: str = "fa_design") -> str:
    """The .hwh of the one design holding every dataflow segment (``segments``: the segments'
    manifests): IP ``fa_axis_s<k>_0`` and DMAs ``dma_s<k>_<stream>`` per segment, as the block
    design script of fpga_accel/flow/segments_scripts.py builds it."""
    from ..flow.segments_scripts import segment_dmas
    from ..segments.names import ip_instance

    ps = board_ps(manifest)
    groups = []
    for k, m in enumerate(segments):
        axis = m["kernel"]["axis"]
        plan = _plan(ip_instance(k), segment_dmas(k, axis["streams"], ps.dma_addr_width), None, None, None)
        groups.append((ip_instance(k), axis, dict(axis.get("registers", {})), plan))
    return _hwh(manifest, design, groups)


def _plan(ip: str, dmas, sg_length_width, mm_data_width, addr_width) -> list[dict]:
    return [{"name": d.name, "stream": d.stream, "direction": d.direction, "tdata": d.tdata_bits,
             "dma_bits": d.dma_bits, "conv": d.converter, "length": sg_length_width or d.length_width,
             "mm": mm_data_width or d.mm_bits, "addr": addr_width or d.addr_width, "ip": ip} for d in dmas]


def _hwh(manifest: dict, design: str, groups: list) -> str:
    """The .hwh of ``groups``: [(IP instance, its kernel.axis, its register offsets, its DMA plan)]."""
    ps = board_ps(manifest)
    ps_name, gp, hp, base, ddr, pll = ps.instance, ps.master, ps.hp, ps.register_base, ps.hp_ddr_bytes, ps.pll_mhz
    clk_pin, rst_pin = ps.clock_pin, ps.reset_pin
    clock_mhz = float((manifest.get("board") or {}).get("clock_mhz") or 100.0)
    d0, d1 = clock_divisors(pll, clock_mhz)
    act_mhz = pll / (d0 * d1)
    clk_hz = round(act_mhz * 1e6)
    clk_net, rst_net = f"{ps_name}_{clk_pin}", f"{ps_name}_{rst_pin}"
    every = [d for _, _, _, plan in groups for d in plan]
    blocks = [(ip, "s_axi_control") for ip, _, _, _ in groups] + [(d["name"], "S_AXI_LITE") for d in every]
    addr = {inst: base + RANGE * i for i, (inst, _) in enumerate(blocks)}
    ctx = {"ps": ps_name, "clk_net": clk_net, "rst_net": rst_net, "clk_pin": clk_pin, "rst_pin": rst_pin,
           "clk_hz": clk_hz}
    clk_users = [(ip, "ap_clk") for ip, _, _, _ in groups] + [(d["name"], p) for d in every for p in
                                                               ("s_axi_lite_aclk", f"m_axi_{_ch(d)}_aclk")] + [
        (d["conv"], "aclk") for d in every if d["conv"]]
    rst_users = [(ip, "ap_rst_n") for ip, _, _, _ in groups] + [(d["name"], "axi_resetn") for d in every] + [
        (d["conv"], "aresetn") for d in every if d["conv"]]

    # no Vivado wrote this: say so where Vivado puts its version (pynq reads neither attribute)
    root = ET.Element("EDKSYSTEM", EDWVERSION="1.2", TIMESTAMP="none", VIVADOVERSION="none (fpga-accel stand-in)")
    root.append(ET.Comment(" written by fpga-accel from the bundle's manifest (kernel.axis); the .hwh of a "
                           "Vivado build of this bundle replaces it "))
    _sub(root, "SYSTEMINFO", ARCH=ps.arch, DEVICE=(manifest.get("board") or {}).get("part", ""), NAME=design,
         PACKAGE="", SPEEDGRADE="")
    _sub(root, "EXTERNALPORTS")
    _sub(root, "EXTERNALINTERFACES")
    mods = _sub(root, "MODULES")

    # --- the processing system: PL clock 0, the GP master that maps the registers, HP for DDR
    m = _sub(mods, "MODULE", FULLNAME=f"/{ps_name}", INSTANCE=ps_name, IPTYPE="PERIPHERAL", IS_ENABLE=1,
             IS_PL="FALSE", MODTYPE=ps.ip, VLNV=ps.vlnv)
    _params(m, _clock_params(ps, d0, d1, clock_mhz, act_mhz))
    ports = _sub(m, "PORTS")
    _port(ports, clk_pin, "O", signame=clk_net, to=clk_users, sigis="clk")
    _port(ports, rst_pin, "O", signame=rst_net, to=rst_users, sigis="rst")
    bifs = _sub(m, "BUSINTERFACES")
    _busif(bifs, gp, "MASTER", "xilinx.com:interface:aximm:1.0", f"{ps_name}_{gp}", [],
           [("DATA_WIDTH", 32), ("PROTOCOL", ps.master_protocol), ("FREQ_HZ", clk_hz)])
    _busif(bifs, hp, "SLAVE", "xilinx.com:interface:aximm:1.0", f"{ps_name}_{hp}", [],
           [("DATA_WIDTH", max([64] + [d["mm"] for d in every])), ("FREQ_HZ", clk_hz)])
    mm = _sub(m, "MEMORYMAP")
    for inst, slave in blocks:
        _sub(mm, "MEMRANGE", ADDRESSBLOCK="Reg", BASENAME="C_BASEADDR", BASEVALUE=f"0x{addr[inst]:08X}",
             HIGHNAME="C_HIGHADDR", HIGHVALUE=f"0x{addr[inst] + RANGE - 1:08X}", INSTANCE=inst, IS_DATA="TRUE",
             IS_INSTRUCTION="TRUE", MASTERBUSINTERFACE=gp, MEMTYPE="REGISTER", SLAVEBUSINTERFACE=slave)

    for ip, axis, regs, plan in groups:
        _ip_module(mods, ip, axis, regs, plan, addr[ip], design, act_mhz, gp, ctx)
    for d in every:
        _dma_module(mods, d, addr[d["name"]], hp, ddr, gp, ctx)
        if d["conv"]:
            _converter_module(mods, d, ctx)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _ch(d) -> str:
    return "mm2s" if d["direction"] == "in" else "s2mm"


def _clock_params(ps: Ps, d0, d1, clock_mhz, act_mhz):
    """The PS's PL clock properties: clock 0 enabled and divided down to ``act_mhz``, the rest off."""
    n = range(ps.clocks)
    out = [(ps.clock_enable.format(i=i), int(i == 0)) for i in n]
    out += [(ps.clock_divisor.format(i=i, j=j), (d0, d1)[j] if i == 0 else 1) for i in n for j in range(2)]
    out += [(ps.clock_source.format(i=i), ps.pll_name) for i in n]
    return out + [(ps.clock_freq, f"{clock_mhz:g}"), (ps.clock_actual, f"{act_mhz:.6f}")]


def _clock_reset(ports, clk_ports, rst_port, ctx):
    for p in clk_ports:
        _port(ports, p, "I", signame=ctx["clk_net"], sigis="clk", to=[(ctx["ps"], ctx["clk_pin"])]).set(
            "CLKFREQUENCY", str(ctx["clk_hz"]))
    _port(ports, rst_port, "I", signame=ctx["rst_net"], sigis="rst", to=[(ctx["ps"], ctx["rst_pin"])])


# An AXI-Stream end: (instance, port prefix, upper-case signal names, signals it has)
IP_SIGNALS = ("TDATA", "TVALID", "TREADY", "TKEEP", "TSTRB", "TLAST")  # ap_axiu carries keep and strb
DMA_SIGNALS = ("TDATA", "TVALID", "TREADY", "TKEEP", "TLAST")


def _link(d):
    """The ends of stream ``d``'s links, in data order: [(source end, sink end, net), ...]."""
    dma_end = (d["name"], "m_axis_mm2s" if d["direction"] == "in" else "s_axis_s2mm", False, DMA_SIGNALS)
    ip_end = (d["ip"], d["stream"], True, IP_SIGNALS)
    src, dst = (dma_end, ip_end) if d["direction"] == "in" else (ip_end, dma_end)
    if not d["conv"]:
        return [(src, dst, f"{src[0]}_{src[1]}")]
    c_in, c_out = (d["conv"], "s_axis", False, DMA_SIGNALS), (d["conv"], "m_axis", False, DMA_SIGNALS)
    return [(src, c_in, f"{src[0]}_{src[1]}"), (c_out, dst, f"{d['conv']}_m_axis")]


def _axis_end(ports, bifs, end, peer, net, source: bool, width_bits: int, busif: str, kind: str, clk_hz):
    _, prefix, upper, signals = end
    name = (lambda sig: f"{prefix}_{sig}") if upper else (lambda sig: f"{prefix}_{sig.lower()}")
    pname = (lambda sig: f"{peer[1]}_{sig}") if peer[2] else (lambda sig: f"{peer[1]}_{sig.lower()}")
    nbytes = width_bits // 8
    for sig in signals:
        width = width_bits if sig == "TDATA" else nbytes if sig in ("TKEEP", "TSTRB") else 1
        drives = (sig == "TREADY") != source
        linked = sig in peer[3]
        _port(ports, name(sig), "O" if drives else "I", width, signame=f"{net}_{sig.lower()}" if linked else None,
              to=[(peer[0], pname(sig))] if linked else ())
    _busif(bifs, busif, kind, AXIS_VLNV, net, [(sig, name(sig)) for sig in signals],
           [("TDATA_NUM_BYTES", nbytes), ("HAS_TREADY", 1), ("HAS_TKEEP", 1), ("HAS_TSTRB", int("TSTRB" in signals)),
            ("HAS_TLAST", 1), ("FREQ_HZ", clk_hz)])


def _ends_of(d, inst):
    """(end, peer, net, source) of every link end of stream ``d`` that belongs to ``inst``."""
    out = []
    for src, dst, net in _link(d):
        if src[0] == inst:
            out.append((src, dst, net, True))
        if dst[0] == inst:
            out.append((dst, src, net, False))
    return out


def _ip_module(mods, ip, axis, regs, plan, base, design, act_mhz, gp, ctx):
    """The streaming IP: s_axilite control (ap_ctrl_hs) and one AXI-Stream per tensor."""
    m = _sub(mods, "MODULE", FULLNAME=f"/{ip}", HWVERSION="1.0", INSTANCE=ip, IPTYPE="PERIPHERAL", IS_ENABLE=1,
             MODCLASS="PERIPHERAL", MODTYPE=axis["name"], VLNV=f"{IP_VENDOR}:hls:{axis['name']}:1.0")
    block = _sub(_sub(m, "ADDRESSBLOCKS"), "ADDRESSBLOCK", ACCESS="read-write", INTERFACE="s_axi_control",
                 NAME="Reg", RANGE=RANGE, USAGE="register")
    rs = _sub(block, "REGISTERS")
    _register(rs, "CTRL", 0, "read-write", "Control signals", CTRL_FIELDS)
    _register(rs, "GIER", 4, "read-write", "Global Interrupt Enable Register")
    _register(rs, "IP_IER", 8, "read-write", "IP Interrupt Enable Register")
    _register(rs, "IP_ISR", 12, "read-write", "IP Interrupt Status Register")
    for name, off in sorted(regs.items(), key=lambda kv: kv[1]):
        _register(rs, name, int(off), "write-only", f"Data signal of {name}", [(name, 0, 32, "write-only")])
    addr_bits = max([int(off) for off in regs.values()] + [12]).bit_length() + 2
    _params(m, [("C_S_AXI_CONTROL_ADDR_WIDTH", addr_bits), ("C_S_AXI_CONTROL_DATA_WIDTH", 32),
                ("Component_Name", f"{design}_{ip}"), ("clk_period", f"{1e3 / act_mhz:g}"),
                ("C_S_AXI_CONTROL_BASEADDR", f"0x{base:08X}"), ("C_S_AXI_CONTROL_HIGHADDR", f"0x{base + RANGE - 1:08X}")])
    ports, bifs = _sub(m, "PORTS"), _sub(m, "BUSINTERFACES")
    _axilite(ports, bifs, "s_axi_control", f"{ctx['ps']}_{gp}", addr_bits, ctx["clk_hz"], ctx["rst_net"])
    _clock_reset(ports, ["ap_clk"], "ap_rst_n", ctx)
    _sub(ports, "PORT", DIR="O", NAME="interrupt", SENSITIVITY="LEVEL_HIGH", SIGIS="INTERRUPT")
    for d in plan:
        for end, peer, net, source in _ends_of(d, ip):
            _axis_end(ports, bifs, end, peer, net, source, d["tdata"], d["stream"], "MASTER" if source else "SLAVE",
                      ctx["clk_hz"])


def _dma_module(mods, d, base, hp, ddr, gp, ctx):
    """A simple-mode AXI DMA with only the channel its stream uses."""
    send, ch = d["direction"] == "in", _ch(d)
    m = _sub(mods, "MODULE", FULLNAME=f"/{d['name']}", HWVERSION="7.1", INSTANCE=d["name"], IPTYPE="PERIPHERAL",
             IS_ENABLE=1, MODCLASS="PERIPHERAL", MODTYPE="axi_dma", VLNV=DMA_VLNV)
    rs = _sub(_sub(_sub(m, "ADDRESSBLOCKS"), "ADDRESSBLOCK", ACCESS="read-write", INTERFACE="S_AXI_LITE",
                   NAME="Reg", RANGE=RANGE, USAGE="register"), "REGISTERS")
    for name, off in DMA_REGS:
        _register(rs, name, off, "read-write", name.replace("_", " "))
    _params(m, [("c_include_sg", 0), ("c_sg_length_width", d["length"]), ("c_micro_dma", 0),
                ("c_include_mm2s", int(send)), ("c_include_s2mm", int(not send)), ("c_addr_width", d["addr"]),
                ("c_m_axi_mm2s_data_width", d["mm"]), ("c_m_axi_s2mm_data_width", d["mm"]),
                ("c_m_axis_mm2s_tdata_width", d["dma_bits"]), ("c_s_axis_s2mm_tdata_width", d["dma_bits"]),
                ("c_include_mm2s_dre", 0), ("c_include_s2mm_dre", 0), ("c_mm2s_burst_size", 16),
                ("c_s2mm_burst_size", 16), ("C_BASEADDR", f"0x{base:08X}"), ("C_HIGHADDR", f"0x{base + RANGE - 1:08X}"),
                ("Component_Name", f"{d['name']}_0")])
    ports, bifs = _sub(m, "PORTS"), _sub(m, "BUSINTERFACES")
    _axilite(ports, bifs, "S_AXI_LITE", f"{ctx['ps']}_{gp}", 10, ctx["clk_hz"], ctx["rst_net"])
    _clock_reset(ports, ["s_axi_lite_aclk", f"m_axi_{ch}_aclk"], "axi_resetn", ctx)
    mm_sigs = ["ARADDR", "ARVALID", "ARREADY", "RDATA", "RVALID", "RREADY", "RLAST"] if send else \
        ["AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "WLAST", "BRESP", "BVALID", "BREADY"]
    for sig in mm_sigs:
        width = {"ARADDR": d["addr"], "AWADDR": d["addr"], "RDATA": d["mm"], "WDATA": d["mm"],
                 "WSTRB": d["mm"] // 8, "BRESP": 2}.get(sig, 1)
        drives = sig in ("ARADDR", "ARVALID", "RREADY", "AWADDR", "AWVALID", "WDATA", "WSTRB", "WVALID", "WLAST",
                         "BREADY")
        _port(ports, f"m_axi_{ch}_{sig.lower()}", "O" if drives else "I", width)
    _busif(bifs, f"M_AXI_{ch.upper()}", "MASTER", "xilinx.com:interface:aximm:1.0", f"{d['name']}_M_AXI_{ch.upper()}",
           [(sig, f"m_axi_{ch}_{sig.lower()}") for sig in mm_sigs],
           [("DATA_WIDTH", d["mm"]), ("ADDR_WIDTH", d["addr"]), ("PROTOCOL", "AXI4"), ("FREQ_HZ", ctx["clk_hz"])])
    for end, peer, net, source in _ends_of(d, d["name"]):
        _axis_end(ports, bifs, end, peer, net, source, d["dma_bits"], "M_AXIS_MM2S" if send else "S_AXIS_S2MM",
                  "INITIATOR" if source else "TARGET", ctx["clk_hz"])
    _sub(_sub(m, "MEMORYMAP"), "MEMRANGE", ADDRESSBLOCK="HP0_DDR_LOWOCM", BASENAME="C_BASEADDR",
         BASEVALUE="0x00000000", HIGHNAME="C_HIGHADDR", HIGHVALUE=f"0x{ddr - 1:08X}", INSTANCE=ctx["ps"],
         IS_DATA="TRUE", IS_INSTRUCTION="TRUE", MASTERBUSINTERFACE=f"M_AXI_{ch.upper()}", MEMTYPE="MEMORY",
         SLAVEBUSINTERFACE=hp)


def _converter_module(mods, d, ctx):
    """The AXI-Stream width converter between a DMA and an IP stream of another width."""
    into_ip = d["direction"] == "in"
    s_bits, m_bits = (d["dma_bits"], d["tdata"]) if into_ip else (d["tdata"], d["dma_bits"])
    m = _sub(mods, "MODULE", FULLNAME=f"/{d['conv']}", HWVERSION="1.1", INSTANCE=d["conv"], IPTYPE="BUS",
             IS_ENABLE=1, MODCLASS="BUS", MODTYPE="axis_dwidth_converter", VLNV=CONVERTER_VLNV)
    _params(m, [("S_TDATA_NUM_BYTES", s_bits // 8), ("M_TDATA_NUM_BYTES", m_bits // 8), ("HAS_TLAST", 1),
                ("HAS_TKEEP", 1), ("Component_Name", f"{d['conv']}_0")])
    ports, bifs = _sub(m, "PORTS"), _sub(m, "BUSINTERFACES")
    _clock_reset(ports, ["aclk"], "aresetn", ctx)
    for end, peer, net, source in _ends_of(d, d["conv"]):
        _axis_end(ports, bifs, end, peer, net, source, m_bits if source else s_bits,
                  "M_AXIS" if source else "S_AXIS", "MASTER" if source else "SLAVE", ctx["clk_hz"])


def write_hwh(path: str | Path, manifest: dict, **kw) -> Path:
    """Write :func:`generate_hwh` to ``path`` (``bitstream/NAME.hwh`` beside ``NAME.bit``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(generate_hwh(manifest, design=p.stem, **kw))
    return p


def write_segments_hwh(path: str | Path, manifest: dict, segments: list[dict]) -> Path:
    """Write :func:`generate_segments_hwh` to ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(generate_segments_hwh(manifest, segments, design=p.stem))
    return p
