"""``channel_mul.h``: the product of a feature map (1,H,W,C) and a computed per-image channel gate
(1,1,1,C), as in squeeze-excitation.

channel_mul : cycles/image = (N_PIXELS + 1)·C/LANES: the gate's C/LANES words into a buffer, then
              the map's N_PIXELS·C/LANES words; per lane the a·g product and its requantise product.
              The map is read after its image's gate, so its input FIFO holds up to one image of the
              map (input_slack).
"""
from __future__ import annotations

from .base import ProcessingElement, register
from .cost import Cost, Memory, dsps_per_product, requant_cost
from .stage import Port, Stage, ints


def channel_mul_stage(layer, x: Port, gate: Port, out: Port, n_pixels: int, c: int, config: dict,
                      gate_first: bool) -> Stage:
    """``x`` the map, ``gate`` the (1,1,1,C) side; ``gate_first`` when the gate is the layer's first
    input (its zero point is then ``config["zero_points"][0]``). The product commutes, so the map is
    always the PE's input A."""
    zx, zg = config["zero_points"][::-1] if gate_first else config["zero_points"]
    cfg = {"N_PIXELS": n_pixels, "C": c, "LANES": out.lanes,
           "A_BITS": x.bits, "A_SIGNED": x.signed, "A_ZP": int(zx),
           "B_BITS": gate.bits, "B_SIGNED": gate.signed, "B_ZP": int(zg),
           "M": int(config["M"]), "SHIFT": int(config["shift"]), "OUT_BITS": out.bits,
           "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    described = ints(cfg)
    model = {"IN_BITS": max(x.bits, gate.bits), "B_BITS": gate.bits, "OUT_BITS": described["OUT_BITS"],
             "N_PIXELS": n_pixels, "C": c, "LANES": described["LANES"]}
    return Stage(layer, "channel_mul", model, [x, gate], [out], cfg, header_params=described,
                 folding={"pe": out.lanes})


@register
class ChannelMul(ProcessingElement):
    kind = "channel_mul"
    headers = ("channel_mul.h",)

    def cycles(self, p) -> int:
        return (p["N_PIXELS"] + 1) * (p["C"] // p["LANES"])

    def input_slack(self, p, interval: int) -> int:
        # the map's producer goes on writing while the gate of its image is computed from that
        # image: up to one image of the map waits in front
        return p["N_PIXELS"] * (p["C"] // p["LANES"])

    def first_out(self, p) -> int:
        return p["C"] // p["LANES"] + 4

    def cost(self, p, board) -> Cost:
        lanes, cf = p["LANES"], p["C"] // p["LANES"]
        rq = requant_cost(lanes, 2 * p["IN_BITS"] + 2, p["OUT_BITS"], board.dsp_port_bits)
        dsp = lanes * dsps_per_product(p["IN_BITS"] + 1, p["IN_BITS"] + 1, board.dsp_port_bits)
        return Cost(dsp=dsp + rq.dsp, lut=80 + rq.lut, ff=100 + lanes * 2 * p["IN_BITS"] + rq.ff,
                    memories=[Memory("buffer", cf, p["B_BITS"] + 1, lanes)])
