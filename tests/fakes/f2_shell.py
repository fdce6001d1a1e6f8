"""Elaborating the generated F2 custom logic with slang (pyslang), against stand-ins for what the
HDK and the tools provide: the shell's port list (``cl_ports.vh``, written here from the names and
widths of aws-fpga's F2 interface), the HDK's ``sh_ddr``, the crossbar ``fa_xbar`` (the port names
of AMD's axi_crossbar: one concatenated vector per signal), Vitis HLS's ``fa_kernel`` IP (its
``s_axi_control_*`` and ``m_axi_<bundle>_*`` ports with 1-bit IDs and user signals) and
``xpm_cdc_async_rst``. Width mismatches, implicit nets and unknown ports come back as diagnostics."""
from __future__ import annotations

AXI = [("awid", "ID", "o"), ("awaddr", 64, "o"), ("awlen", 8, "o"), ("awsize", 3, "o"), ("awburst", 2, "o"),
       ("awvalid", 1, "o"), ("awready", 1, "i"), ("wdata", "D", "o"), ("wstrb", "S", "o"), ("wlast", 1, "o"),
       ("wvalid", 1, "o"), ("wready", 1, "i"), ("bid", "ID", "i"), ("bresp", 2, "i"), ("bvalid", 1, "i"),
       ("bready", 1, "o"), ("arid", "ID", "o"), ("araddr", 64, "o"), ("arlen", 8, "o"), ("arsize", 3, "o"),
       ("arburst", 2, "o"), ("arvalid", 1, "o"), ("arready", 1, "i"), ("rid", "ID", "i"), ("rdata", "D", "i"),
       ("rresp", 2, "i"), ("rlast", 1, "i"), ("rvalid", 1, "i"), ("rready", 1, "o")]
EXTRA = [("awcache", 4), ("awlock", 1), ("awprot", 3), ("awqos", 4), ("awuser", 55), ("arcache", 4), ("arlock", 1),
         ("arprot", 3), ("arqos", 4), ("aruser", 55)]


def _w(width, idw: int, data: int = 512) -> int:
    return {"ID": idw, "D": data, "S": data // 8}.get(width, width)


def cl_ports() -> str:
    """The shell's ports, as ``cl_ports.vh`` lists them (master = the CL for PCIM, the shell for PCIS)."""
    p = [("input", 1, n) for n in ("clk_main_a0", "rst_main_n", "clk_hbm_ref", "sh_cl_flr_assert")]
    p += [("output", 1, "cl_sh_flr_done")] + [("output", 32, f"cl_sh_status{i}") for i in range(3)]
    p += [("output", 32, "cl_sh_id0"), ("output", 32, "cl_sh_id1")]
    p += [("input", 32, f"sh_cl_ctl{i}") for i in range(3)]
    p += [("input", 16, "sh_cl_status_vdip"), ("output", 16, "cl_sh_status_vled"), ("input", 2, "sh_cl_pwr_state"),
          ("output", 1, "cl_sh_dma_wr_full"), ("output", 1, "cl_sh_dma_rd_full")]
    for sig, width, d in AXI:  # PCIM: the CL masters
        p.append(("output" if d == "o" else "input", _w(width, 16), f"{'cl_sh' if d == 'o' else 'sh_cl'}_pcim_{sig}"))
    p += [("output", w, f"cl_sh_pcim_{s}") for s, w in EXTRA] + [("output", 16, "cl_sh_pcim_wid"),
                                                                   ("output", 64, "cl_sh_pcim_wuser")]
    p += [("input", 64, "sh_cl_pcim_ruser"), ("input", 2, "cfg_max_payload"), ("input", 3, "cfg_max_read_req")]
    p += [("input", 1, "CLK_DIMM_DP"), ("input", 1, "CLK_DIMM_DN"), ("output", 1, "M_ACT_N"), ("output", 18, "M_MA"),
          ("output", 2, "M_BA"), ("output", 2, "M_BG"), ("output", 2, "M_CKE"), ("output", 2, "M_ODT"),
          ("output", 2, "M_CS_N"), ("output", 2, "M_CLK_DN"), ("output", 2, "M_CLK_DP"), ("output", 1, "M_PAR"),
          ("inout", 64, "M_DQ"), ("inout", 8, "M_ECC"), ("inout", 18, "M_DQS_DP"), ("inout", 18, "M_DQS_DN"),
          ("output", 1, "RST_DIMM_N")]
    p += [("input", 8, "sh_cl_ddr_stat_addr"), ("input", 32, "sh_cl_ddr_stat_wdata"), ("input", 1, "sh_cl_ddr_stat_wr"),
          ("input", 1, "sh_cl_ddr_stat_rd"), ("input", 3, "sh_cl_ddr_stat_user"), ("output", 1, "cl_sh_ddr_stat_ack"),
          ("output", 32, "cl_sh_ddr_stat_rdata"), ("output", 8, "cl_sh_ddr_stat_int")]
    p += [("output", 16, "cl_sh_apppf_irq_req"), ("input", 16, "sh_cl_apppf_irq_ack")]
    for sig, width, d in AXI:  # PCIS: the shell masters
        p.append(("input" if d == "o" else "output", _w(width, 16), f"{'sh_cl' if d == 'o' else 'cl_sh'}_dma_pcis_{sig}"))
    p += [("input", w, f"sh_cl_dma_pcis_{s}") for s, w in EXTRA]
    p += [("input", 16, "sh_cl_dma_pcis_wid"), ("input", 64, "sh_cl_dma_pcis_wuser"), ("output", 64, "cl_sh_dma_pcis_ruser")]
    for bus in ("ocl", "sda"):
        ins = [("awaddr", 32), ("awvalid", 1), ("wdata", 32), ("wstrb", 4), ("wvalid", 1), ("bready", 1),
               ("araddr", 32), ("arvalid", 1), ("rready", 1)]
        outs = [("awready", 1), ("wready", 1), ("bresp", 2), ("bvalid", 1), ("arready", 1), ("rdata", 32),
                ("rresp", 2), ("rvalid", 1)]
        p += [("input", w, f"{bus}_cl_{s}") for s, w in ins] + [("output", w, f"cl_{bus}_{s}") for s, w in outs]
    p += [("input", 55, "ocl_cl_awuser"), ("input", 55, "ocl_cl_aruser")]
    p += [("input", 1, n) for n in ("drck", "shift", "tdi", "update", "sel", "tms", "tck", "runtest", "reset",
                                     "capture", "bscanid_en")] + [("output", 1, "tdo")]
    p += [("input", 64, "sh_cl_glcount0"), ("input", 64, "sh_cl_glcount1")]
    for i in (1, 0):
        p += [("input", 1, f"hbm_apb_preset_n_{i}")]
        p += [("output", w, f"hbm_apb_{s}_{i}") for s, w in [("paddr", 22), ("pprot", 3), ("psel", 1), ("penable", 1),
                                                            ("pwrite", 1), ("pwdata", 32), ("pstrb", 4), ("pready", 1),
                                                            ("prdata", 32), ("pslverr", 1)]]
    p += [("input", 1, "PCIE_EP_PERSTN"), ("input", 1, "PCIE_EP_REF_CLK_P"), ("input", 1, "PCIE_EP_REF_CLK_N"),
          ("output", 8, "PCIE_EP_TXP"), ("output", 8, "PCIE_EP_TXN"), ("input", 8, "PCIE_EP_RXP"),
          ("input", 8, "PCIE_EP_RXN"), ("output", 1, "PCIE_RP_PERSTN"), ("input", 1, "PCIE_RP_REF_CLK_P"),
          ("input", 1, "PCIE_RP_REF_CLK_N"), ("output", 8, "PCIE_RP_TXP"), ("output", 8, "PCIE_RP_TXN"),
          ("input", 8, "PCIE_RP_RXP"), ("input", 8, "PCIE_RP_RXN")]
    kind = {"input": "input logic", "output": "output logic", "inout": "inout wire"}
    return ",\n".join(f"  {kind[d]} [{w - 1}:0] {n}" for d, w, n in p) + "\n"


def _ports(lines) -> str:
    return "(\n" + ",\n".join(lines) + "\n);"


def stubs(bundles: list[str], ctrl_bits: int, n_si: int, idw: int = 8, ip: str = "fa_kernel",
          master_bits: int | dict = 512) -> str:
    """Modules for sh_ddr, fa_xbar, the HLS IP ``ip`` (m_axi data ``master_bits`` wide: one width, or per
    bundle) and xpm_cdc_async_rst with their port lists, and AMD's axi_dwidth_converter as
    ``fa_upsizer_<bundle>`` (slave side the port's width with 1-bit IDs, master side 512 bits without IDs;
    its lock/cache/... outputs, which the CL leaves open as it does the IP's, not listed) for each port
    narrower than 512 bits."""
    bits = master_bits if isinstance(master_bits, dict) else {g: master_bits for g in bundles}
    ddr = ["input logic clk", "input logic rst_n", "input logic stat_clk", "input logic stat_rst_n",
           "input logic CLK_DIMM_DP", "input logic CLK_DIMM_DN", "output logic M_ACT_N", "output logic [17:0] M_MA",
           "output logic [1:0] M_BA", "output logic [1:0] M_BG", "output logic [1:0] M_CKE", "output logic [1:0] M_ODT",
           "output logic [1:0] M_CS_N", "output logic [1:0] M_CLK_DN", "output logic [1:0] M_CLK_DP",
           "output logic M_PAR", "inout wire [63:0] M_DQ", "inout wire [7:0] M_ECC", "inout wire [17:0] M_DQS_DP",
           "inout wire [17:0] M_DQS_DN", "output logic cl_RST_DIMM_N", "input logic cl_sh_ddr_axi_awuser",
           "input logic cl_sh_ddr_axi_aruser", "input logic [7:0] sh_ddr_stat_bus_addr",
           "input logic [31:0] sh_ddr_stat_bus_wdata", "input logic sh_ddr_stat_bus_wr", "input logic sh_ddr_stat_bus_rd",
           "output logic sh_ddr_stat_bus_ack", "output logic [31:0] sh_ddr_stat_bus_rdata",
           "output logic [7:0] ddr_sh_stat_int", "output logic sh_cl_ddr_is_ready"]
    ddr += [f"{'input' if d == 'o' else 'output'} logic [{_w(w, 16) - 1}:0] cl_sh_ddr_axi_{s}" for s, w, d in AXI]
    xbar = ["input logic aclk", "input logic aresetn"]
    xbar += [f"input logic [{n_si * w - 1}:0] s_axi_{s}" for s, w in [("awlock", 1), ("awcache", 4), ("awprot", 3),
                                                                       ("awqos", 4), ("arlock", 1), ("arcache", 4),
                                                                       ("arprot", 3), ("arqos", 4)]]
    xbar += [f"{'input' if d == 'o' else 'output'} logic [{n_si * _w(w, idw) - 1}:0] s_axi_{s}" for s, w, d in AXI]
    xbar += [f"{'output' if d == 'o' else 'input'} logic [{_w(w, idw) - 1}:0] m_axi_{s}" for s, w, d in AXI]
    rst = ["input logic src_arst", "input logic dest_clk", "output logic dest_arst"]
    mods = [f"module sh_ddr #(parameter DDR_PRESENT = 1) {_ports(ddr)}\nendmodule",
            f"module fa_xbar {_ports(xbar)}\nendmodule", kernel_module(ip, bundles, ctrl_bits, master_bits),
            f"module xpm_cdc_async_rst #(parameter RST_ACTIVE_HIGH = 0) {_ports(rst)}\nendmodule"]
    for g in bundles:
        if bits[g] == 512:
            continue
        tied = [("lock", 1), ("cache", 4), ("prot", 3), ("region", 4), ("qos", 4)]
        up = ["input logic s_axi_aclk", "input logic s_axi_aresetn"]
        up += [f"input logic [{w - 1}:0] s_axi_{c}{s}" for c in ("aw", "ar") for s, w in tied]
        up += [f"{'input' if d == 'o' else 'output'} logic [{_w(w, 1, bits[g]) - 1}:0] s_axi_{s}" for s, w, d in AXI]
        up += [f"{'output' if d == 'o' else 'input'} logic [{_w(w, 1) - 1}:0] m_axi_{s}" for s, w, d in AXI if w != "ID"]
        mods.append(f"module fa_upsizer_{g} {_ports(up)}\nendmodule")
    return "\n".join(mods) + "\n"


def kernel_module(ip: str, bundles: list[str], ctrl_bits: int, master_bits: int | dict = 512) -> str:
    """Vitis HLS's IP ``ip``: ap_ctrl, ``s_axi_control_*`` with ``ctrl_bits`` of address, an m_axi port per
    bundle (data ``master_bits`` wide: one width, or per bundle)."""
    bits = master_bits if isinstance(master_bits, dict) else {g: master_bits for g in bundles}
    kern = ["input logic ap_clk", "input logic ap_rst_n", "output logic interrupt"]
    ctl = [("AWADDR", ctrl_bits, "i"), ("AWVALID", 1, "i"), ("AWREADY", 1, "o"), ("WDATA", 32, "i"), ("WSTRB", 4, "i"),
           ("WVALID", 1, "i"), ("WREADY", 1, "o"), ("BRESP", 2, "o"), ("BVALID", 1, "o"), ("BREADY", 1, "i"),
           ("ARADDR", ctrl_bits, "i"), ("ARVALID", 1, "i"), ("ARREADY", 1, "o"), ("RDATA", 32, "o"), ("RRESP", 2, "o"),
           ("RVALID", 1, "o"), ("RREADY", 1, "i")]
    kern += [f"{'input' if d == 'i' else 'output'} logic [{w - 1}:0] s_axi_control_{s}" for s, w, d in ctl]
    for g in bundles:
        kern += [f"{'output' if d == 'o' else 'input'} logic [{_w(w, 1, bits[g]) - 1}:0] m_axi_{g}_{s.upper()}"
                 for s, w, d in AXI]
        kern += [f"input logic m_axi_{g}_RUSER", f"input logic m_axi_{g}_BUSER"]
    return f"module {ip} {_ports(kern)}\nendmodule"


def control_xbar_module(n: int) -> str:
    """AMD's axi_crossbar in AXI4-Lite mode as ``fa_ctrl_xbar``: one slave, ``n`` masters (vectors n slots wide)."""
    lite = [("awaddr", 32, "o"), ("awprot", 3, "o"), ("awvalid", 1, "o"), ("awready", 1, "i"), ("wdata", 32, "o"),
            ("wstrb", 4, "o"), ("wvalid", 1, "o"), ("wready", 1, "i"), ("bresp", 2, "i"), ("bvalid", 1, "i"),
            ("bready", 1, "o"), ("araddr", 32, "o"), ("arprot", 3, "o"), ("arvalid", 1, "o"), ("arready", 1, "i"),
            ("rdata", 32, "i"), ("rresp", 2, "i"), ("rvalid", 1, "i"), ("rready", 1, "o")]
    ports = ["input logic aclk", "input logic aresetn"]
    ports += [f"{'input' if d == 'o' else 'output'} logic [{w - 1}:0] s_axi_{s}" for s, w, d in lite]
    ports += [f"{'output' if d == 'o' else 'input'} logic [{n * w - 1}:0] m_axi_{s}" for s, w, d in lite]
    return f"module fa_ctrl_xbar {_ports(ports)}\nendmodule"


def elaborate_kernels(sv: str, id_defines: str, kernels: list[tuple[str, list[str], int]]) -> list[str]:
    """slang's diagnostics for a CL top of several kernels ([(IP name, its bundles, its control address bits)])
    with the stand-ins above and ``fa_ctrl_xbar``."""
    ip, bundles, bits = kernels[0]
    n_si = 1 + sum(len(b) for _, b, _ in kernels)
    extra = "\n".join([kernel_module(i, b, c) for i, b, c in kernels[1:]] + [control_xbar_module(len(kernels))])
    return _diagnostics(sv, id_defines, stubs(bundles, bits, n_si, ip=ip) + extra + "\n")


def elaborate(sv: str, id_defines: str, bundles: list[str], ctrl_bits: int, ip: str = "fa_kernel",
              master_bits: int | dict = 512) -> list[str]:
    """slang's diagnostics (errors and warnings) for the CL top ``sv`` with the stand-ins above."""
    return _diagnostics(sv, id_defines, stubs(bundles, ctrl_bits, 1 + len(bundles), ip=ip, master_bits=master_bits))


def _diagnostics(sv: str, id_defines: str, modules: str) -> list[str]:
    from pyslang import DiagnosticEngine, ast, syntax

    text = sv.replace('`include "cl_ports.vh"', cl_ports()).replace('`include "cl_id_defines.vh"', id_defines)
    text += modules
    c = ast.Compilation()
    c.addSyntaxTree(syntax.SyntaxTree.fromText(text))
    report = DiagnosticEngine.reportAll(c.sourceManager, c.getAllDiagnostics())
    return [line for line in report.splitlines() if ": error:" in line or ": warning:" in line]
