"""``mvau.h``: folded matrix-vector unit (Conv after the window, Gemm, MatMul)."""
from __future__ import annotations

import numpy as np

from ...quant.qtype import parse_qtype
from ..stage import Array, Port, Stage
from .packing import PackedLanes


def mvau_stage(layer, src: Port, out: Port, weights: np.ndarray, consts: dict, config: dict,
               n_vectors: int, pe: int, simd: int) -> Stage:
    """``weights`` (MH, MW) in the MVAU column order; ``consts`` bias/M/shift per output channel."""
    mh, mw = weights.shape
    nf, sf = mh // pe, mw // simd
    wq = parse_qtype(config["weight_qtype"])
    acc_bits = int(config["acc_bits"])
    cfg = {"MW": mw, "MH": mh, "SIMD": simd, "PE": pe, "N_VECTORS": int(n_vectors), "IN_BITS": src.bits,
           "IN_SIGNED": src.signed, "W_BITS": wq.bits, "ACC_BITS": acc_bits, "OUT_BITS": out.bits,
           "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    # weights[p][nf*SF + sf] lane s = W[nf*PE + p][sf*SIMD + s]
    w = np.asarray(weights, np.int64).reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe, nf * sf, simd)
    per_ch = lambda a: np.asarray(a, np.int64).reshape(-1)[: mh].reshape(nf, pe).T
    arrays = [Array("weights", f"ap_uint<{simd * wq.bits}>", PackedLanes(w, wq.bits), simd * wq.bits),
              Array("bias", f"ap_int<{acc_bits}>", per_ch(consts["bias"])),
              Array("m", "fa::mult_t", per_ch(np.broadcast_to(consts["M"], (mh,)))),
              Array("shift", "fa::shift_t", per_ch(np.broadcast_to(consts["shift"], (mh,))))]
    params = dict(cfg, NF=nf, SF=sf)
    params = {k: int(v) for k, v in params.items()}
    return Stage(layer, "mvau", [src], [out], cfg, arrays=arrays, params=params,
                 folding={"pe": pe, "simd": simd})
