"""Each QLayer as the PE stages the code generator builds from it, for any folding.

The stages come from the op's own ``lower()`` (fpga_accel/ops, into the PEs of fpga_accel/pe),
run with the folding under study; each carries the parameters its PE's model reads. Layers no PE
implements are still priced, as a whole-tensor reorder (:mod:`.reorder`). Width converters between layers are
added by the folder, which knows both sides' lanes.

A :class:`LayerPlan` knows its fold space: ``pe`` must divide ``pe_dim`` (output channels, or the
channels of a lane-parallel layer), ``simd`` must divide ``simd_dim`` (input channels of a
convolution, the reduction length of a dense layer); a convolution's ``simd`` may also be C·KP,
KP kernel positions per word for KP dividing KH·KW (``simds``), and its window then reads whole
pixels (``in_lanes`` = C). An MVAU layer whose products would take DSPs may also fold with
``mul: "lut"`` (its multipliers in LUTs, pe/mvau.py). A grouped convolution folds within one group:
``pe_dim`` is a group's output channels, ``simd_dim`` its input channels (pe/grouped_mvau.py).
A dense convolution may also take ``px`` adjacent output pixels per word (``pxs``: divisors of its
input and output widths): the parallel window at PX and the MMV MVAU (pe/mvau_mmv.py); it then
reads PX·C lanes and writes PX·M (PX whole pixels). With every output channel and whole pixels
(PE = ``pe_dim``, SIMD = C·KP) always; with neuron folds (PE < M, the PX pixels replayed) or SIMD <
C (slices of whole pixels) where that gives a cycle count one pixel per word cannot (``steps``): a
layer whose PE x SIMD steps are powers of two gets the steps between them, not a costlier way to
the same count (its wide words need wide converters and FIFOs). A depthwise convolution ("pe" with ``taps`` > 1) folds its channels (``pe``), and with every
channel in parallel also its kernel positions: ``simd`` = C·KP, KP dividing KH·KW (pe/depthwise.py), and
its pixels: ``px`` of ``pxs`` with PE = C and SIMD = C·KP (KP = 1 included), the parallel window at PX
feeding PX pixels whose pairs share each weight's DSP multiply; it then reads and writes PX·C lanes.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import FpgaAccelError
from ..ops import lookup
from ..pe import PES, RENAME, LowerContext, LoweringError, Stage
from ..pe import parallel_window as pw
from ..pe.mvau import MUL_CHOICES
from .reorder import Reorder


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass
class LayerPlan:
    """How one QLayer folds: ``kind`` is "mvau" (pe x simd), "pe" (pe only) or "none"."""

    name: str
    op: str
    kind: str
    pe_dim: int = 1
    simd_dim: int = 1
    build: Callable[..., list[Stage]] = field(default=lambda pe, simd, mul="dsp": [], repr=False)
    note: str = ""
    muls: tuple[str, ...] = ("dsp",)  # the multiplier choices (fold key "mul") of an MVAU layer
    #: kernel positions (KH·KW) of a convolution's window: SIMD may then be simd_dim·KP, KP | taps
    taps: int = 1
    #: output pixels per word (> 1) a dense convolution may take (fold key "px")
    pxs: tuple[int, ...] = ()
    #: whether :meth:`folds` offers PX with neuron or synapse folds (the steps between PX = 1's)
    mmv_steps: bool = True

    def simds(self) -> list[int]:
        """The SIMD values of an "mvau" layer: divisors of ``simd_dim``, then whole pixels times KP."""
        return pw.positions_options(self.simd_dim, self.taps)

    def positions(self) -> list[int]:
        """A depthwise layer's SIMD values beyond PE: C·KP for KP > 1 dividing KH·KW (PE = C)."""
        return [s for s in pw.positions_options(self.pe_dim, self.taps) if s > self.pe_dim] if self.kind == "pe" else []

    def folds(self) -> list[dict]:
        if self.kind == "mvau":
            whole = lambda p, s: p == self.pe_dim and s % self.simd_dim == 0
            at_one = self.steps_per_pixel() if self.mmv_steps and self.pxs else set()
            pixels = [{"pe": p, "simd": s, "px": x, **({"mul": m} if m != "dsp" else {})} for x in self.pxs
                      for p in divisors(self.pe_dim) for s in self.simds()
                      if whole(p, s) or self.mmv_steps and self.steps(p, s, x) not in at_one
                      for m in self.muls]
            return [{"pe": p, "simd": s, **({"mul": m} if m != "dsp" else {})} for p in divisors(self.pe_dim)
                    for s in self.simds() for m in self.muls] + pixels
        if self.kind == "pe":
            pixels = [{"pe": self.pe_dim, "simd": s, "px": x} for x in self.pxs
                      for s in [self.pe_dim, *self.positions()]]
            return [{"pe": p} for p in divisors(self.pe_dim)] + \
                [{"pe": self.pe_dim, "simd": s} for s in self.positions()] + pixels
        return [{}]

    def steps(self, pe: int, simd: int, px: int = 1) -> Fraction:
        """An MVAU layer's cycles per output vector at PE x SIMD and PX: (M/PE)·(C·taps/SIMD)/PX."""
        return Fraction(self.pe_dim // pe * (self.simd_dim * self.taps // simd), px)

    def steps_per_pixel(self) -> set[Fraction]:
        """The cycles per output vector one pixel per word can take (:meth:`steps` at PX = 1)."""
        return {self.steps(p, s) for p in divisors(self.pe_dim) for s in self.simds()}

    def products(self, fold: dict) -> int:
        """Products per cycle of ``fold``: PE·SIMD·PX, or PE·KP·PX where SIMD = C·KP (a depthwise layer)."""
        pe, simd, px = int(fold.get("pe", 1)), int(fold.get("simd", 1)), int(fold.get("px", 1))
        return pe * simd * px if self.kind == "mvau" else max(pe, simd) * px

    def stages(self, fold: dict[str, int]) -> list[Stage]:
        if fold.get("px", 1) != 1:
            return self.build(int(fold.get("pe", 1)), int(fold.get("simd", 1)), fold.get("mul", "dsp"),
                              int(fold["px"]))
        return self.build(int(fold.get("pe", 1)), int(fold.get("simd", 1)), fold.get("mul", "dsp"))

    def in_lanes(self, fold: dict[str, int]) -> int | None:
        """Elements per word this layer reads (None: it passes its producer's words through)."""
        if self.kind == "mvau" and int(fold.get("px", 1)) > 1:  # PX whole pixels
            return self.simd_dim * int(fold["px"])
        if self.kind == "mvau":  # SIMD = C·KP reads one pixel (C lanes) per word
            return math.gcd(int(fold.get("simd", 1)), self.simd_dim)
        return int(fold.get("pe", 1)) * int(fold.get("px", 1)) if self.kind == "pe" else None

    def out_lanes(self, fold: dict[str, int]) -> int | None:
        """Elements per word this layer writes: PE, or PX whole pixels at PX > 1 (the MMV MVAU holds
        its neuron folds' outputs until the last)."""
        if self.kind == "mvau" and int(fold.get("px", 1)) > 1:
            return self.pe_dim * int(fold["px"])
        return int(fold.get("pe", 1)) * int(fold.get("px", 1)) if self.kind in ("mvau", "pe") else None

    def check(self, fold: dict[str, int]) -> str | None:
        """Why ``fold`` is not a valid folding of this layer (None when it is)."""
        allowed = {"mvau": {"pe", "simd", "mul"} | ({"px"} if self.pxs else set()),
                   "pe": {"pe"} | ({"simd"} if self.positions() or self.pxs else set())
                   | ({"px"} if self.pxs else set()),
                   "none": set()}[self.kind]
        extra = set(fold) - allowed
        if extra:
            return f"keys {sorted(extra)} do not apply to this layer (it takes {sorted(allowed) or 'no folding'})"
        if fold.get("px", 1) != 1:  # whole pixels in (and, depthwise, every channel)
            px, simd = fold["px"], fold.get("simd", 1)
            if not isinstance(px, int) or isinstance(px, bool) or px not in self.pxs:
                return f"px={px!r} must be 1 or divide the input and output widths: one of {list(self.pxs)}"
            if self.kind == "pe" and fold.get("pe", 1) != self.pe_dim:
                return f"px={px} needs pe={self.pe_dim} (every channel), got pe={fold.get('pe', 1)!r}"
            if self.kind == "pe" and (not isinstance(simd, int) or simd % self.simd_dim):
                return f"px={px} needs simd a multiple of {self.simd_dim} (whole pixels), got simd={simd!r}"
        if self.kind == "pe" and "simd" in fold:  # a depthwise layer: SIMD 1 or PE, or C·KP at PE = C
            pe, simd = fold.get("pe", 1), fold["simd"]
            ok = [1, *self.positions()]
            if not isinstance(simd, int) or isinstance(simd, bool) or \
                    simd not in (1, pe) and not (pe == self.pe_dim and simd in self.positions()):
                return (f"simd={simd!r} must be 1, equal pe, or with pe={self.pe_dim} (every channel) be "
                        f"{self.pe_dim} times a divisor of the {self.taps} kernel positions: one of {ok}")
            fold = {"pe": pe}
        for key, ok, what in (("pe", divisors(self.pe_dim), f"a positive divisor of {self.pe_dim} (output channels)"),
                              ("simd", self.simds(), f"a positive divisor of {self.simd_dim} (input columns)" +
                               (f" or {self.simd_dim} times a divisor of the {self.taps} kernel positions"
                                if self.taps > 1 else ""))):
            if key in fold:
                v = fold[key]
                if not isinstance(v, int) or isinstance(v, bool) or v not in ok:
                    return f"{key}={v!r} must be {what}: one of {ok}"
        if fold.get("mul", "dsp") not in self.muls:
            return (f"mul={fold['mul']!r} must be one of {list(self.muls)} (DSP or LUT multipliers; products of "
                    f"at most 4 x 4 bits are LUTs already)")
        return None


def elems(shape) -> int:
    return int(math.prod(int(d) for d in shape[1:]))


_PASSTHROUGH = "moves no data: the stream passes through"
_REORDER = "no library PE yet: modelled as one element per cycle"


def plan_layer(layer, qm, dsp_port_bits: int = 0) -> LayerPlan:
    """The :class:`LayerPlan` of ``layer`` (a QLayer of ``qm``), from its op's ``lower()`` for a
    board whose DSPs have a ``dsp_port_bits`` wide port (0: none, nothing packs)."""
    try:
        stages = _lower(layer, qm, 1, 1)
    except FpgaAccelError:  # no processing element: price it anyway
        return _reorder(layer, qm, layer.op_type != "Pad")
    kinds = [s.kind for s in stages]
    if set(kinds) <= {RENAME}:
        return LayerPlan(layer.name, layer.op_type, "none", note=_PASSTHROUGH)

    def build(pe, simd, mul="dsp", px=1):
        return _priced(_lower(layer, qm, pe, simd, mul, dsp_port_bits, px))
    if not all(PES[k].lanes_fold for k in kinds):
        return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=1, build=build)
    if "grouped_mvau" in kinds:  # PE and SIMD fold within one group
        p = stages[-1].params
        return LayerPlan(layer.name, layer.op_type, "mvau", pe_dim=p["MH"] // p["G"], simd_dim=p["C"] // p["G"],
                         build=build, muls=MUL_CHOICES if not p["MUL_FABRIC"] else ("dsp",))
    if "depthwise" in kinds:  # channels, then kernel positions with every channel in parallel
        p = stages[-1].params
        return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=p["C"], taps=p["K"], build=build,
                         pxs=_pixels(layer, qm))
    if "mvau" in kinds:
        p = stages[0].params  # the window's channels when there is one, else the matrix width
        window = kinds[0] == "sliding_window"
        return LayerPlan(layer.name, layer.op_type, "mvau", pe_dim=stages[-1].params["MH"],
                         simd_dim=p["C"] if window else p["MW"], build=build,
                         taps=p["KH"] * p["KW"] if window else 1, pxs=_pixels(layer, qm),
                         muls=MUL_CHOICES if not stages[-1].params["MUL_FABRIC"] else ("dsp",))
    pe_dim = math.gcd(*(_shape(qm, t)[-1] for t in layer.inputs)) if layer.op_type == "Concat" \
        else _shape(qm, layer.outputs[0])[-1]
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=pe_dim, build=build)


def _pixels(layer, qm) -> tuple[int, ...]:
    """The PX values > 1 of a dense or depthwise convolution (input and output widths of its NHWC tensors)."""
    if layer.op_type != "Conv":
        return ()
    xs, ys = _shape(qm, layer.inputs[0]), _shape(qm, layer.outputs[0])
    return tuple(pw.pixel_options(xs[-2], ys[-2]))


def _lower(layer, qm, pe: int, simd: int, mul: str = "dsp", dsp_port_bits: int = 0, px: int = 1) -> list[Stage]:
    op = lookup(layer.op_type, layer.domain)
    if op is None:
        raise LoweringError(f"op {layer.op_type} is not known to this fpga-accel")
    return op.lower(layer, LowerContext(qm, {"pe": pe, "simd": simd, "mul": mul, "px": px}, dsp_port_bits))


def _priced(stages: list[Stage]) -> list[Stage]:
    """What the models read of each stage (its ports too: the FIFO estimate's widths): the folder keeps
    every folding it tries, not its arrays."""
    return [Stage(s.layer, s.kind, s.params, list(s.inputs), list(s.outputs)) for s in stages]


def _bits(qm, tensor: str) -> int:
    return qm.tensors[tensor].qparams.qtype.bits


def _shape(qm, tensor: str) -> tuple[int, ...]:
    return tuple(int(d) for d in qm.tensors[tensor].shape)


def _reorder(layer, qm, buffer: bool) -> LayerPlan:
    n = max(elems(_shape(qm, layer.inputs[0])), elems(_shape(qm, layer.outputs[0])))
    p = {"N": n, "LANES": 1, "BITS": _bits(qm, layer.outputs[0]), "BUFFER": buffer}
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=1,
                     build=lambda pe, simd, mul="dsp": [Stage(layer.name, Reorder.kind, p)],
                     note=_REORDER + (" through a whole-tensor buffer" if buffer else ""))
