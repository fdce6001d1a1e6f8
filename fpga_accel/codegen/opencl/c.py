"""Small pieces of OpenCL C text: element types, constant arrays, index expressions, loops.

Everything here is deterministic: the same QModel always gives the same characters.
"""
from __future__ import annotations

import re

import numpy as np

#: OpenCL C type of a tensor's storage dtype (the host buffer's element type)
CTYPE = {"int8": "char", "uint8": "uchar", "int16": "short", "uint16": "ushort"}

#: values per line of a constant array
PER_LINE = 16

#: the contract's requantisation (docs/integer-contract.md §5), in OpenCL C; ``>>`` on a signed
#: ``long`` is arithmetic in clang, as in gcc and Vitis HLS
HELPERS = """\
static inline long fa_requantize(long acc, long M, int shift, long zp_out, long lo, long hi) {
    long r = (acc * M + ((long)1 << (shift - 1))) >> shift;
    long v = zp_out + r;
    return v < lo ? lo : (v > hi ? hi : v);
}

/* numpy's "reflect" index of u into an axis of n elements (no edge repeat) */
static inline int fa_reflect(int u, int n) {
    if (n == 1) return 0;
    int p = 2 * (n - 1);
    u %= p;
    if (u < 0) u += p;
    return u >= n ? p - u : u;
}
"""


def ctype_of(qtype) -> str:
    """OpenCL C element type of a tensor of ``qtype`` (a QType)."""
    return CTYPE[qtype.dtype.name]


def int_ctype(values) -> str:
    """Smallest signed OpenCL C integer type holding every value."""
    a = np.asarray(values)
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    for name, bits in (("char", 8), ("short", 16), ("int", 32)):
        if -(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1)):
            return name
    return "long"


def literal(v: int, ctype: str) -> str:
    """A C literal of ``v``; ``long`` values get the L suffix."""
    return f"{int(v)}L" if ctype == "long" else str(int(v))


def centred(expr: str, zp: int) -> str:
    """``(long)(expr − zp)`` as readable C: no term for a zero point of 0, ``+`` for a negative one."""
    zp = int(zp)
    if zp == 0:
        return f"(long){expr}"
    return f"(long)({expr} {'-' if zp > 0 else '+'} {abs(zp)})"


def const_array(name: str, values, ctype: str | None = None) -> str:
    """``__constant T name[n] = {...};`` with PER_LINE values a line."""
    flat = np.asarray(values).reshape(-1)
    ctype = ctype or int_ctype(flat)
    items = [literal(v, ctype) for v in flat.tolist()]
    lines = [", ".join(items[i:i + PER_LINE]) for i in range(0, len(items), PER_LINE)]
    body = ",\n    ".join(lines)
    return f"__constant {ctype} {name}[{len(items)}] = {{\n    {body}\n}};\n"


def identifier(text: str) -> str:
    """``text`` reduced to a C identifier fragment."""
    s = re.sub(r"[^0-9A-Za-z_]+", "_", text).strip("_")
    return s or "t"


def numel(shape) -> int:
    """Elements of one image of a tensor of ``shape`` (batch axis first)."""
    return int(np.prod(shape[1:], dtype=np.int64))


def strides(shape) -> list[int]:
    """C-order element strides of ``shape``."""
    out, s = [], 1
    for n in reversed(list(shape)):
        out.append(s)
        s *= int(n)
    return out[::-1]


def broadcast_index(shape, out_shape, i: str = "i") -> str:
    """Index into a tensor of ``shape`` broadcasting (numpy rules) onto ``out_shape`` at the flat
    output index ``i``; ``None`` when the shapes do not broadcast that way."""
    out = [int(n) for n in out_shape]
    shp = [1] * (len(out) - len(shape)) + [int(n) for n in shape]
    if len(shp) != len(out) or any(a not in (1, b) for a, b in zip(shp, out)):
        return None
    if shp == out:
        return i
    st = strides(shp)
    terms, inner = [], 1
    for d in reversed(range(len(out))):
        if shp[d] != 1:
            q = i if inner == 1 else f"({i} / {inner})"
            outer = int(np.prod(out[:d], dtype=np.int64))
            term = q if outer == 1 else f"({q} % {out[d]})"
            terms.append(term if st[d] == 1 else f"{term} * {st[d]}")
        inner *= out[d]
    return " + ".join(reversed(terms)) if terms else "0"


def indent(text: str, n: int = 1) -> str:
    pad = "    " * n
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))
