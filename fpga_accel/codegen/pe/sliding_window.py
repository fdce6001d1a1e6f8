"""``sliding_window.h``: line buffer producing K x K windows (MVAU or depthwise/pool order)."""
from __future__ import annotations

from ..stage import LoweringError, Port, Stage


def geometry(config: dict, in_shape) -> dict[str, int]:
    """Window parameters IH..PAD_R from an integer layer's kernel/strides/dilations/pads config.
    1D layers (N, W, C) become one row."""
    k, s, d, p = config["kernel"], config["strides"], config["dilations"], config["pads"]
    if len(k) == 1:
        k, s, d, p = [1, k[0]], [1, s[0]], [1, d[0]], [0, p[0], 0, p[1]]
        ih, iw = 1, int(in_shape[1])
    elif len(k) == 2:
        ih, iw = int(in_shape[1]), int(in_shape[2])
    else:
        raise LoweringError(f"{len(k)}-D windows have no processing element (1D and 2D only)")
    g = {"IH": ih, "IW": iw, "C": int(in_shape[-1]), "KH": int(k[0]), "KW": int(k[1]), "SH": int(s[0]),
         "SW": int(s[1]), "DH": int(d[0]), "DW": int(d[1]), "PAD_T": int(p[0]), "PAD_L": int(p[1]),
         "PAD_B": int(p[2]), "PAD_R": int(p[3])}
    span_h, span_w = g["DH"] * (g["KH"] - 1) + 1, g["DW"] * (g["KW"] - 1) + 1
    if max(g["PAD_T"], g["PAD_B"]) >= span_h or max(g["PAD_L"], g["PAD_R"]) >= span_w:
        raise LoweringError(f"padding {list(p)} is not smaller than the kernel span ({span_h}x{span_w}); the "
                            f"line buffer cannot produce windows made only of padding")
    g["OH"] = (ih + g["PAD_T"] + g["PAD_B"] - span_h) // g["SH"] + 1
    g["OW"] = (iw + g["PAD_L"] + g["PAD_R"] - span_w) // g["SW"] + 1
    return g


def is_identity(g: dict[str, int]) -> bool:
    """A 1x1, stride-1, unpadded window is the input stream itself."""
    return (g["KH"], g["KW"], g["SH"], g["SW"], g["PAD_T"], g["PAD_L"], g["PAD_B"], g["PAD_R"]) == (1, 1, 1, 1, 0, 0, 0, 0)


def window_stage(layer: str, src: Port, out_tensor: str, g: dict[str, int], pad_value: int,
                 depthwise: bool) -> Stage:
    lanes = src.lanes
    cfg = {k: g[k] for k in ("IH", "IW", "C", "KH", "KW", "SH", "SW", "DH", "DW", "PAD_T", "PAD_L", "PAD_B",
                             "PAD_R")}
    cfg.update({"SIMD": lanes, "BITS": src.bits, "PAD_VALUE": int(pad_value), "DEPTHWISE": bool(depthwise)})
    params = dict(cfg, OH=g["OH"], OW=g["OW"], DEPTHWISE=int(depthwise))
    out = Port(out_tensor, lanes, src.bits, src.signed)
    return Stage(layer, "sliding_window", [src], [out], cfg, params=params, folding={"simd": lanes})


def pool_config(g: dict[str, int], lanes: int, bits: int) -> dict[str, int]:
    """The window members pool.h's window pools share with sliding_window's config."""
    cfg = {k: g[k] for k in ("IH", "IW", "C", "KH", "KW", "SH", "SW", "DH", "DW", "PAD_T", "PAD_L", "PAD_B",
                             "PAD_R")}
    cfg.update({"SIMD": lanes, "BITS": bits})
    return cfg
