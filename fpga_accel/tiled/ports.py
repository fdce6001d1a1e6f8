"""The tiled engine's m_axi ports as ``hls/include/fpga_accel/tiled/top.h`` and ``kernel.h`` declare them,
and the memories of the adapters Vitis HLS builds behind them (estimates).

One adapter per bundle (AMD UG1399, "M_AXI Resources"), with a read and / or a write module:

- ``gmem0``: the descriptors (``const uint32_t* desc``: read, bursts of 64, 32-bit words) and, in the
  Vitis kernel form (kernel.h) only, the status word (``uint32_t* status``: one write, the default
  bursts of 16 and 16 in flight). Both forms are priced with the status write (one BRAM18 more on
  the Zynq IP, which returns the status on s_axilite instead).
- ``gmem1``: the weights arena (``const uint8_t*``), read, bursts of 64, widened to ``FA_TILED_AXI_BITS``.
- ``gmem2``: the activation arena (``uint8_t*``), read and written, bursts of 64, widened to ``FA_TILED_AXI_BITS``.
- in a split engine (:func:`split`, FA_TILED_SPLIT = 1, tiled/top.h only) ``gmem3``: the weights arena again
  (``const uint8_t* weights_b``) and ``gmem4``: the activation arena again (``const uint8_t* acts_b``), both
  read only, bursts of 64, widened to ``FA_TILED_AXI_BITS``.

``FA_TILED_AXI_BITS`` (:func:`axi_bits`) is one value per board, written into the bundle's HLS source: on a
Zynq board the width of the PS's HP port every master goes through (``ps.hp_bits``: 128 bits on
UltraScale+, 64 on Zynq-7000), since wider words would only be split again by the port's downsizer
while their adapter FIFOs cost block RAM; elsewhere 512 bits, the widest Vitis HLS widens to (UG1399,
m_axi_max_widen_bitwidth).

The outstanding requests are Vitis HLS's default (16) in every direction, as the headers write none.
:func:`ports` mirrors the headers' pragmas (tests/test_maxi_cost.py reads them back and compares), and
:func:`adapter_usage` prices them as the dataflow design's are (``fold.resources.maxi_cost``).
"""
from __future__ import annotations

import re
from dataclasses import replace

from ..errors import InputError
from ..pe.io import DEFAULT_BURST, DEFAULT_OUTSTANDING, MaxiPort

#: bits of the element each m_axi pointer of the engine's tops points to
POINTER_BITS = {"desc": 32, "status": 32, "weights": 8, "acts": 8, "weights_b": 8, "acts_b": 8}
#: the arenas' width on boards without a PS port (tiled/top.h's default FA_TILED_AXI_BITS)
WIDE_BITS = 512
#: the widths a PS's HP port is configured to (fold/boards: 32, 64 or 128 bits)
HP_WIDTHS = (32, 64, 128)
#: the macro the headers' max_widen_bitwidth names
AXI_BITS_MACRO = "FA_TILED_AXI_BITS"


def axi_bits(board) -> int:
    """FA_TILED_AXI_BITS for ``board`` (anything with a ``ps``: a fold Board, a flow Target): its HP
    port's width on a Zynq board, else :data:`WIDE_BITS`."""
    ps = getattr(board, "ps", None)
    if ps is None:
        return WIDE_BITS
    bits = ps.hp_bits  # from board data a bundle carries: only an HP port's width reaches the HLS source
    if isinstance(bits, bool) or bits not in HP_WIDTHS:
        raise InputError(f"board '{getattr(board, 'name', '?')}': ps.hp_bits must be one of {HP_WIDTHS}, got {bits!r}")
    return int(bits)


def split(board) -> bool:
    """Whether the engine for ``board`` (anything with a ``ps``) is *split*: built with FA_TILED_SPLIT = 1, a
    second activations master (``acts_b``, gmem4) and a second weights master (``weights_b``, gmem3) on
    HP ports of their own (``ps.hp_b``, ``ps.hp_weights_b``), over which a dense convolution's loads
    spread: its odd input rows, the second half of its weight runs (docs/tiled.md §4)."""
    ps = getattr(board, "ps", None)
    return ps is not None and getattr(ps, "hp_b", None) is not None


def ports(bits: int = WIDE_BITS, split: bool = False) -> dict[str, MaxiPort]:
    """The engine's m_axi bundles with the arenas widened to ``bits`` (FA_TILED_AXI_BITS); ``split``: a
    split engine's, with its second weights (gmem3) and activations (gmem4) masters, read only."""
    out = {
        "gmem0": MaxiPort(32, read_burst=64, write_burst=DEFAULT_BURST),
        "gmem1": MaxiPort(8, read_burst=64, widen=bits),
        "gmem2": MaxiPort(8, read_burst=64, write_burst=64, widen=bits),
    }
    if split:
        out["gmem3"] = out["gmem4"] = MaxiPort(8, read_burst=64, widen=bits)
    return out


PORTS = ports()

_PRAGMA = re.compile(r"#pragma\s+HLS\s+INTERFACE\s+mode\s*=\s*m_axi\s+([^\n]*)")
_OPTION = re.compile(r"(\w+)\s*=\s*(\w+)")
#: the pointers each top only reads (the others are written too, or only written: ``status``)
_READ_ONLY, _WRITE_ONLY = ("desc", "weights", "weights_b", "acts_b"), ("status",)
#: the switch of a split engine's parts of the source
SPLIT_MACRO = "FA_TILED_SPLIT"
_DIRECTIVE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")
_SPLIT_TEST = re.compile(rf"!\s*{SPLIT_MACRO}|{SPLIT_MACRO}(\s*[!=]=\s*[01])?")


def _split_value(expr: str, split: bool) -> bool | None:
    """The value of an ``#if`` condition on :data:`SPLIT_MACRO` (``X``, ``!X``, ``X == 1``, ``X != 0``, ...),
    None for a condition that does not name it; a form not read here is refused, not guessed."""
    expr = expr.split("//")[0].strip()
    if SPLIT_MACRO not in expr:
        return None
    if not _SPLIT_TEST.fullmatch(expr):
        raise InputError(f"tiled/top.h tests {SPLIT_MACRO} as '#if {expr}', a form fpga_accel/tiled/ports.py does not "
                         f"read: write '#if {SPLIT_MACRO}' / '#else' / '#endif'")
    value = int(split)
    if "==" in expr or "!=" in expr:
        op, num = re.search(r"([!=]=)\s*([01])", expr).groups()
        value = int((value == int(num)) == (op == "=="))
    return bool(value) != expr.startswith("!")


def compiled(header: str, split: bool) -> str:
    """``header`` with the branches of its ``#if`` on :data:`SPLIT_MACRO` taken as the preprocessor takes them
    at FA_TILED_SPLIT = ``split``; every other line, other conditionals included, as it is. The one reader
    of the switch: the cost of the adapters (:func:`header_ports`) and the build's check of the top function
    (flow/tiled_interface.py) both see the source through it."""
    out, stack = [], []  # per open conditional: None (not on the macro), else [branch taken, a branch taken]
    for line in header.splitlines():
        m = _DIRECTIVE.match(line)
        key = m.group(1) if m else None
        if key in ("if", "ifdef", "ifndef"):
            v = _split_value(m.group(2), split) if key == "if" else None
            stack.append(None if v is None else [v, v])
            if v is not None:
                continue
        elif key in ("elif", "else") and stack and stack[-1] is not None:
            v = True if key == "else" else _split_value(m.group(2), split)
            if v is None:
                raise InputError(f"tiled/top.h: '{line.strip()}' continues an #if on {SPLIT_MACRO} with another "
                                 "macro, which is not read: write #else")
            done = stack[-1][1]
            stack[-1] = [not done and v, done or v]
            continue
        elif key == "endif" and stack and stack.pop() is not None:
            continue
        if all(s[0] for s in stack if s is not None):
            out.append(line)
    return "\n".join(out) + ("\n" if header.endswith("\n") else "")


def header_ports(header: str, bits: int = WIDE_BITS, split: bool = False) -> dict[str, MaxiPort]:
    """The m_axi bundles of an engine top's source, each as one :class:`MaxiPort` (the pointers sharing a
    bundle merged: the reader's read options, the writer's write options), with FA_TILED_AXI_BITS at
    ``bits`` and FA_TILED_SPLIT at ``split`` (:func:`compiled`). A pointer reads unless it only writes
    (``status``), and writes unless it only reads (``desc``, ``weights``, ``weights_b``, ``acts_b``)."""
    out: dict[str, MaxiPort] = {}
    for line in _PRAGMA.findall(compiled(header, split)):
        opts = {k: bits if v == AXI_BITS_MACRO else int(v) if v.isdigit() else v for k, v in _OPTION.findall(line)}
        port, bundle = opts["port"], opts["bundle"]
        p = out.get(bundle, MaxiPort(POINTER_BITS[port]))
        if port not in _WRITE_ONLY:
            p = replace(p, read_burst=opts.get("max_read_burst_length", DEFAULT_BURST),
                        read_outstanding=opts.get("num_read_outstanding", DEFAULT_OUTSTANDING))
        if port not in _READ_ONLY:
            p = replace(p, write_burst=opts.get("max_write_burst_length", DEFAULT_BURST),
                        write_outstanding=opts.get("num_write_outstanding", DEFAULT_OUTSTANDING))
        out[bundle] = replace(p, widen=opts.get("max_widen_bitwidth", p.widen))
    return out


def adapter_usage(bits: int = WIDE_BITS, split: bool = False) -> dict[str, int]:
    """BRAM18 and LUTs of the data FIFOs of the engine's m_axi adapters with the arenas ``bits`` wide, of
    a split engine when ``split`` (``fold.resources.maxi_cost``: the request and response FIFOs and the
    control logic are not counted, UG1399 gives no figure)."""
    from ..fold.resources import Usage, maxi_cost

    total = sum((maxi_cost(p) for p in ports(bits, split).values()), Usage())
    return {"bram18": total.bram18, "uram": total.uram, "lut": total.lut}
