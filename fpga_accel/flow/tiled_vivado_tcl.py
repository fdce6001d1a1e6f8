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
- a split engine (``FA_TILED_SPLIT=1``: :func:`.tiled_interface.check_top` with ``split``) has two more
  read-only masters, each through a SmartConnect of its own onto a port of its own: ``m_axi_gmem3``
  (second weights) onto ``ps.hp_weights_b``, ``m_axi_gmem4`` (second activations) onto ``ps.hp_b``
  (zcu104, kv260, ultra96v2: S_AXI_HP2_FPD / S_AXI_HP1_FPD; pynq-z2: S_AXI_HP3 / S_AXI_HP1), each
  enabled at ``ps.hp_bits`` by its ``ps.hp_ports`` CONFIG; as :func:`.ddr.master_ports` numbers them;
- clocks and resets from PL clock 0 and its reset by block automation (each HP port's clock too,
  ``Clk_slave``), addresses by ``assign_bd_address`` (the engine's registers in the master port's
  window; on each master the DDR segment of the HP port its SmartConnect reaches).
"""
from __future__ import annotations

from ..tiled.ddr import ACTS, ACTS_B, DESC, WEIGHTS, WEIGHTS_B, master_ports
from .target import Target
from .tiled_interface import BUNDLES, INSTANCE, TOP
from .vivado_tcl import hp_link, ip_cell, preamble, property_lines, tail

#: the master (ddr.DESC, WEIGHTS, ACTS, WEIGHTS_B, ACTS_B) behind each pointer of the engine's top
POINTER_MASTER = {"desc": DESC, "weights": WEIGHTS, "acts": ACTS, "weights_b": WEIGHTS_B, "acts_b": ACTS_B}


def hp_ports(ps, bundles: dict[str, str] | None = None) -> dict[str, str]:
    """The HP port each m_axi bundle of the engine goes through on the PS ``ps``, as the cost model
    counts them (ddr.master_ports: port 0 ``ps.hp``, 1 ``ps.hp_weights``, 2 ``ps.hp_b``, 3
    ``ps.hp_weights_b``); ``bundles`` maps each pointer to its bundle."""
    names = (ps.hp, ps.hp_weights or ps.hp, getattr(ps, "hp_b", None), getattr(ps, "hp_weights_b", None))
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
    split = len(on) > len(BUNDLES)
    if extra:  # the ports besides ps.hp (which ps.config enables) at the HP port width
        out += [f"# the HP ports besides {ps.hp}: {', '.join(extra)} (the weights', the second weights', the second "
                "activations')" if split else f"# the HP port{'s' if len(extra) > 1 else ''} of the weights: "
                f"{', '.join(extra)}"]
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
        clock = (f" (its clock {ps.hp_ports[port]['clock_pin']}: the engine's, by Clk_slave)"
                 if split and port in ps.hp_ports else "")
        out += ["", f"# data: m_axi {', '.join(mine)} -> SmartConnect -> {port}{clock}"]
        for i, bundle in enumerate(mine):
            out.append(hp_link(f"/{INSTANCE}/m_axi_{bundle}", f"/{ps.cell}/{port}", first=i == 0))
    return "\n".join(out + tail())
