"""Model names made safe for C++ identifiers, file names, C string literals and Tcl words.

Names come from the ONNX file and may hold any text (quotes, newlines, braces, ``*/``); nothing
generated ever contains one unescaped: identifiers keep only ``[A-Za-z0-9_]`` behind an index
prefix that makes them unique, and C strings escape every other byte in octal.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
MAX_IDENT = 40


def ident(name: str, index: int | None = None, prefix: str = "L") -> str:
    """A C++ identifier (and file stem) for ``name``: ``L03_conv1`` for layer 3 named ``conv1``."""
    body = _UNSAFE.sub("_", str(name)).strip("_")[:MAX_IDENT].rstrip("_")
    head = f"{prefix}{index:02d}" if index is not None else ""
    if not body:
        return head or "x"
    if not head:
        return body if not body[0].isdigit() else "_" + body
    return f"{head}_{body}"


def c_string(text: str) -> str:
    """A C string literal holding exactly ``text`` (UTF-8); every byte outside [A-Za-z0-9_.-] as
    an octal escape, so no quote, backslash, newline, ``//`` or ``*/`` of the original survives."""
    out = []
    for b in str(text).encode("utf-8"):
        c = chr(b)
        out.append(c if (c.isascii() and (c.isalnum() or c in "_.-")) else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def comment(text: str, limit: int = 60) -> str:
    """Text for a ``//`` comment: the name reduced to identifier characters (readable, inert)."""
    return _UNSAFE.sub("_", str(text))[:limit] or "_"


def tcl_word(text: str) -> str:
    """A Tcl word with no substitution: only [A-Za-z0-9_.:-] kept."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", str(text)) or "_"
