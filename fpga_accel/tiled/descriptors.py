"""The binary program the tiled engine's hardware reads: fixed-size little-endian records of 32-bit
words, written from a checked :class:`~fpga_accel.tiled.program.Program`.

Record 0 is the header, then one record of :data:`RECORD_WORDS` words per layer, in execution
order. Word positions are :data:`HEADER`, :data:`LAYER`, :data:`VIEW`, :data:`BLOCK` and
:data:`POST`; ``hls/include/fpga_accel/tiled/descriptor.h`` mirrors them (a test compares the two).
Signed fields are two's complement. Addresses are byte offsets into the two arenas, so both
arenas must be below 4 GiB (:func:`encode` refuses larger ones).

The hardware trusts nothing in these records: before it runs anything it checks every layer
against the arena sizes and buffer sizes it was built and started with, and refuses a program
whose addresses, counts, geometry or tiles fall outside them (``tiled/checks.h``).
"""
from __future__ import annotations

import numpy as np

from .program import KINDS, Program, ProgramError

MAGIC = 0x4C544146  # "FATL", little-endian
VERSION = 1
RECORD_WORDS = 192
MAX_INPUTS = 4  # inputs of an add layer the record holds
MAX_POST = 4
ARENA_LIMIT = 1 << 32  # bytes: addresses are 32-bit words

HEADER = {"magic": 0, "version": 1, "record_words": 2, "layers": 3, "tm": 4, "tn": 5, "input_buffer": 6,
          "weight_buffer": 7, "output_buffer": 8, "weights_bytes": 9, "activations_bytes": 10}
#: a view: byte offset into the activation arena, shape, pixel stride (elements), dtype code
VIEW = {"offset": 0, "h": 1, "w": 2, "c": 3, "pixel_stride": 4, "dtype": 5}
VIEW_WORDS = 6
#: a block of the weights arena: byte offset, element count, dtype code
BLOCK = {"offset": 0, "count": 1, "dtype": 2}
BLOCK_WORDS = 3
LAYER = {"kind": 0, "n_inputs": 1, "tile_tm": 2, "tile_tn": 3, "tile_rows": 4, "tile_cols": 5,
         "kh": 6, "kw": 7, "sh": 8, "sw": 9, "dh": 10, "dw": 11, "pad_t": 12, "pad_l": 13,
         "groups": 14, "cin_per_group": 15, "cout_per_group": 16,
         "pad_in": 17, "zp_out": 18, "lo": 19, "hi": 20, "acc_bits": 21, "shift": 22, "m": 23, "divisor": 24,
         "n_post": 25, "entries": 26, "in_min": 27, "mult": 28, "zp": 32, "pad_b": 36, "pad_r": 37,
         "weights": 40, "bias": 43, "m_block": 46, "shift_block": 49, "pre": 52, "table": 55,
         "cstride": 58, "out_cstride": 62, "inputs": 64, "output": 64 + MAX_INPUTS * VIEW_WORDS, "post": 96}
POST = {"op": 0, "table": 1, "entries": 4, "in_min": 5, "self_index": 6, "mult": 7, "zp": 9, "shift": 11,
        "zp_out": 12, "lo": 13, "hi": 14, "residual": 15, "cstride": 21}
POST_WORDS = 24
KIND_CODES = {k: i + 1 for i, k in enumerate(KINDS)}
POST_CODES = {"lut": 1, "add": 2}
DTYPE_CODES = {"int8": 0, "uint8": 1, "int16": 2, "uint16": 3, "int32": 4, "int64": 5}


def encode(program: Program) -> np.ndarray:
    """The descriptor array (uint32, little-endian words) of a checked program."""
    d = program.data
    for key in ("weights_bytes", "activations_bytes"):
        if d[key] >= ARENA_LIMIT:
            raise ProgramError(f"tiled program: field '{key}' = {d[key]} must be below {ARENA_LIMIT} bytes for "
                               f"the engine's 32-bit addresses")
    words = np.zeros((1 + len(d["layers"]), RECORD_WORDS), np.int64)
    e = d["engine"]
    head = {"magic": MAGIC, "version": VERSION, "record_words": RECORD_WORDS, "layers": len(d["layers"]),
            "tm": e["tm"], "tn": e["tn"], "input_buffer": e["input_buffer"], "weight_buffer": e["weight_buffer"],
            "output_buffer": e["output_buffer"], "weights_bytes": d["weights_bytes"],
            "activations_bytes": d["activations_bytes"]}
    for k, v in head.items():
        words[0, HEADER[k]] = v
    for i, desc in enumerate(d["layers"]):
        _layer(words[1 + i], desc)
    if words.min() < -(1 << 31) or words.max() >= 1 << 32:
        raise ProgramError("tiled program: a descriptor field does not fit 32 bits")
    return (words & 0xFFFFFFFF).astype("<u4").reshape(-1)


def _view(rec: np.ndarray, at: int, v: dict, cstride_at: int) -> None:
    for k in ("offset", "h", "w", "c", "pixel_stride"):
        rec[at + VIEW[k]] = v[k]
    rec[at + VIEW["dtype"]] = DTYPE_CODES[v["dtype"]]
    # a view's channel stride has its own word (0: contiguous, as in records without one)
    rec[cstride_at] = v.get("channel_stride", 1) if v.get("channel_stride", 1) != 1 else 0


def _block(rec: np.ndarray, at: int, b: dict) -> None:
    rec[at + BLOCK["offset"]] = b["offset"]
    rec[at + BLOCK["count"]] = b["count"]
    rec[at + BLOCK["dtype"]] = DTYPE_CODES[b["dtype"]]


def _layer(rec: np.ndarray, desc: dict) -> None:
    kind, L = desc["kind"], LAYER
    if len(desc["inputs"]) > MAX_INPUTS:
        raise ProgramError(f"tiled program: layer '{desc['name']}' has {len(desc['inputs'])} inputs; the engine's "
                           f"records hold {MAX_INPUTS}")
    rec[L["kind"]] = KIND_CODES[kind]
    rec[L["n_inputs"]] = len(desc["inputs"])
    for k in ("tm", "tn", "rows", "cols"):
        rec[L["tile_" + k]] = desc["tile"][k]
    geo, rq = desc.get("geometry", {}), desc.get("requant", {})
    if kind == "gemm":  # a 1×1 convolution over the whole input
        geo = {"kernel": [1, 1], "strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0], "groups": 1,
               "cin_per_group": desc["inputs"][0]["c"], "cout_per_group": desc["output"]["c"], "zp_in": geo["zp_in"]}
    if "kernel" in geo:
        rec[L["kh"]], rec[L["kw"]] = geo["kernel"]
        rec[L["sh"]], rec[L["sw"]] = geo["strides"]
        rec[L["dh"]], rec[L["dw"]] = geo["dilations"]
        rec[L["pad_t"]], rec[L["pad_l"]], rec[L["pad_b"]], rec[L["pad_r"]] = geo["pads"]
    for k in ("groups", "cin_per_group", "cout_per_group"):
        rec[L[k]] = geo.get(k, 1)
    # the value padding and zero-point arithmetic use: zp_in (conv, pools, requant), pad_value (maxpool)
    rec[L["pad_in"]] = geo.get("pad_value", geo.get("zp_in", rq.get("zp_in", 0)))
    for k, at in (("zp_out", "zp_out"), ("lo", "lo"), ("hi", "hi"), ("acc_bits", "acc_bits"), ("shift", "shift"),
                  ("M", "m"), ("divisor", "divisor")):
        if isinstance(rq.get(k), int):  # scalars; per-channel constants are blocks
            rec[L[at]] = rq[k]
    for j, (m, z) in enumerate(zip(rq.get("multipliers", []), rq.get("zero_points", []))):
        rec[L["mult"] + j], rec[L["zp"] + j] = m, z
    if kind == "mul":  # (a - zp[0])·(b - zp[1]) with the scalar M and shift
        rec[L["zp"]], rec[L["zp"] + 1] = rq["zero_points"]
    if "weights" in desc:
        _block(rec, L["weights"], desc["weights"])
    for key, at in (("bias", "bias"), ("M", "m_block"), ("shift", "shift_block"), ("pre", "pre")):
        if isinstance(rq.get(key), dict):
            _block(rec, L[at], rq[key])
    if kind == "lut":
        _block(rec, L["table"], desc["table"])
        rec[L["entries"]], rec[L["in_min"]] = desc["entries"], desc["in_min"]
    for j, v in enumerate(desc["inputs"]):
        _view(rec, L["inputs"] + j * VIEW_WORDS, v, L["cstride"] + j)
    _view(rec, L["output"], desc["output"], L["out_cstride"])
    rec[L["n_post"]] = len(desc["post"])
    for j, p in enumerate(desc["post"]):
        at = L["post"] + j * POST_WORDS
        rec[at + POST["op"]] = POST_CODES[p["op"]]
        if p["op"] == "lut":
            _block(rec, at + POST["table"], p["table"])
            rec[at + POST["entries"]], rec[at + POST["in_min"]] = p["entries"], p["in_min"]
            continue
        for k in ("self_index", "shift", "zp_out", "lo", "hi"):
            rec[at + POST[k]] = p[k]
        for n in range(2):
            rec[at + POST["mult"] + n], rec[at + POST["zp"] + n] = p["multipliers"][n], p["zero_points"][n]
        _view(rec, at + POST["residual"], p["residual"], at + POST["cstride"])
