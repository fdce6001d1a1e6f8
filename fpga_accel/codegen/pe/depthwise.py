"""``depthwise.h``: per-channel K x K dot product after a DEPTHWISE-order window."""
from __future__ import annotations

import numpy as np

from ...quant.qtype import parse_qtype
from ..stage import Array, Port, Stage
from .packing import PackedLanes


def depthwise_stage(layer, src: Port, out: Port, weights: np.ndarray, consts: dict, config: dict,
                    n_vectors: int, pe: int) -> Stage:
    """``weights`` (C, 1, KH, KW)."""
    c = weights.shape[0]
    k = int(np.prod(weights.shape[2:]))
    cf = c // pe
    wq = parse_qtype(config["weight_qtype"])
    acc_bits = int(config["acc_bits"])
    cfg = {"C": c, "PE": pe, "K": k, "N_VECTORS": int(n_vectors), "IN_BITS": src.bits, "IN_SIGNED": src.signed,
           "W_BITS": wq.bits, "ACC_BITS": acc_bits, "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]),
           "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    # weights[cf*K + k] lane p = w[cf*PE + p][k]
    w = np.asarray(weights, np.int64).reshape(cf, pe, k).transpose(0, 2, 1).reshape(cf * k, pe)
    per_ch = lambda a: np.asarray(np.broadcast_to(a, (c,)), np.int64).reshape(cf, pe).T
    arrays = [Array("weights", f"ap_uint<{pe * wq.bits}>", PackedLanes(w, wq.bits), pe * wq.bits),
              Array("bias", f"ap_int<{acc_bits}>", per_ch(consts["bias"])),
              Array("m", "fa::mult_t", per_ch(consts["M"])),
              Array("shift", "fa::shift_t", per_ch(consts["shift"]))]
    params = {k_: int(v) for k_, v in dict(cfg, CF=cf).items()}
    return Stage(layer, "depthwise", [src], [out], cfg, arrays=arrays, params=params, folding={"pe": pe})
