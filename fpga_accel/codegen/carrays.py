"""C++ text of constant arrays and config structs (deterministic, readable)."""
from __future__ import annotations

import numpy as np

from ..pe.stage import Array

PER_LINE = 12


def formatter(arr: Array):
    """The C++ literal of one value of ``arr`` (chosen once per array: arrays hold millions)."""
    if arr.word_bits:
        if arr.word_bits <= 64:
            return lambda v: f"0x{v:x}ULL"
        ctype = arr.ctype
        return lambda v: f'FA_HEX_WORD({ctype}, "{v:x}")'  # types.h: T("hex", 16), cheap to compile in C simulation
    if arr.ctype.startswith("ap_int<"):
        return lambda v: str(v) if -(1 << 31) <= v < (1 << 31) else f"{v}LL"
    return str


def literal(v, arr: Array) -> str:
    return formatter(arr)(int(v))


def array_text(name: str, arr: Array) -> str:
    """``FA_PARAM(T, name, [d0][d1]) = {...} FA_PARAM_END(name);`` (types.h: ``static const T
    name[d0][d1] = {...};`` for synthesis) with nested braces, PER_LINE values a line."""
    vals = np.asarray(arr.values, dtype=object)
    dims = "".join(f"[{d}]" for d in vals.shape)
    fmt = formatter(arr)

    def body(a, indent: str) -> str:
        if a.ndim == 1:
            items = [fmt(int(x)) for x in a.tolist()]
            lines = [", ".join(items[i:i + PER_LINE]) for i in range(0, len(items), PER_LINE)]
            return "{" + (",\n" + indent + " ").join(lines) + "}"
        inner = [body(sub, indent + " ") for sub in a]
        return "{" + (",\n" + indent + " ").join(inner) + "}"

    if "," in arr.ctype:  # FA_PARAM's macro arguments
        raise ValueError(f"array type {arr.ctype!r} holds a comma")
    return f"FA_PARAM({arr.ctype}, {name}, {dims}) = {body(vals, '    ')} FA_PARAM_END({name});\n"


def struct_text(name: str, config: dict) -> str:
    lines = [f"struct {name} {{"]
    for k, v in config.items():
        if isinstance(v, (bool, np.bool_)):
            lines.append(f"    static const bool {k} = {'true' if v else 'false'};")
        else:
            lines.append(f"    static const int {k} = {int(v)};")
    lines.append("};")
    return "\n".join(lines) + "\n"
