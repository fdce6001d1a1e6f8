"""The Vivado Tcl that turns the exported tiled engine ``fa_tiled_top`` into a PYNQ overlay (.bit + .hwh).

Block design ``fa_bd``, as :mod:`.vivado_tcl` builds it for the dataflow IP (the same project,
processing system, PL clock, runs, timing gate and copy of ``fa_overlay.bit`` / ``.hwh``), with the
engine in place of the streaming IP and its DMAs:

- ``fa_tiled_0/s_axi_control`` (addresses, sizes, ap_ctrl_hs, the status) on the PS master port
  (M_AXI_GP0 on Zynq-7000, M_AXI_HPM0_FPD on Zynq UltraScale+) through an AXI interconnect;
- its three m_axi masters (``m_axi_gmem0`` descriptors, ``gmem1`` weights, ``gmem2`` activations)
  through one SmartConnect onto the board file's HP port into the PS DDR (the only HP port the
  board files enable: the three share its ``ps.hp_bits`` a cycle each way, which the cost model and
  the timed simulation count, :mod:`fpga_accel.tiled.ddr`);
- clocks and resets from PL clock 0 and its reset by block automation, addresses by
  ``assign_bd_address`` (the engine's registers in the master port's window, DDR on each master).
"""
from __future__ import annotations

from .target import Target
from .tiled_interface import BUNDLES, INSTANCE, TOP
from .vivado_tcl import hp_link, ip_cell, preamble, tail


def tiled_vivado_tcl(target: Target, model_name: str, bundles: dict[str, str] | None = None) -> str:
    """The Tcl text (deterministic) for ``target`` (a Zynq board with its ``ps``); ``bundles`` maps each
    pointer to its m_axi bundle (:func:`.tiled_interface.check_top`)."""
    ps = target.ps
    master, slave = f"/{ps.cell}/{ps.master}", f"/{ps.cell}/{ps.hp}"
    out = preamble(target, model_name, TOP) + ip_cell(TOP, INSTANCE)
    out += [
        "# control: PS master port -> AXI interconnect -> s_axi_control of the engine",
        (f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Clk_master Auto Clk_slave Auto "
         f"Clk_xbar Auto Master {master} Slave /{INSTANCE}/s_axi_control ddr_seg Auto "
         f"intc_ip {{New AXI Interconnect}} master_apm 0] [get_bd_intf_pins {INSTANCE}/s_axi_control]"),
        "",
        "# data: the engine's m_axi ports (descriptors, weights, activations) -> SmartConnect -> HP port",
    ]
    for i, bundle in enumerate(sorted(set((bundles or BUNDLES).values()))):
        out.append(hp_link(f"/{INSTANCE}/m_axi_{bundle}", slave, first=i == 0))
    return "\n".join(out + tail())
