"""The Vivado Tcl that turns the exported tiled engine ``fa_tiled_top`` into a PYNQ overlay (.bit + .hwh).

Block design ``fa_bd``, as :mod:`.vivado_tcl` builds it for the dataflow IP (the same project,
processing system, PL clock, runs, timing gate and copy of ``fa_overlay.bit`` / ``.hwh``), with the
engine in place of the streaming IP and its DMAs:

- ``fa_tiled_0/s_axi_control`` (addresses, sizes, ap_ctrl_hs, the status) on the PS master port
  (M_AXI_GP0 on Zynq-7000, M_AXI_HPM0_FPD on Zynq UltraScale+) through an AXI interconnect;
- its three m_axi masters onto HP ports into the PS DDR (:func:`hp_ports`): ``m_axi_gmem1``
  (weights) through a SmartConnect of its own onto the board file's ``ps.hp_weights``
  (S_AXI_HP3_FPD on Zynq UltraScale+, S_AXI_HP2 on Zynq-7000), ``m_axi_gmem2`` (activations) and
  ``m_axi_gmem0`` (descriptors, a few words a layer) through another onto ``ps.hp`` (S_AXI_HP0_FPD,
  S_AXI_HP0). The two ports reach different DDR controller ports (the board file's
  ``ps.hp_ports``: UG1085, UG585), so the weight and activation streams share only the DRAM; each
  port carries ``ps.hp_bits`` a cycle each way, which the cost model and the timed simulation
  count (:mod:`fpga_accel.tiled.ddr`). The PS config enables the second port at that width;
- clocks and resets from PL clock 0 and its reset by block automation (each HP port's clock too,
  ``Clk_slave``), addresses by ``assign_bd_address`` (the engine's registers in the master port's
  window; on each master the DDR segment of the HP port its SmartConnect reaches).
"""
from __future__ import annotations

from ..tiled.ddr import ACTS, DESC, WEIGHTS, master_ports
from .target import Target
from .tiled_interface import BUNDLES, INSTANCE, TOP
from .vivado_tcl import hp_link, ip_cell, preamble, property_lines, tail

#: the master (ddr.DESC, WEIGHTS, ACTS) behind each pointer of the engine's top
POINTER_MASTER = {"desc": DESC, "weights": WEIGHTS, "acts": ACTS}


def hp_ports(ps, bundles: dict[str, str] | None = None) -> dict[str, str]:
    """The HP port each m_axi bundle of the engine goes through on the PS ``ps``, as the cost model
    counts them (ddr.master_ports: port 0 ``ps.hp``, port 1 ``ps.hp_weights``); ``bundles`` maps
    each pointer to its bundle."""
    names = (ps.hp, ps.hp_weights or ps.hp)
    ports = master_ports(ps)
    pairs = sorted((bundles or BUNDLES).items(), key=lambda kv: kv[1])
    return {bundle: names[ports[POINTER_MASTER.get(pointer, DESC)]] for pointer, bundle in pairs}


def tiled_vivado_tcl(target: Target, model_name: str, bundles: dict[str, str] | None = None) -> str:
    """The Tcl text (deterministic) for ``target`` (a Zynq board with its ``ps``); ``bundles`` maps each
    pointer to its m_axi bundle (:func:`.tiled_interface.check_top`)."""
    ps = target.ps
    master = f"/{ps.cell}/{ps.master}"
    on = hp_ports(ps, bundles)
    out = preamble(target, model_name, TOP)
    extra = [p for p in dict.fromkeys(on.values()) if p != ps.hp]
    if extra:  # the ports besides ps.hp (which ps.config enables) at the HP port width
        out += [f"# the HP port{'s' if len(extra) > 1 else ''} of the weights: {', '.join(extra)}"]
        out += property_lines([f"CONFIG.{k} {{{v}}}" for p in extra for k, v in ps.hp_ports[p]["config"].items()],
                               f"[get_bd_cells {ps.cell}]")
        out.append("")
    out += ip_cell(TOP, INSTANCE)
    out += [
        "# control: PS master port -> AXI interconnect -> s_axi_control of the engine",
        (f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Clk_master Auto Clk_slave Auto "
         f"Clk_xbar Auto Master {master} Slave /{INSTANCE}/s_axi_control ddr_seg Auto "
         f"intc_ip {{New AXI Interconnect}} master_apm 0] [get_bd_intf_pins {INSTANCE}/s_axi_control]"),
    ]
    for port in dict.fromkeys(on.values()):
        mine = [b for b, p in on.items() if p == port]
        out += ["", f"# data: m_axi {', '.join(mine)} -> SmartConnect -> {port}"]
        for i, bundle in enumerate(mine):
            out.append(hp_link(f"/{INSTANCE}/m_axi_{bundle}", f"/{ps.cell}/{port}", first=i == 0))
    return "\n".join(out + tail())
