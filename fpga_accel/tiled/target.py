"""Choosing the tiled engine's array and buffers for a board, and the engine a compile uses.

**Tm × Tn.** Every candidate Tm, Tn in :data:`SIZES` whose array and buffers fit the board is
built into a program and costed (:func:`~fpga_accel.tiled.cost.program_cost`); the one with the
fewest estimated cycles per image wins, ties going to fewer DSPs, then fewer BRAM18. Two budgets,
each ``ceiling`` of what the board leaves after its shell (:func:`fpga_accel.fold.design.budget`):

- **DSP**: Tm · Tn ≤ the DSP budget. In synthesis one product is a 17-bit activation times a
  16-bit weight, which one DSP's multiplier takes (27 × 18 on DSP48E2, AMD UG579; 25 × 18 on
  DSP48E1, AMD UG479): one DSP per multiply-accumulate lane.
- **BRAM18**: the buffers, each twice (ping-pong), in banks one per lane the array reads in the same
  cycle — input: max(Tm, Tn) banks of 17-bit words; weights: Tm banks of Tn · 16-bit words;
  accumulators: Tm banks of ``acc_bits``-bit words. A bank of ``depth`` words of ``width`` bits takes
  the fewest RAMB18 over its aspect ratios (16K × 1, 8K × 2, 4K × 4, 2K × 9, 1K × 18, 512 × 36;
  AMD UG573 / UG473, "Block RAM Resources"). The banking is this estimate's assumption: the HLS
  engine does not yet pin its partitioning.

The input and accumulator buffers start at :func:`~fpga_accel.tiled.build.default_buffers` and halve
(down to :data:`MIN_BUFFER` elements) until they fit; the weight buffer holds the model's largest
kernel (KH · KW taps) for one Tm × Tn block. All figures are estimates.

**dataflow | tiled | auto.** ``auto`` folds the model for the dataflow engine and takes it when the
folder finds a design within the ceiling; otherwise (it raises :class:`~fpga_accel.fold.folder.FoldError`)
the tiled engine, recording why. A model with host steps between hardware layers is folded as
dataflow segments instead (fpga_accel/segments/build.py, in compile), with the same rule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError
from .build import DEFAULT_TM, DEFAULT_TN, TiledUnsupportedError, build_program, default_buffers
from .cost import ProgramCost, program_cost
from .program import Program, ProgramError

ENGINES = ("dataflow", "tiled", "auto")
#: the Tm and Tn tried
SIZES = (4, 8, 16, 32, 64)
#: smallest input / output buffer (elements) the search shrinks to
MIN_BUFFER = 1 << 10
ACT_BITS = 17  # activations as synthesis stores them (tiled/top.h)
WEIGHT_BITS = 16
#: (width bits, depth words) of one RAMB18's aspect ratios (AMD UG573 / UG473)
RAMB18_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))


def check_engine(engine) -> str:
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    return engine


def ramb18(depth: int, width: int) -> int:
    """RAMB18 primitives one bank of ``depth`` words of ``width`` bits takes (the best aspect ratio)."""
    if depth <= 0 or width <= 0:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in RAMB18_SHAPES)


def buffer_bram18(tm: int, tn: int, buffers: dict, acc_bits: int) -> int:
    """BRAM18 of the engine's buffers, both halves of each (see the module docstring)."""
    banks_in = max(tm, tn)
    one = (banks_in * ramb18(math.ceil(buffers["input"] / banks_in), ACT_BITS)
           + tm * ramb18(math.ceil(buffers["weight"] / (tm * tn)), tn * WEIGHT_BITS)
           + tm * ramb18(math.ceil(buffers["output"] / tm), acc_bits))
    return 2 * one


@dataclass
class ArrayChoice:
    """The chosen array, its program and cost, and what was tried (every figure an estimate)."""

    program: Program
    cost: ProgramCost
    dsp: int
    bram18: int
    budget: dict
    tried: list

    def to_dict(self) -> dict:
        e = self.program.engine
        return {"estimate": True, "tm": e["tm"], "tn": e["tn"],
                "buffers": {k: e[f"{k}_buffer"] for k in ("input", "weight", "output")},
                "dsp": self.dsp, "bram18": self.bram18, "budget": dict(self.budget),
                "rule": "fewest estimated cycles per image with Tm*Tn <= DSP budget and buffers <= BRAM18 budget; "
                        "ties: fewer DSP, then fewer BRAM18",
                "tried": self.tried}


def _max_taps(qm) -> int:
    taps = 1
    for lay in qm.layers:
        k = lay.config.get("kernel_shape") or lay.config.get("kernel")
        if isinstance(k, (list, tuple)) and k and all(isinstance(v, int) for v in k):
            taps = max(taps, math.prod(k))
    return taps


def choose_array(qm, board, ceiling: float = 0.8, clock_mhz: float | None = None, acc_bits: int | None = None,
                 sizes=SIZES, host_layers=()) -> ArrayChoice:
    """The Tm × Tn array and buffers for ``qm`` on ``board`` (a Board or its name) within ``ceiling``;
    the layers ``host_layers`` names run on the host between engine segments."""
    from ..fold import get_board
    from ..fold.design import budget
    from ..quant.arith import MAX_ACC_BITS

    b = get_board(board) if isinstance(board, str) else board
    acc = int(acc_bits or MAX_ACC_BITS)
    limits = budget(b, float(ceiling))
    taps = _max_taps(qm)
    best, tried = None, []
    for tm in sizes:
        for tn in sizes:
            if tm * tn > limits["dsp"]:
                continue
            bufs = _fitting_buffers(tm, tn, taps, acc, limits["bram18"])
            if bufs is None:
                tried.append({"tm": tm, "tn": tn, "refused": "buffers exceed the BRAM18 budget"})
                continue
            try:
                program = build_program(qm, tm=tm, tn=tn, buffers=bufs, host_layers=host_layers)
            except ProgramError as e:  # a layer's smallest tile does not fit these buffers
                tried.append({"tm": tm, "tn": tn, "refused": str(e)[:200]})
                continue
            cost = program_cost(program, b, clock_mhz)
            bram = buffer_bram18(tm, tn, bufs, acc)
            tried.append({"tm": tm, "tn": tn, "cycles": cost.cycles, "bram18": bram})
            key = (cost.cycles, tm * tn, bram)
            if best is None or key < best[0]:
                best = (key, ArrayChoice(program, cost, tm * tn, bram, limits, tried))
    if best is None:
        raise InputError(f"the tiled engine fits no array of {list(sizes)} x {list(sizes)} on board '{b.name}' "
                         f"within ceiling {ceiling} (DSP budget {limits['dsp']}, BRAM18 budget {limits['bram18']})")
    return best[1]


def _fitting_buffers(tm: int, tn: int, taps: int, acc_bits: int, bram_budget: int) -> dict | None:
    base = default_buffers(tm, tn)
    bufs = {"input": base["input"], "weight": max(1, taps) * tm * tn, "output": base["output"]}
    while buffer_bram18(tm, tn, bufs, acc_bits) > bram_budget:
        if bufs["input"] <= MIN_BUFFER and bufs["output"] <= MIN_BUFFER:
            return None
        bufs = {**bufs, "input": max(MIN_BUFFER, bufs["input"] // 2), "output": max(MIN_BUFFER, bufs["output"] // 2)}
    return bufs


def pick_engine(engine: str, qm, fold) -> tuple[str, str]:
    """(engine used, why) for ``engine`` (dataflow | tiled | auto); ``fold()`` folds the model for the
    dataflow engine and raises FoldError when it does not fit. A model that fits neither engine
    keeps the folder's error."""
    from ..fold.folder import FoldError

    check_engine(engine)
    if engine != "auto":
        return engine, f"--engine {engine} given"
    try:
        fold()
    except FoldError as e:
        lines = str(e).splitlines()
        over = "; ".join(line.strip()[2:] for line in lines if line.startswith("  - "))  # the resources over budget
        first = lines[0].rstrip(":") + (f": {over}" if over else "")
        try:  # a model the tiled engine cannot run keeps the dataflow engine's own error
            build_program(qm, tm=DEFAULT_TM, tn=DEFAULT_TN)
        except TiledUnsupportedError:
            raise e from None
        return "tiled", f"auto: the dataflow design does not fit the board ({first})"
    return "dataflow", "auto: the dataflow design fits the board"
