"""The custom logic (CL) of an AWS F2 build: ``fa_kernel`` as Vivado IP inside the HDK's small shell.

``cl_files`` returns the CL folder the HDK build takes (``$CL_DIR``), file name → text:

- ``design/cl_fa.sv``: the CL top. Its ports are the HDK's ``cl_ports.vh``; the kernel's control
  (``s_axi_control``, AXI-Lite) hangs on the OCL interface (AppPF BAR0); its ``m_axi`` masters
  (one per buffer, ``gmem0``...) and the shell's PCIS interface (AppPF BAR4, how the host reaches
  the card's memory: the small shell has no DMA engine) share the DDR4 through one AXI crossbar
  (``fa_xbar``, made by the synthesis script). Every other CL output is tied off here.
- ``design/cl_id_defines.vh``: the PCI IDs the HDK puts in the AFI manifest (and the host checks).
- ``build/scripts/synth_cl_fa.tcl``: reads the HDK's synthesis header and footer, the encrypted
  CL sources, the kernel's Verilog (copied in by :mod:`.aws_f2` from the HLS export) and the crossbar.
- ``build/constraints/*.xdc``: the three constraint files the HDK build reads.

A bundle in dataflow segments puts every segment's kernel ``fa_kernel_s<k>`` in one CL
(:func:`segments_cl_files`): their m_axi masters take crossbar slots one after another (slot 0 stays
PCIS), and the OCL window reaches each kernel's ``s_axi_control`` through an AXI4-Lite crossbar
(``fa_ctrl_xbar``) that decodes the address map of :func:`control_base`: kernel k's registers at
``k · 0x1000`` of AppPF BAR0 (a 4 KiB window each, :data:`CONTROL_WINDOW_BITS`).

The same generator wraps the tiled engine (``ip="fa_tiled_top"``, three masters ``gmem0..2``), whose
m_axi widths only the exported IP tells (Vitis HLS widens a port up to its ``max_widen_bitwidth`` where
the accesses allow it): with ``master_bits`` (bundle → width) each master's width is a parameter of the
CL top (``localparam int GMEM1_BITS = ...;``) and of the synthesis script (``set fa_bits(gmem1) ...``),
which ``aws_f2_dcp.sh`` sets from the exported IP before the build. A master narrower than the DDR
path goes through its own AXI upsizer (``fa_upsizer_gmem1``, an ``axi_dwidth_converter`` the synthesis
script makes only then) into its crossbar slot; a 512-bit one is wired to the slot directly.

Interface facts are from the aws-fpga F2 developer kit (``hdk/common/shell_stable/design/
interfaces/cl_ports.vh``, the ``cl_dram_hbm_dma`` and ``CL_TEMPLATE`` examples): 512-bit PCIS and
DDR AXI4 with 16-bit IDs of which the PCIS uses the low 6, 32-bit OCL AXI-Lite, ``clk_main_a0`` at
250 MHz (the HDK's clock recipes guide: its default, not reconfigurable yet).
"""
from __future__ import annotations

from ..escape import shell_comment
from ..segments.names import CONTROL_WINDOW_BITS, control_base

CL = "cl_fa"
#: PCI IDs of the CL: Amazon's vendor ID with a device ID from the range AWS leaves to CLs (0xF000-0xF0FF)
VENDOR_ID, DEVICE_ID = 0x1D0F, 0xF0FA
SUBSYSTEM_VENDOR_ID, SUBSYSTEM_ID = 0xFEDC, 0x1D51
CLOCK_MHZ = 250.0
#: the CL's memory address width: the 64 GiB DDR4 beside the F2 FPGA
DDR_ADDR_BITS = 36
XBAR_ID_BITS = 8
PCIS_ID_BITS = 6
#: m_axi data widths a master may have (AXI4 widths up to the DDR path): narrower ones get an upsizer
MASTER_WIDTHS = (32, 64, 128, 256, 512)

# AXI4 channels: (signal, width; "ID"/"D"/"S" = ID, data, strobe width; direction "m" master→slave)
AXI4 = [("awid", "ID", "m"), ("awaddr", 64, "m"), ("awlen", 8, "m"), ("awsize", 3, "m"), ("awburst", 2, "m"),
        ("awvalid", 1, "m"), ("awready", 1, "s"),
        ("wdata", "D", "m"), ("wstrb", "S", "m"), ("wlast", 1, "m"), ("wvalid", 1, "m"), ("wready", 1, "s"),
        ("bid", "ID", "s"), ("bresp", 2, "s"), ("bvalid", 1, "s"), ("bready", 1, "m"),
        ("arid", "ID", "m"), ("araddr", 64, "m"), ("arlen", 8, "m"), ("arsize", 3, "m"), ("arburst", 2, "m"),
        ("arvalid", 1, "m"), ("arready", 1, "s"),
        ("rid", "ID", "s"), ("rdata", "D", "s"), ("rresp", 2, "s"), ("rlast", 1, "s"), ("rvalid", 1, "s"),
        ("rready", 1, "m")]
#: crossbar slave inputs the CL's masters do not drive: tied to plain accesses (widths per slot)
XBAR_TIED = [("awlock", 1), ("awcache", 4), ("awprot", 3), ("awqos", 4), ("arlock", 1), ("arcache", 4),
             ("arprot", 3), ("arqos", 4)]
#: upsizer slave inputs the engine's ports are not wired to: plain accesses (the HLS IP's own lock/cache/...
#: outputs, and the upsizer's, stay unconnected: the crossbar's slots take plain accesses, as in the dataflow CL)
UPSIZER_TIED = [("awlock", 1), ("awcache", 4), ("awprot", 3), ("awregion", 4), ("awqos", 4), ("arlock", 1),
                ("arcache", 4), ("arprot", 3), ("arregion", 4), ("arqos", 4)]
#: AXI4-Lite signals of the control crossbar's ports: (signal, width, direction "m" master→slave)
AXIL_XBAR = [("awaddr", 32, "m"), ("awprot", 3, "m"), ("awvalid", 1, "m"), ("awready", 1, "s"), ("wdata", 32, "m"),
             ("wstrb", 4, "m"), ("wvalid", 1, "m"), ("wready", 1, "s"), ("bresp", 2, "s"), ("bvalid", 1, "s"),
             ("bready", 1, "m"), ("araddr", 32, "m"), ("arprot", 3, "m"), ("arvalid", 1, "m"), ("arready", 1, "s"),
             ("rdata", 32, "s"), ("rresp", 2, "s"), ("rvalid", 1, "s"), ("rready", 1, "m")]
AXIL = ["awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp", "bvalid", "bready",
        "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready"]

#: every output of cl_ports.vh the CL must drive, with its width (tests check the top drives each once)
CL_OUTPUTS = {
    "cl_sh_flr_done": 1, "cl_sh_status0": 32, "cl_sh_status1": 32, "cl_sh_status2": 32, "cl_sh_id0": 32,
    "cl_sh_id1": 32, "cl_sh_status_vled": 16, "cl_sh_dma_wr_full": 1, "cl_sh_dma_rd_full": 1,
    **{f"cl_sh_pcim_{s}": w for s, w in [
        ("awid", 16), ("awaddr", 64), ("awlen", 8), ("awsize", 3), ("awburst", 2), ("awcache", 4), ("awlock", 1),
        ("awprot", 3), ("awqos", 4), ("awuser", 55), ("awvalid", 1), ("wid", 16), ("wdata", 512), ("wstrb", 64),
        ("wlast", 1), ("wuser", 64), ("wvalid", 1), ("bready", 1), ("arid", 16), ("araddr", 64), ("arlen", 8),
        ("arsize", 3), ("arburst", 2), ("arcache", 4), ("arlock", 1), ("arprot", 3), ("arqos", 4), ("aruser", 55),
        ("arvalid", 1), ("rready", 1)]},
    **{p: 0 for p in ("M_ACT_N", "M_MA", "M_BA", "M_BG", "M_CKE", "M_ODT", "M_CS_N", "M_CLK_DN", "M_CLK_DP",
                      "M_PAR", "RST_DIMM_N")},  # driven by sh_ddr (width 0: not tied here)
    "cl_sh_ddr_stat_ack": 0, "cl_sh_ddr_stat_rdata": 0, "cl_sh_ddr_stat_int": 0,
    "cl_sh_apppf_irq_req": 16,
    **{f"cl_sh_dma_pcis_{s}": 0 for s in ("awready", "wready", "bid", "bresp", "bvalid", "arready", "rid", "rdata",
                                           "rresp", "rlast", "rvalid")},
    "cl_sh_dma_pcis_ruser": 64,
    **{f"cl_ocl_{s}": 0 for s in ("awready", "wready", "bresp", "bvalid", "arready", "rdata", "rresp", "rvalid")},
    **{f"cl_sda_{s}": w for s, w in [("awready", 1), ("wready", 1), ("bresp", 2), ("bvalid", 1), ("arready", 1),
                                      ("rdata", 32), ("rresp", 2), ("rvalid", 1)]},
    "tdo": 1,
    **{f"hbm_apb_{s}_{i}": w for i in (0, 1) for s, w in [
        ("paddr", 22), ("pprot", 3), ("psel", 1), ("penable", 1), ("pwrite", 1), ("pwdata", 32), ("pstrb", 4),
        ("pready", 1), ("prdata", 32), ("pslverr", 1)]},
    "PCIE_EP_TXP": 8, "PCIE_EP_TXN": 8, "PCIE_RP_PERSTN": 1, "PCIE_RP_TXP": 8, "PCIE_RP_TXN": 8,
}
_DDR_PINS = ["CLK_DIMM_DP", "CLK_DIMM_DN", "M_ACT_N", "M_MA", "M_BA", "M_BG", "M_CKE", "M_ODT", "M_CS_N",
             "M_CLK_DN", "M_CLK_DP", "M_PAR", "M_DQ", "M_ECC", "M_DQS_DP", "M_DQS_DN"]


def buffers(kernel: dict) -> list[str]:
    """The kernel's m_axi bundles (``gmem0``...), in argument order."""
    return [a.get("bundle") or f"gmem{i}" for i, a in enumerate(a for a in kernel["args"] if a.get("kind") == "m_axi")]


def control_addr_bits(kernel: dict) -> int:
    """Width of the kernel's s_axi_control address: its last register (8 bytes from the last offset)."""
    top = max([0x10] + [int(a.get("offset") or 0) for a in kernel["args"]]) + 8
    return max(6, (top - 1).bit_length())


def _w(width, mem_bits: int) -> int:
    return {"ID": XBAR_ID_BITS, "D": mem_bits, "S": mem_bits // 8}.get(width, width)


def cl_top(kernel: dict, model_name: str, mem_bits: int = 512, ip: str = "fa_kernel",
           master_bits: dict[str, int] | None = None) -> str:
    """The CL top around the HLS IP ``ip`` (``kernel["args"]``: its m_axi bundles and register offsets);
    ``master_bits`` (bundle → the IP's m_axi data width, a parameter the build script may change): each
    master through an upsizer when narrower than ``mem_bits``, else straight; without it every master is
    ``mem_bits`` wide and wired straight."""
    return kernels_top([(ip, kernel)], model_name, mem_bits, master_bits)


def kernels_top(kernels: list[tuple[str, dict]], model_name: str, mem_bits: int = 512,
                master_bits: dict[str, int] | None = None) -> str:
    """The CL top around the HLS IPs ``kernels`` ([(module name, kernel section)]): one kernel on OCL
    directly, several through ``fa_ctrl_xbar`` (kernel k at :func:`control_base`); their masters take the
    crossbar slots after PCIS in order. ``master_bits``: as for :func:`cl_top` (one kernel only)."""
    many = len(kernels) > 1
    if many and master_bits is not None:
        raise ValueError("master width parameters are generated for a CL of one kernel only")
    ip, gmems = kernels[0][0], buffers(kernels[0][1])
    up = master_bits is not None
    n_si = 1 + sum(len(buffers(kern)) for _, kern in kernels)
    if many:
        head = [(f"// {len(kernels)} Vitis HLS IPs ({', '.join(i for i, _ in kernels)}): control on OCL (AppPF BAR0)"
                 " through fa_ctrl_xbar,"),
                (f"// kernel k's registers at k * 0x{1 << CONTROL_WINDOW_BITS:x}; their m_axi masters and the host's "
                 "PCIS window (AppPF BAR4)"),
                "// share the DDR4 through fa_xbar (slave 0: PCIS, then each kernel's masters in order)."]
    else:
        head = [f"// {ip} (Vitis HLS IP): control on OCL (AppPF BAR0); its m_axi masters and the host's PCIS window",
                "// (AppPF BAR4) share the DDR4 through fa_xbar (slave 0: PCIS, slave k: gmem<k-1>)."]
    L = [f"// Custom logic of '{shell_comment(model_name)}' for the AWS F2 small shell, generated by fpga-accel.",
         *head, f"module {CL} (", '`include "cl_ports.vh"', ");", '`include "cl_id_defines.vh"', "",
         "  logic rst_n;  // rst_main_n synchronised to clk_main_a0",
         ("  xpm_cdc_async_rst #(.RST_ACTIVE_HIGH(0)) RST_SYNC (.src_arst(rst_main_n), .dest_clk(clk_main_a0),"
          " .dest_arst(rst_n));"), "",
         "  assign cl_sh_id0 = `CL_SH_ID0;", "  assign cl_sh_id1 = `CL_SH_ID1;",
         "  logic ddr_ready;", "  assign cl_sh_status_vled = {15'b0, ddr_ready};",
         "  logic flr_q;  // answer a function-level reset one cycle after it is seen",
         "  always_ff @(posedge clk_main_a0)",
         "    if (!rst_n) begin flr_q <= 1'b0; cl_sh_flr_done <= 1'b0; end",
         "    else begin flr_q <= sh_cl_flr_assert; cl_sh_flr_done <= flr_q && !cl_sh_flr_done; end", ""]
    # the crossbar's slave-side buses, one slot per master
    L.append(f"  // fa_xbar slave side: {n_si} slots of each AXI4 signal")
    for sig, width, _ in AXI4:
        w = _w(width, mem_bits)
        L.append(f"  logic [{n_si * w - 1}:0] xs_{sig};")
    L.append("  // fa_xbar master side: the DDR4 controller")
    for sig, width, _ in AXI4:
        L.append(f"  logic [{_w(width, mem_bits) - 1}:0] xm_{sig};")
    L += ["", "  // slot 0: the shell's PCIS window (its AXI IDs use the low 6 bits)"]
    for sig, width, d in AXI4:
        w = _w(width, mem_bits)
        part = f"xs_{sig}[{w - 1}:0]"
        if d == "m":
            src = f"sh_cl_dma_pcis_{sig}"
            if width == "ID":
                src = f"{{{XBAR_ID_BITS - PCIS_ID_BITS}'b0, sh_cl_dma_pcis_{sig}[{PCIS_ID_BITS - 1}:0]}}"
            L.append(f"  assign {part} = {src};")
        else:
            src = f"{{8'b0, {part}}}" if width == "ID" else part
            L.append(f"  assign cl_sh_dma_pcis_{sig} = {src};")
    L += ["  assign cl_sh_dma_pcis_ruser = 64'b0;", "  assign cl_sh_dma_wr_full = 1'b0;",
          "  assign cl_sh_dma_rd_full = 1'b0;", ""]
    # the kernels
    if up:  # the IP's masters at their own widths (parameters), each upsized or wired straight below
        L.append(f"  // {ip}'s m_axi masters; their data widths are the exported IP's (aws_f2_dcp.sh sets them)")
        L += [f"  localparam int {_bits(g)} = {_width(master_bits, g)};" for g in gmems]
        for g in gmems:
            L += [f"  {_decl(width, _bits(g))} {g}_{sig};" for sig, width, _ in AXI4]
        L.append("")
    if many:
        L += _control_xbar(len(kernels))
        L.append(f"  logic [{len(kernels) - 1}:0] kernel_irq;  // not wired to the shell: the host polls ap_done")
    else:
        L.append("  logic kernel_irq;  // not wired to the shell: the host polls ap_done")
    slot = 1
    for k, (ip_k, kern) in enumerate(kernels):
        L += _kernel_instance(ip_k, kern, k if many else None, slot, mem_bits, up)
        slot += len(buffers(kern))
    if up:
        L += _masters(gmems, mem_bits)
    for k in range(1, n_si):  # the crossbar ignores the IDs of these slots (thread ID width 0)
        w = XBAR_ID_BITS  # bit 0 of a slot: the kernel's 1-bit ID, or 0 behind an upsizer (whose master side has none)
        L.append(f"  assign xs_awid[{k * w + w - 1}:{k * w + 1}] = '0;")
        L.append(f"  assign xs_arid[{k * w + w - 1}:{k * w + 1}] = '0;")
    L += ["", "  fa_xbar FA_XBAR (", "    .aclk(clk_main_a0),", "    .aresetn(rst_n),"]
    xb = [f"    .s_axi_{sig}({n_si * w}'b0)" for sig, w in XBAR_TIED]  # plain memory accesses
    for sig, _, _ in AXI4:
        xb.append(f"    .s_axi_{sig}(xs_{sig})")
    for sig, _, _ in AXI4:
        xb.append(f"    .m_axi_{sig}(xm_{sig})")
    L.append(",\n".join(xb))
    L += ["  );", "", "  // DDR4: the HDK's sh_ddr with its controller present",
          "  logic [15:0] ddr_bid, ddr_rid;", "  assign xm_bid = ddr_bid[7:0];", "  assign xm_rid = ddr_rid[7:0];"]
    ddr = ["    .clk(clk_main_a0)", "    .rst_n(rst_n)", "    .stat_clk(clk_main_a0)", "    .stat_rst_n(rst_n)"]
    ddr += [f"    .{p}({p})" for p in _DDR_PINS] + ["    .cl_RST_DIMM_N(RST_DIMM_N)"]
    for sig, width, d in AXI4:
        src = f"xm_{sig}"
        if width == "ID":  # 16-bit IDs at the controller; it answers with the ID it was given
            src = f"{{8'b0, xm_{sig}}}" if d == "m" else f"ddr_{sig}"
        ddr.append(f"    .cl_sh_ddr_axi_{sig}({src})")
    ddr += ["    .cl_sh_ddr_axi_awuser(1'b0)", "    .cl_sh_ddr_axi_aruser(1'b0)",
            "    .sh_ddr_stat_bus_addr(sh_cl_ddr_stat_addr)", "    .sh_ddr_stat_bus_wdata(sh_cl_ddr_stat_wdata)",
            "    .sh_ddr_stat_bus_wr(sh_cl_ddr_stat_wr)", "    .sh_ddr_stat_bus_rd(sh_cl_ddr_stat_rd)",
            "    .sh_ddr_stat_bus_ack(cl_sh_ddr_stat_ack)", "    .sh_ddr_stat_bus_rdata(cl_sh_ddr_stat_rdata)",
            "    .ddr_sh_stat_int(cl_sh_ddr_stat_int)", "    .sh_cl_ddr_is_ready(ddr_ready)"]
    L += ["  sh_ddr #(.DDR_PRESENT(1)) SH_DDR (", ",\n".join(ddr), "  );", "", "  // unused interfaces, tied off"]
    for name, width in CL_OUTPUTS.items():
        if width and not name.startswith(("cl_sh_id", "cl_sh_status_vled", "cl_sh_flr", "cl_sh_dma_")):
            L.append(f"  assign {name} = {width}'b0;")
    L += ["", "endmodule", ""]
    return "\n".join(L)


def _control_xbar(n: int) -> list[str]:
    """``fa_ctrl_xbar``: the OCL AXI4-Lite slave onto ``n`` kernels' control ports (``cm_*``, n slots each)."""
    L = [f"  // fa_ctrl_xbar: OCL onto each kernel's s_axi_control, kernel k at k * 0x{1 << CONTROL_WINDOW_BITS:x}"]
    L += [f"  logic [{n * w - 1}:0] cm_{sig};" for sig, w, _ in AXIL_XBAR]
    c = ["    .aclk(clk_main_a0)", "    .aresetn(rst_n)"]
    for sig, _, d in AXIL_XBAR:
        src = "3'b0" if sig.endswith("prot") else f"ocl_cl_{sig}" if d == "m" else f"cl_ocl_{sig}"
        c.append(f"    .s_axi_{sig}({src})")
    c += [f"    .m_axi_{sig}(cm_{sig})" for sig, _, _ in AXIL_XBAR]
    return L + ["  fa_ctrl_xbar FA_CTRL_XBAR (", ",\n".join(c), "  );", ""]


def _kernel_instance(ip: str, kernel: dict, k: int | None, slot: int, mem_bits: int, up: bool) -> list[str]:
    """The HLS IP ``ip``: control on OCL (``k`` None) or on the control crossbar's slot k; its masters on
    the memory crossbar's slots from ``slot``."""
    ctrl = control_addr_bits(kernel)
    name = "FA_KERNEL" if k is None else f"FA_KERNEL_S{k}"
    conns = ["    .ap_clk(clk_main_a0)", "    .ap_rst_n(rst_n)",
             "    .interrupt(kernel_irq)" if k is None else f"    .interrupt(kernel_irq[{k}])"]
    widths = {sig: w for sig, w, _ in AXIL_XBAR}
    for s in AXIL:
        if k is not None:  # its slot of the control crossbar's master side
            w = widths[s]
            top = k * w + (ctrl if s in ("awaddr", "araddr") else w) - 1
            sig = f"cm_{s}[{k}]" if w == 1 else f"cm_{s}[{top}:{k * w}]"
        elif s in ("awaddr", "araddr"):
            sig = f"ocl_cl_{s}[{ctrl - 1}:0]"
        else:
            ocl_in = s in ("awvalid", "wdata", "wstrb", "wvalid", "bready", "arvalid", "rready")
            sig = f"ocl_cl_{s}" if ocl_in else f"cl_ocl_{s}"
        conns.append(f"    .s_axi_control_{s.upper()}({sig})")
    for i, g in enumerate(buffers(kernel)):
        for sig, width, _ in AXI4:
            conns.append(f"    .m_axi_{g}_{sig.upper()}({g}_{sig})" if up else
                         f"    .m_axi_{g}_{sig.upper()}(xs_{sig}{_slot(slot + i, width, mem_bits)})")
        conns += [f"    .m_axi_{g}_RUSER(1'b0)", f"    .m_axi_{g}_BUSER(1'b0)"]
    return [f"  {ip} {name} (", ",\n".join(conns), "  );", ""]


def _bits(g: str) -> str:
    return f"{g.upper()}_BITS"


def _width(master_bits: dict[str, int], g: str) -> int:
    """Bundle ``g``'s width as generated: an AXI data width of 32 to 512 bits (aws_f2_dcp.sh's range)."""
    w = master_bits.get(g)
    if isinstance(w, bool) or not isinstance(w, int) or w not in MASTER_WIDTHS:
        raise ValueError(f"m_axi_{g}: data width {w!r} is not one of {MASTER_WIDTHS}")
    return w


def _decl(width, param: str) -> str:
    """The declaration of a master-side signal of a width ``width`` (AXI4's table) for data ``param`` bits wide."""
    if width in ("D", "S"):
        return f"logic [{param} - 1:0]" if width == "D" else f"logic [{param} / 8 - 1:0]"
    return "logic" if width in ("ID", 1) else f"logic [{width - 1}:0]"


def _slot(k: int, width, mem_bits: int) -> str:
    """Crossbar slot k's part of a signal (the kernel's 1-bit ID at the slot's bit 0)."""
    w = _w(width, mem_bits)
    return f"[{k * w}]" if width == "ID" else f"[{k * w + w - 1}:{k * w}]"


def _masters(gmems: list[str], mem_bits: int) -> list[str]:
    """Per master, chosen by its width parameter: an ``fa_upsizer_<bundle>`` (slave side on the IP's port,
    master side on crossbar slot k, no ID), or the port wired to slot k as it is."""
    L = []
    for k, g in enumerate(gmems, start=1):
        c = ["      .s_axi_aclk(clk_main_a0)", "      .s_axi_aresetn(rst_n)"]
        c += [f"      .s_axi_{sig}({w}'b0)" for sig, w in UPSIZER_TIED]
        c += [f"      .s_axi_{sig}({g}_{sig})" for sig, _, _ in AXI4]
        c += [f"      .m_axi_{sig}(xs_{sig}{_slot(k, width, mem_bits)})" for sig, width, _ in AXI4 if width != "ID"]
        L += [f"  generate if ({_bits(g)} < {mem_bits}) begin : g_{g}_upsized",
              f"    fa_upsizer_{g} UP_{g.upper()} (", ",\n".join(c), "    );",
              f"    assign xs_awid[{k * XBAR_ID_BITS}] = 1'b0;", f"    assign xs_arid[{k * XBAR_ID_BITS}] = 1'b0;",
              f"  end else begin : g_{g}_straight"]
        for sig, width, d in AXI4:
            part = f"xs_{sig}{_slot(k, width, mem_bits)}"
            L.append(f"    assign {part} = {g}_{sig};" if d == "m" else f"    assign {g}_{sig} = {part};")
        L += ["  end endgenerate", ""]
    return L


def id_defines() -> str:
    return ("// PCI IDs of the fpga-accel CL (the HDK writes them into the AFI manifest), generated by fpga-accel.\n"
            "`ifndef CL_ID_DEFINES\n`define CL_ID_DEFINES\n"
            f"  `define CL_SH_ID0 32'h{DEVICE_ID:04X}_{VENDOR_ID:04X}\n"
            f"  `define CL_SH_ID1 32'h{SUBSYSTEM_ID:04X}_{SUBSYSTEM_VENDOR_ID:04X}\n`endif\n")


def synth_tcl(kernel: dict, mem_bits: int = 512, master_bits: dict[str, int] | None = None,
              kernels: list[dict] | None = None) -> str:
    """``synth_cl_fa.tcl``: run by the HDK's build_all.tcl (which defines the folder variables); with
    ``kernels`` (several), the memory crossbar has a slot for each one's masters and ``fa_ctrl_xbar`` is made."""
    kernels = kernels or [kernel]
    n_si = 1 + sum(len(buffers(k)) for k in kernels)
    gmems = buffers(kernel)
    upsizer = "" if master_bits is None else (
        "\n# the engine's m_axi data widths, as the exported IP has them (aws_f2_dcp.sh sets them)\n"
        + "".join(f"set fa_bits({g}) {_width(master_bits, g)}\n" for g in gmems) + f"""foreach g {{{" ".join(gmems)}}} {{
  if {{$fa_bits($g) < {mem_bits}}} {{
    print "Creating fa_upsizer_$g: the IP's $fa_bits($g)-bit m_axi_$g onto the {mem_bits}-bit crossbar"
    create_ip -name axi_dwidth_converter -vendor xilinx.com -library ip -module_name fa_upsizer_$g -dir ${{build_dir}}/ip
    set_property -dict [list CONFIG.PROTOCOL {{AXI4}} CONFIG.SI_DATA_WIDTH $fa_bits($g) \\
      CONFIG.MI_DATA_WIDTH {{{mem_bits}}} CONFIG.ADDR_WIDTH {{64}} CONFIG.SI_ID_WIDTH {{1}}] [get_ips fa_upsizer_$g]
    generate_target all [get_ips fa_upsizer_$g]
    synth_ip [get_ips fa_upsizer_$g]
  }}
}}
""")
    props = [f"CONFIG.NUM_SI {{{n_si}}}", "CONFIG.NUM_MI {1}", "CONFIG.PROTOCOL {AXI4}",
             f"CONFIG.DATA_WIDTH {{{mem_bits}}}", "CONFIG.ADDR_WIDTH {64}", f"CONFIG.ID_WIDTH {{{XBAR_ID_BITS}}}",
             f"CONFIG.S00_THREAD_ID_WIDTH {{{PCIS_ID_BITS}}}", "CONFIG.S00_BASE_ID {0x00000000}",
             "CONFIG.M00_A00_BASE_ADDR {0x0000000000000000}", f"CONFIG.M00_A00_ADDR_WIDTH {{{DDR_ADDR_BITS}}}"]
    props += [f"CONFIG.S{k:02d}_THREAD_ID_WIDTH {{0}} CONFIG.S{k:02d}_BASE_ID {{0x{(1 << PCIS_ID_BITS) + k:08x}}}"
              for k in range(1, n_si)]
    prop_lines = " \\\n  ".join(props)
    return f"""# Synthesis of the fpga-accel CL, generated by fpga-accel; sourced by the HDK's build_all.tcl.
source ${{HDK_SHELL_DIR}}/build/scripts/synth_cl_header.tcl

print "Reading the CL sources (encrypted copies)"
read_verilog -sv [glob ${{src_post_enc_dir}}/*.sv]
# the kernel's Verilog from the HLS export (*.?v, as the HDK examples read, would miss these .v files)
read_verilog [glob ${{src_post_enc_dir}}/*.v]
read_verilog -sv [glob ${{src_post_enc_dir}}/cl_id_defines.vh]
set_property file_type {{Verilog Header}} [get_files ${{src_post_enc_dir}}/cl_id_defines.vh]
# the kernel's ROM contents (Vitis HLS writes them beside its Verilog as .dat files)
foreach f [glob -nocomplain ${{CL_DIR}}/design/*.dat] {{ add_files $f }}

print "Reading the HDK IP: DDR4 controller"
read_ip [list ${{HDK_IP_SRC_DIR}}/cl_ddr4/cl_ddr4.xci]

print "Creating fa_xbar: PCIS and the kernel's memory masters onto the DDR4"
create_ip -name axi_crossbar -vendor xilinx.com -library ip -module_name fa_xbar -dir ${{build_dir}}/ip
set_property -dict [list \\
  {prop_lines}] [get_ips fa_xbar]
generate_target all [get_ips fa_xbar]
synth_ip [get_ips fa_xbar]
{upsizer}{_control_xbar_tcl(len(kernels))}
print "Reading user constraints"
read_xdc [list ${{constraints_dir}}/cl_synth_user.xdc ${{constraints_dir}}/cl_timing_user.xdc]
set_property PROCESSING_ORDER LATE [get_files cl_synth_user.xdc]
set_property PROCESSING_ORDER LATE [get_files cl_timing_user.xdc]

print "Synthesizing ${{CL}}"
update_compile_order -fileset sources_1
synth_design -mode out_of_context -top ${{CL}} -verilog_define XSDB_SLV_DIS -part ${{DEVICE_TYPE}} \\
  -keep_equivalent_registers

source ${{HDK_SHELL_DIR}}/build/scripts/synth_cl_footer.tcl
"""


def _control_xbar_tcl(n: int) -> str:
    """The Tcl making ``fa_ctrl_xbar`` for ``n`` kernels (nothing for one): AXI4-Lite, one 4 KiB window each."""
    if n < 2:
        return ""
    props = ["CONFIG.PROTOCOL {AXI4LITE}", "CONFIG.NUM_SI {1}", f"CONFIG.NUM_MI {{{n}}}", "CONFIG.DATA_WIDTH {32}",
             "CONFIG.ADDR_WIDTH {32}",
             "CONFIG.CONNECTIVITY_MODE {SASD}"]  # shared address and data: the AXI4-Lite mode of PG059
    props += [f"CONFIG.M{k:02d}_A00_BASE_ADDR {{0x{control_base(k):08x}}} "
              f"CONFIG.M{k:02d}_A00_ADDR_WIDTH {{{CONTROL_WINDOW_BITS}}}" for k in range(n)]
    lines = " \\\n  ".join(props)
    return f"""
print "Creating fa_ctrl_xbar: OCL onto the {n} kernels' control registers, kernel k at k * 0x{1 << CONTROL_WINDOW_BITS:x}"
create_ip -name axi_crossbar -vendor xilinx.com -library ip -module_name fa_ctrl_xbar -dir ${{build_dir}}/ip
set_property -dict [list \\
  {lines}] [get_ips fa_ctrl_xbar]
generate_target all [get_ips fa_ctrl_xbar]
synth_ip [get_ips fa_ctrl_xbar]
"""


def cl_files(kernel: dict, model_name: str, ip: str = "fa_kernel",
             master_bits: dict[str, int] | None = None) -> dict[str, str]:
    """The CL folder, relative path → text."""
    return _folder(kernel, cl_top(kernel, model_name, 8 * _word(kernel), ip, master_bits), master_bits)


def segments_cl_files(kernels: list[dict], model_name: str) -> dict[str, str]:
    """The CL folder holding every segment's kernel (``kernels[k]``: segment k's kernel section, the IP
    ``fa_kernel_s<k>``), control windows by :func:`control_base`. Raises ValueError for a kernel whose
    registers do not fit its window, or kernels of different memory word widths."""
    from ..segments.names import kernel_top

    words = {_word(k) for k in kernels}
    if len(words) != 1:
        raise ValueError(f"the segments' kernels move memory words of different widths ({sorted(words)} bytes)")
    for k, kern in enumerate(kernels):
        if control_addr_bits(kern) > CONTROL_WINDOW_BITS:
            raise ValueError(f"segment {k}'s kernel has {control_addr_bits(kern)} control address bits, more than its "
                             f"{CONTROL_WINDOW_BITS}-bit window")
    top = kernels_top([(kernel_top(k), kern) for k, kern in enumerate(kernels)], model_name, 8 * words.pop())
    return _folder(kernels[0], top, None, kernels)


def _word(kernel: dict) -> int:
    return int(kernel.get("mem_word_bytes") or 64)


def _folder(kernel: dict, top: str, master_bits: dict[str, int] | None, kernels: list[dict] | None = None) -> dict[str, str]:
    mem_bits = 8 * _word(kernel)
    note = "# fpga-accel CL: {} (generated; the HDK reads this file)\n"
    return {f"design/{CL}.sv": top,
            "design/cl_id_defines.vh": id_defines(),
            f"build/scripts/synth_{CL}.tcl": synth_tcl(kernel, mem_bits, master_bits, kernels),
            "build/constraints/cl_synth_user.xdc": note.format("no synthesis constraints beyond the HDK's"),
            "build/constraints/cl_timing_user.xdc": note.format("clk_main_a0 is constrained by the shell (250 MHz)"),
            "build/constraints/small_shell_cl_pnr_user.xdc": note.format("placement left to the HDK's floorplan")}
