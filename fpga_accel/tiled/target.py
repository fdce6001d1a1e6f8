"""Choosing the tiled engine's array and buffers for a board, and the engine a compile uses.

**Tm × Tn and the output path's lanes.** Each Tm in :data:`TM_SIZES` and Tn in :data:`TN_SIZES` whose
array and output paths fit the DSP budget at some output-path lane count (:func:`lane_choices`: powers
of two up to the arenas' bus bytes W) is a candidate, with the most lanes its array leaves DSPs for; of those whose memories fit, the ones with at least
:data:`MIN_DSP_SHARE` of the widest one's array lanes are built into programs with every layer's
largest tile and costed (the screen, :func:`~fpga_accel.tiled.cost.program_cost`), the
:data:`SCREEN_KEEP` fastest of them built again with each layer's tile searched (§4 of docs/tiled.md)
and costed; the fewest estimated cycles per image win, ties going to fewer DSPs, then fewer BRAM18. Budgets are ``ceiling`` of what the board leaves after its
shell (:func:`fpga_accel.fold.design.budget`). Every figure is an estimate, counted from what
``hls/include/fpga_accel/tiled/top.h`` declares:

- **DSP**: ⌈Tm / PACK⌉ · Tn multipliers plus the output paths' (:func:`output_path_dsp`: out_lanes
  lanes of :data:`LANE_DSP`, every output path the HLS instantiates, :data:`OUTPUT_PATHS`). In synthesis a product is a
  17-bit activation times a 16-bit weight, one DSP (27 × 18 on DSP48E2, AMD UG579; 25 × 18 on
  DSP48E1, AMD UG479). PACK = 2 when every conv and gemm layer multiplies int8 weights by 8-bit
  activations and the packed operand (2·8 + 8 + 1 = 25 bits) fits the board's wide port: lanes m and
  m+1 then share one multiply (``tiled/pack.h``, as ``mvau.h`` packs the dataflow design).
- **Block RAM / URAM**, both halves of each double buffer, banked as the ``ARRAY_PARTITION`` pragmas
  say: the input buffer cyclic over max(Tm, Tn) banks of 17-bit words, the accumulators over Tm banks
  of ``acc_bits`` bits (the program's widest, the engine's ACC_BITS), in block RAM — a bank of
  ``depth`` × ``width`` takes the fewest RAMB18 over the aspect ratios 16K × 1 … 512 × 36 (AMD UG573
  / UG473) — or, with ``FA_TILED_URAM`` (UltraScale+), in URAM288 blocks of 4K × 72 (AMD UG573),
  used when block RAM alone does not hold them. Besides: the per-position M / shift of average pools
  (OUTPUT_BUFFER × 32 and × 8 bits), the lookup tables ((MAX_POST + 1) × LUT_ENTRIES × 32 bits, a copy an output-path lane: every lane reads each once or twice a cycle; tables of at most 64 entries in LUTRAM instead, 64 LUTs a copy) and
  the tap offsets (MAX_KERNEL² × 32 bits), each one block-RAM array; LUT_ENTRIES is the program's
  largest table (:func:`table_entries`).
- **LUT**: the weights, cyclic over Tm · Tn banks (every lane reads its own weight each cycle) bound
  to LUTRAM, 16-bit words, 64 deep per LUT6 (RAM64X1S, AMD UG574 / UG474), and the array's adders,
  one LUT per bit of a Tm · Tn · (16 + ⌈log2 Tn⌉)-bit sum (the carry chain; an estimate, not a
  synthesis figure); checked against the LUT budget.

The input and accumulator buffers start at :data:`START_INPUT` and :data:`START_OUTPUT` elements and
halve (down to :data:`MIN_BUFFER`) until they fit; the weight buffer holds the model's largest kernel
(KH · KW taps) for one Tm × Tn block.

**dataflow | tiled | auto.** ``auto`` folds the model for the dataflow engine and takes it when the
folder finds a design within the ceiling; otherwise (it raises :class:`~fpga_accel.fold.folder.FoldError`)
the tiled engine, recording why. A model with host steps between hardware layers is folded as
dataflow segments instead (fpga_accel/segments/build.py, in compile), with the same rule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError
from .build import DEFAULT_TM, DEFAULT_TN, TiledUnsupportedError, build_program
from .cost import ProgramCost, ddr_rates, program_cost
from .csim import ALL_UNITS, U_ELTWISE, U_MUL, units_of
from .ports import WIDE_BITS, adapter_usage, axi_bits
from .ports import split as split_engine
from .program import MAX_POST, Program, ProgramError

ENGINES = ("dataflow", "tiled", "auto")
#: the Tm and Tn tried
TM_SIZES = (4, 8, 16, 32, 48, 64, 96, 128)
TN_SIZES = (4, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64)
#: candidates with fewer multipliers than this share of the widest candidate's are not costed
MIN_DSP_SHARE = 0.75
#: candidates whose programs get per-layer tile searches: the fastest of the screen (each candidate's
#: program with every layer's largest tile), the rest left with their screen's cycles
SCREEN_KEEP = 3
#: DSPs of one lane of the convolutions' and pools' output path (drain.h drain): its
#: requantisation acc · M (requant.h), acc up to 46 bits signed (MAX_ACC_BITS), M < 2^17 (18 bits
#: signed), the acc split into a 26-bit unsigned low part and a 20-bit signed high part on DSP48E2's 27 × 18
#: multiplier (AMD UG579; 24 + 22 bits on DSP48E1's 25 × 18, UG479), the two partial products added in
#: fabric or the post-adder: two DSPs (REQUANT_DSP); and its residual add (the one post-stage add a layer
#: may have, tiled/checks.h): (a − zp₀)·m₀ + (b − zp₁)·m₁ with 18-bit signed differences and multipliers
#: (|m| < 2^17), one DSP each: two more (POST_ADD_DSP). Four a lane. An estimate from the arithmetic, not
#: a synthesis figure
REQUANT_DSP, POST_ADD_DSP = 2, 2
REQUANT_LANE_DSP = REQUANT_DSP + POST_ADD_DSP
#: Every output path the engine's HLS instantiates, with its DSPs a lane (each has out_lanes lanes; a
#: lane: its unit's products, requantisation, post stages, range check, write), and the units
#: (tiled/checks.h Unit) whose presence makes it (0: every engine). Instances, not functions: a call
#: site is an instance unless an ALLOCATION pragma shares it (AMD UG1399, "pragma HLS allocation").
#: The convolutions, gemm, window and global pools share one (drain.h drain: both accumulator halves,
#: every call site one instance by run_layer's ALLOCATION): its requantisation and its residual add.
#: The elementwise and mul units' lanes run inside an output path of their own (pixels.h
#: finish_pixel): eltwise.h's add takes up to MAX_INPUTS = 4 products of 18-bit differences and
#: multipliers (one DSP each, its requantisation M = 1 a shift), its requant kind a 17 × 32-bit product
#: (two DSPs) and a requantisation (two), the kinds not sharing multipliers; mul.h one 18 × 18 product
#: and a requantisation. Each adds its post stages' residual add (two). An engine is built with the
#: units its program uses (csim.units_of), so the others' output paths are not there. Estimates from
#: the arithmetic.
OUTPUT_PATHS = (
    ("drain.h drain: convolutions, gemm, window and global pools", 0, REQUANT_LANE_DSP),
    ("eltwise.h EltwiseUnit", U_ELTWISE, 4 + 2 + REQUANT_DSP + POST_ADD_DSP),
    ("mul.h MulUnit", U_MUL, 1 + REQUANT_DSP + POST_ADD_DSP),
)


def lane_dsp(units: int = ALL_UNITS) -> int:
    """DSPs of one lane across every output path an engine of ``units`` has."""
    return sum(dsp for _, need, dsp in OUTPUT_PATHS if not need or need & units)


#: DSPs of one lane across every output path of an engine with all its units
LANE_DSP = lane_dsp()
#: first and smallest input / accumulator buffer sizes (elements, one half) the search tries
START_INPUT, START_OUTPUT, MIN_BUFFER = 1 << 17, 1 << 15, 1 << 10
ACC_FLOOR = 36  # narrowest accumulator the search builds (choose_array)
ACT_BITS = 17  # activations as synthesis stores them (tiled/config.h)
WEIGHT_BITS = 16
LUT_ENTRIES = 4096  # tiled/top.h FA_TILED_LUT_ENTRIES
MAX_TAPS = 64 * 64  # tiled/descriptor.h MAX_KERNEL²
#: (width bits, depth words) of one RAMB18's aspect ratios (AMD UG573 / UG473)
RAMB18_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))
URAM_WIDTH, URAM_DEPTH = 72, 4096  # URAM288 (AMD UG573)
LUTRAM_DEPTH = 64  # RAM64X1S: one LUT6 holds 64 x 1 bit (AMD UG574 / UG474)
#: a packed DSP multiply takes two products of int8 weights and 8-bit activations (tiled/pack.h)
PACK_W_BITS, PACK_A_BITS = 8, 8


def check_engine(engine) -> str:
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    return engine


def ramb18(depth: int, width: int) -> int:
    """RAMB18 primitives one bank of ``depth`` words of ``width`` bits takes (the best aspect ratio)."""
    if depth <= 0 or width <= 0:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in RAMB18_SHAPES)


def urams(depth: int, width: int) -> int:
    """URAM288 blocks one bank of ``depth`` words of ``width`` bits takes."""
    return math.ceil(width / URAM_WIDTH) * math.ceil(depth / URAM_DEPTH) if depth > 0 and width > 0 else 0


def memories(tm: int, tn: int, buffers: dict, acc_bits: int, uram: bool = False,
             lut_entries: int = LUT_ENTRIES, bus_bits: int = WIDE_BITS, split: bool = False,
             lanes: int = 0) -> dict[str, int]:
    """BRAM18, URAM and LUT of the engine's memories as top.h declares them (module docstring), the
    m_axi adapters' data FIFOs included with the arenas ``bus_bits`` wide (tiled/ports.py axi_bits), a
    split engine's second weights and activations masters too when ``split`` (ports.split); ``lanes``:
    the output path's (out_lanes; 0: a bus word's bytes, as a program naming none)."""
    in_banks = max(tm, tn)
    in_depth, acc_depth = math.ceil(buffers["input"] / in_banks), math.ceil(buffers["output"] / tm)
    big = (in_banks, in_depth, ACT_BITS), (tm, acc_depth, acc_bits)
    ports = adapter_usage(bus_bits, split)
    # the lookup tables: every output-path lane reads each in the same cycle, from a read before or one
    # after its residual add (output_path.h post_path): a dual-port copy a lane, in block RAM, or in
    # LUTRAM when a table is at most LUTRAM_DEPTH entries (RAM64X1D: 2 LUTs a bit of a dual-port copy)
    copies = (MAX_POST + 1) * (lanes or bus_bits // 8)
    small = lut_entries <= LUTRAM_DEPTH
    fixed = (ramb18(buffers["output"], 32) + ramb18(buffers["output"], 8)
             + (0 if small else copies * ramb18(lut_entries, 32)) + ramb18(MAX_TAPS, 32) + ports["bram18"])
    w_depth = math.ceil(buffers["weight"] / (tm * tn))
    luts = 2 * tm * tn * WEIGHT_BITS * math.ceil(w_depth / LUTRAM_DEPTH) + tm * tn * (16 + math.ceil(math.log2(tn + 1)))
    luts += ports["lut"] + (copies * 2 * 32 if small else 0)
    if uram:
        return {"bram18": fixed, "uram": 2 * sum(n * urams(d, w) for n, d, w in big), "lut": luts}
    return {"bram18": fixed + 2 * sum(n * ramb18(d, w) for n, d, w in big), "uram": 0, "lut": luts}


def buffer_bram18(tm: int, tn: int, buffers: dict, acc_bits: int, uram: bool = False,
                  lut_entries: int = LUT_ENTRIES, bus_bits: int = WIDE_BITS, split: bool = False,
                  lanes: int = 0) -> int:
    """BRAM18 of the engine's memories, both halves of each double buffer (see :func:`memories`)."""
    return memories(tm, tn, buffers, acc_bits, uram, lut_entries, bus_bits, split, lanes)["bram18"]


def table_entries(program: Program) -> int:
    """The engine's LUT_ENTRIES for ``program``: its largest lookup table, a power of two, at least 4."""
    sizes = [p["entries"] for d in program.layers for p in d["post"] if p["op"] == "lut"]
    sizes += [d["entries"] for d in program.layers if d["kind"] == "lut"]
    return max(4, 1 << (max(sizes, default=1) - 1).bit_length())


def output_path_dsp(lanes: int, units: int = ALL_UNITS) -> int:
    """DSPs of the output paths of an engine of ``units`` with ``lanes`` lanes each (out_lanes); an estimate."""
    return lanes * lane_dsp(units)


def lane_choices(bus_bits: int = WIDE_BITS) -> list[int]:
    """The output path's lane counts the search tries: powers of two up to the bus word's bytes, widest first."""
    return [1 << k for k in range((bus_bits // 8).bit_length() - 1, -1, -1)]


def array_dsp(tm: int, tn: int, pack: int, lanes: int, units: int = ALL_UNITS) -> int:
    """DSPs of a Tm × Tn array (lanes m and m+1 sharing one when ``pack`` is 2) and the output paths of
    ``lanes`` lanes of an engine of ``units``."""
    return -(-tm // pack) * tn + output_path_dsp(lanes, units)


def packs(program: Program, board) -> bool:
    """Whether every conv and gemm layer of ``program`` takes the packed multiply (tiled/pack.h) on
    ``board``'s DSPs: int8 weights, 8-bit activations, a packed operand within the wide port."""
    from ..fold.boards import port_bits
    from ..pe.cost import dsp_packs

    if not dsp_packs(PACK_W_BITS, PACK_A_BITS, port_bits(board.dsp_type), False):
        return False
    return all(d["weights"]["dtype"] == "int8" and d["inputs"][0]["dtype"] in ("int8", "uint8")
               for d in program.layers if d["kind"] in ("conv", "gemm"))


@dataclass
class ArrayChoice:
    """The chosen array, its program and cost, and what was tried (every figure an estimate)."""

    program: Program
    cost: ProgramCost
    dsp: int
    bram18: int
    budget: dict
    tried: list
    pack: int = 1
    uram: int = 0
    lut: int = 0
    acc_bits: int = 0
    lut_entries: int = LUT_ENTRIES
    split: bool = False  # the engine's form (ports.split): its second weights and activations masters

    def to_dict(self) -> dict:
        e = self.program.engine
        return {"estimate": True, "tm": e["tm"], "tn": e["tn"], "pack": self.pack, "acc_bits": self.acc_bits,
                "lut_entries": self.lut_entries, "split": self.split, "out_lanes": e.get("out_lanes", 0),
                "units": units_of(self.program),
                "buffers": {k: e[f"{k}_buffer"] for k in ("input", "weight", "output")},
                "memory": "uram" if self.uram else "bram",
                "dsp": self.dsp, "bram18": self.bram18, "uram": self.uram, "lut": self.lut, "budget": dict(self.budget),
                "rule": "fewest estimated cycles per image with DSP, BRAM18, URAM and LUT within their budgets; "
                        "ties: fewer DSP, then fewer BRAM18",
                "tried": self.tried}


def _max_taps(qm) -> int:
    taps = 1
    for lay in qm.layers:
        k = lay.config.get("kernel_shape") or lay.config.get("kernel")
        if isinstance(k, (list, tuple)) and k and all(isinstance(v, int) for v in k):
            taps = max(taps, math.prod(k))
    return taps


def candidates(dsp_budget: int, pack: int, tm_sizes=TM_SIZES, tn_sizes=TN_SIZES, fits=lambda tm, tn, lanes: True,
               bus_bits: int = WIDE_BITS, units: int = ALL_UNITS) -> list[tuple[int, int, int]]:
    """(Tm, Tn, lanes): every pair of the lists within the DSP budget and ``fits`` (the memory budgets)
    at some lane count of :func:`lane_choices`, with the most output-path lanes it leaves DSPs for
    (fewer lanes only slow it). Every Tn, not only the widest: a narrower one may divide the model's
    channel counts better (ResNet-50 on kv260: 32 × 40 beats 32 × 48)."""
    out = {}
    for lanes in lane_choices(bus_bits):  # widest first: a pair's first lane count that fits is its most
        for tm in tm_sizes:
            for tn in tn_sizes:
                if (tm, tn) not in out and array_dsp(tm, tn, pack, lanes, units) <= dsp_budget and fits(tm, tn, lanes):
                    out[tm, tn] = lanes
    return sorted((tm, tn, lanes) for (tm, tn), lanes in out.items())


def widest(pairs: list[tuple[tuple, tuple]]) -> list[tuple[tuple, tuple]]:
    """The ((Tm, Tn, ...), ...) entries with at least MIN_DSP_SHARE of the widest one's array lanes: the
    ones costed."""
    most = max((c[0] * c[1] for c, _ in pairs), default=0)
    return [p for p in pairs if p[0][0] * p[0][1] >= MIN_DSP_SHARE * most]


def choose_array(qm, board, ceiling: float = 0.8, clock_mhz: float | None = None, acc_bits: int | None = None,
                 tm_sizes=TM_SIZES, tn_sizes=TN_SIZES, host_layers=()) -> ArrayChoice:
    """The Tm × Tn array and buffers for ``qm`` on ``board`` (a Board or its name) within ``ceiling``;
    the layers ``host_layers`` names run on the host between engine segments."""
    from ..fold import get_board
    from ..fold.design import budget
    from ..quant.arith import MAX_ACC_BITS

    b = get_board(board) if isinstance(board, str) else board
    limits = budget(b, float(ceiling))
    taps = _max_taps(qm)
    probe = build_program(qm, tm=DEFAULT_TM, tn=DEFAULT_TN, host_layers=host_layers)  # types, accumulators: any array
    pack = 2 if packs(probe, b) else 1
    # the accumulators: the widest conv's, at least 36 bits (as wide as a 512 x 36 block RAM bank holds
    # anyway, and room for the pools' and adds' sums, which the engine checks against ACC_BITS)
    conv_acc = max([d["requant"]["acc_bits"] for d in probe.layers if d["kind"] in ("conv", "gemm")] or [2])
    acc = int(acc_bits or min(MAX_ACC_BITS, max(ACC_FLOOR, conv_acc)))
    entries = table_entries(probe)
    per_cycle = ddr_rates(b, clock_mhz)
    bus_bits, two = axi_bits(b), split_engine(b)
    best, tried = None, []
    buffers = {}  # (Tm, Tn) -> (buffers, in URAM?) or None

    def fits(tm, tn, lanes):
        buffers[tm, tn, lanes] = _fitting_buffers(tm, tn, taps, acc, entries, limits, uram_ok=b.uram > 0,
                                                  bus_bits=bus_bits, split=two, lanes=lanes)
        return buffers[tm, tn, lanes] is not None

    units = units_of(probe)  # the engine is built with the units its program uses
    fitting = [(c, buffers[c]) for c in candidates(limits["dsp"], pack, tm_sizes, tn_sizes, fits, bus_bits, units)]
    screened = []  # each candidate's program with every layer's largest tile, costed: the screen
    for (tm, tn, lanes), (bufs, uram) in widest(fitting):
        try:
            quick = build_program(qm, tm=tm, tn=tn, buffers=bufs, host_layers=host_layers, out_lanes=lanes)
        except ProgramError as e:  # a layer's smallest tile does not fit these buffers
            tried.append({"tm": tm, "tn": tn, "out_lanes": lanes, "refused": str(e)[:200]})
            continue
        screened.append((program_cost(quick, b, clock_mhz).cycles, tm, tn, lanes, bufs, uram))
    screened.sort(key=lambda c: c[:4])
    for screen, tm, tn, lanes, bufs, uram in screened[SCREEN_KEEP:]:
        tried.append({"tm": tm, "tn": tn, "out_lanes": lanes, "screen_cycles": screen,
                      "dsp": array_dsp(tm, tn, pack, lanes, units),
                      **memories(tm, tn, bufs, acc, uram, entries, bus_bits, two, lanes)})
    for screen, tm, tn, lanes, bufs, uram in screened[:SCREEN_KEEP]:
        program = build_program(qm, tm=tm, tn=tn, buffers=bufs, ddr_bytes_per_cycle=per_cycle,
                                host_layers=host_layers, out_lanes=lanes)  # per-layer tiles searched (§4)
        cost = program_cost(program, b, clock_mhz)
        mem = memories(tm, tn, bufs, acc, uram, entries, bus_bits, two, lanes)
        dsp = array_dsp(tm, tn, pack, lanes, units)
        tried.append({"tm": tm, "tn": tn, "out_lanes": lanes, "screen_cycles": screen, "cycles": cost.cycles, "dsp": dsp,
                      **mem})
        key = (cost.cycles, dsp, mem["bram18"])
        if best is None or key < best[0]:
            best = (key, ArrayChoice(program, cost, dsp, mem["bram18"], limits, tried, pack, mem["uram"], mem["lut"],
                                     acc, entries, two))
    if best is None:
        raise InputError(f"the tiled engine fits no array of Tm in {list(tm_sizes)} x Tn in {list(tn_sizes)} on board "
                         f"'{b.name}' within ceiling {ceiling} (DSP budget {limits['dsp']}, BRAM18 budget "
                         f"{limits['bram18']}, URAM budget {limits['uram']}, LUT budget {limits['lut']})")
    return best[1]


def _fits(mem: dict, limits: dict) -> bool:
    return all(mem[k] <= limits[k] for k in ("bram18", "uram", "lut"))


def _fitting_buffers(tm: int, tn: int, taps: int, acc_bits: int, lut_entries: int, limits: dict, uram_ok: bool,
                     bus_bits: int = WIDE_BITS, split: bool = False, lanes: int = 0):
    """(buffers, in URAM?) for a Tm × Tn array: the largest input / accumulator buffers, halved from
    START_INPUT / START_OUTPUT, that fit block RAM, else URAM; None when even MIN_BUFFER does not."""
    for uram in (False, True) if uram_ok else (False,):
        bufs = {"input": START_INPUT, "weight": max(1, taps) * tm * tn, "output": START_OUTPUT}
        while not _fits(memories(tm, tn, bufs, acc_bits, uram, lut_entries, bus_bits, split, lanes), limits):
            if bufs["input"] <= MIN_BUFFER and bufs["output"] <= MIN_BUFFER:
                break
            bufs = {**bufs, "input": max(MIN_BUFFER, bufs["input"] // 2), "output": max(MIN_BUFFER, bufs["output"] // 2)}
        else:
            return bufs, uram
    return None


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
