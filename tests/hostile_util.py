"""Hostile model names for the escaping tests: the strings, and a small CNN carrying one of them in
every name slot (graph, nodes, graph input and output, intermediate tensors, initialisers, doc
strings, producer). ``CANARY`` in a name is replaced by the path of a file that exists only if an
injected command ran."""
from __future__ import annotations

import re

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CANARY = "CANARY"

#: id -> name; each id is one parametrised case
HOSTILE = {
    "newline-exec": f"net\nexec touch {CANARY}\n#",
    "cr-exec": f"net\rexec touch {CANARY}\r#",
    "crlf-exec": f"net\r\ntouch {CANARY}\r\n#",
    "backslash-newline": f"a\\\nexec touch {CANARY}",
    "trailing-backslash": "a\\",
    "star-slash": "a */ int pwned; /* b",
    "spliced-star-slash": "x *\\\n/ static long fa_requantize(long a) { return 0; } /*",
    "trigraph-splice": f"a??/\nexec touch {CANARY}",
    "nul": f"a\x00b\nexec touch {CANARY}",
    "dollar-paren": f"$(touch {CANARY})",
    "backticks": f"`touch {CANARY}`",
    "semicolon": f"a; touch {CANARY}; b",
    "dollar-brace": "${HOME}$PATH",
    "tcl-bracket": f"[exec touch {CANARY}]",
    "tcl-close-bracket": f"] ; exec touch {CANARY} ; [",
    "brace-open": "{ unbalanced",
    "brace-close": f"}} ; exec touch {CANARY} ; {{",
    "double-quote": f'x"); system("touch {CANARY}"); //',
    "single-quote": f"a' ; touch {CANARY} ; '",
    "html-script": "<script>alert(1)</script>",
    "rich-markup": "[bold red]red[/bold red]",
    "ansi-clear": "\x1b[2J\x1b[31mred",
    "osc-title": "\x1b]0;pwned\x07",
    "c1-csi": "\x9b31mred",
    "line-separators": f"a\u2028exec touch {CANARY}\u2029b",
    "next-line": f"a\u0085exec touch {CANARY}",
    "bidi-override": "a\u202eb\u2066c",
    "vt-ff": "a\x0b\x0cb",
    "long-10k": "n" * 10_000,
    "c-keyword": "int",
    "tcl-command": "exec",
    "path-traversal": "../../etc/passwd",
    "space": " ",
    "dot": ".",
    "unicode": "名前 ünïcode",
    "printf-format": "%s%n%x",
    "hash-include": "#include </etc/passwd>",
}

#: the same model with harmless names: the generated files of a hostile model must have its structure
PLAIN = "plain"


def with_canary(name: str, canary) -> str:
    return name.replace(CANARY, str(canary))


def slot_names(name: str) -> dict[str, str]:
    """Every name slot of :func:`hostile_cnn`: the name exactly where ONNX allows repeats, with a
    prefix or suffix where tensor names must differ."""
    exact = name or "_"
    return {"graph": name, "doc": name, "producer": name,
            "conv": name, "relu": name, "flat": name, "gemm": name,  # the importer makes node names unique
            "x": exact, "c": name + "c", "r": "r" + name, "f": name + "/f", "y": "y:" + name,
            "wc": "wc" + name, "wg": name + "wg"}


def mixed_slots() -> dict[str, str]:
    """A different name attacking C, C++ and OpenCL in each slot (the C-simulation build is slow, so
    one model carries them all)."""
    h = HOSTILE
    return {"graph": h["spliced-star-slash"], "doc": h["line-separators"], "producer": h["ansi-clear"],
            "conv": h["trigraph-splice"], "relu": h["backslash-newline"], "flat": h["star-slash"],
            "gemm": h["double-quote"], "x": h["trailing-backslash"], "c": h["newline-exec"] + "c",
            "r": "r" + h["nul"], "f": h["long-10k"] + "/f", "y": "y:" + h["c-keyword"],
            "wc": h["unicode"], "wg": h["hash-include"]}


def hostile_cnn(name: str | dict[str, str]) -> onnx.ModelProto:
    """Conv 3x3 (pad 1) -> Relu -> Flatten -> Gemm with ``name`` in every name slot (or the names
    of a dict of slots)."""
    n = slot_names(name) if isinstance(name, str) else name
    r = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", [n["x"], n["wc"]], [n["c"]], name=n["conv"], kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1], doc_string=n["doc"]),
             helper.make_node("Relu", [n["c"]], [n["r"]], name=n["relu"], doc_string=n["doc"]),
             helper.make_node("Flatten", [n["r"]], [n["f"]], name=n["flat"]),
             helper.make_node("Gemm", [n["f"], n["wg"]], [n["y"]], name=n["gemm"], transB=1)]
    inits = [numpy_helper.from_array(r.standard_normal((4, 2, 3, 3)).astype(np.float32), n["wc"]),
             numpy_helper.from_array(r.standard_normal((3, 4 * 5 * 5)).astype(np.float32), n["wg"])]
    graph = helper.make_graph(nodes, n["graph"], [helper.make_tensor_value_info(n["x"], TensorProto.FLOAT, ["N", 2, 5, 5])],
                              [helper.make_tensor_value_info(n["y"], TensorProto.FLOAT, None)], inits,
                              doc_string=n["doc"])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name=n["producer"],
                          doc_string=n["doc"])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


def calibration() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((16, 2, 5, 5)).astype(np.float32)


# --- C and OpenCL C as the compiler's first translation phases see them --------------------------
TRIGRAPHS = {"=": "#", "/": "\\", "'": "^", "(": "[", ")": "]", "!": "|", "<": "{", ">": "}", "-": "~"}
_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<open_comment>/\*)
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\.?[0-9](?:[eEpP][+-]|[A-Za-z0-9_.])*)
  | (?P<newline>\n)
  | (?P<space>[ \t\r\f\v]+)
  | (?P<punct>->|\+\+|--|<<=?|>>=?|[<>=!&|^+\-*/%]=|&&|\|\||::|\#\#|\.\.\.|[{}()\[\];,.<>=!&|^+\-*/%~?:\#])
  | (?P<other>.)
""", re.DOTALL | re.VERBOSE)


def c_tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) of every token of C/C++/OpenCL source after trigraph replacement and line
    splicing (as g++ -std=c++14 does), comments dropped, line ends kept (they end directives)."""
    text = re.sub(r"\?\?([=/'()!<>\-])", lambda m: TRIGRAPHS[m.group(1)], text)
    text = text.replace("\\\n", "")
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind in ("comment", "space"):
            continue
        out.append((kind, m.group()))
    return out


def same_structure(plain: str, hostile: str, marker: str = PLAIN) -> str | None:
    """None when ``hostile`` is ``plain`` up to identifiers renamed one for one (only those that
    hold ``marker``, the plain model's name) and the text of string literals; else what differs."""
    a, b = c_tokens(plain), c_tokens(hostile)
    if len(a) != len(b):
        return f"{len(a)} tokens in the plain source, {len(b)} in the hostile one"
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for i, ((ka, ta), (kb, tb)) in enumerate(zip(a, b)):
        if ka != kb or ka in ("open_comment", "other"):
            return f"token {i}: {ka} {ta!r} vs {kb} {tb!r}"
        if ka == "string" or ta == tb:
            continue
        if ka != "ident" or marker.lower() not in ta.lower():
            return f"token {i}: {ta!r} vs {tb!r}"
        if forward.setdefault(ta, tb) != tb or backward.setdefault(tb, ta) != ta:
            return f"token {i}: identifier {ta!r} renamed inconsistently ({tb!r})"
    return None
