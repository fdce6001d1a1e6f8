"""A folded design: every layer's stages for one choice of foldings, with cycles and resources.

:func:`evaluate` is the one place that turns foldings into numbers: it adds the stages between
layers (width converters where lanes differ, forks where a tensor has several readers, the I/O
adapters), estimates the stream FIFOs between the stages (``fifos.py``), places memories (LUTRAM /
BRAM18; URAM for the largest weight memories while BRAM18 is over budget on a board that has URAM;
while LUTs are over budget the bindable LUTRAM arrays and the LUTRAM FIFOs in BRAM18, then bindable
arrays in URAM) and sums the estimates, FIFOs included, and per layer the bits its arrays hold
against the bits of the blocks they occupy (the packing waste). The totals hold every m_axi adapter
the generated top has (``resources.maxi_cost``): fa_kernel's input and output buffers on boards
without a PS, and the URAM weight load's ``wmem`` wherever the placement puts weights in URAM.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..pe import Stage
from ..pe.io import KERNEL_IN, KERNEL_OUT, WEIGHT_LOAD, io_lanes
from .boards import RESOURCES, Board
from .fifos import Fifo, estimate_fifos, fifo_usage
from .lower import LayerPlan, elems
from .resources import (
    BINDABLE,
    Memory,
    Usage,
    block_bits,
    fifo_movable,
    lut_saved_per_bram18,
    lut_saved_per_uram,
    maxi_cost,
    memory_cost,
    small,
)

MEM_BITS = 512  # the m_axi data width of fa_kernel (fpga_accel/codegen/top.py)


@dataclass
class LayerDesign:
    plan: LayerPlan
    fold: dict[str, int]
    stages: list[Stage]
    cycles: int  # slowest of the layer's own PEs (width converters included)
    usage: Usage = field(default_factory=Usage)
    uram_memories: int = 0
    memory_bits: int = 0  # what the layer's arrays hold
    memory_block_bits: int = 0  # the bits of the BRAM18 / URAM / LUTRAM they occupy as placed
    uram_arrays: list[str] = field(default_factory=list)  # "kind/role" of the memories placed in URAM
    bram_arrays: list[str] = field(default_factory=list)  # "kind/role" of the LUTRAM-sized ones bound to BRAM18

    @property
    def name(self) -> str:
        return self.plan.name


@dataclass
class Design:
    board: Board
    layers: list[LayerDesign]
    io: list[Stage]
    usage: Usage  # FIFOs included
    budget: dict[str, int]
    fifos: list[Fifo] = field(default_factory=list)
    ports: Usage = field(default_factory=Usage)  # the m_axi adapters' memories (in ``usage``)

    @property
    def stages(self) -> list[Stage]:
        return [s for lay in self.layers for s in lay.stages] + self.io

    @property
    def cycles(self) -> int:
        """Cycles per image of the whole dataflow pipeline: its slowest stage."""
        return max((s.cycles() for s in self.stages), default=1) or 1

    def fits(self) -> bool:
        u = self.usage.as_dict()
        return all(u[k] <= self.budget[k] for k in RESOURCES)

    def over(self) -> dict[str, int]:
        u = self.usage.as_dict()
        return {k: u[k] for k in RESOURCES if u[k] > self.budget[k]}


def budget(board: Board, ceiling: float) -> dict[str, int]:
    """What a design may use: ``ceiling`` of what the shell / PS glue leaves of each resource."""
    return {k: int(board.available(k) * ceiling) for k in RESOURCES}


def evaluate(qm, plans: list[LayerPlan], folds: dict[str, dict[str, int]], board: Board,
             limits: dict[str, int], cache: dict | None = None) -> Design:
    cache = {} if cache is None else cache
    producer = {t: i for i, lay in enumerate(qm.layers) for t in lay.outputs}
    readers: dict[str, list[int]] = {}
    for i, lay in enumerate(qm.layers):
        for t in lay.inputs:
            readers.setdefault(t, []).append(i)
    hw_in = {t.name for t in qm.inputs}
    hw_out = [t.name for t in qm.outputs]
    by_index = {i: plans[i] for i in range(len(plans))}

    def in_lanes_of(i: int) -> int | None:
        lanes = by_index[i].in_lanes(folds[plans[i].name])
        if lanes is None:  # a passthrough reads what its own reader reads
            nxt = readers.get(qm.layers[i].outputs[0], [])
            return in_lanes_of(nxt[0]) if nxt else None
        return lanes

    input_lanes = {}
    for t in hw_in:
        lanes = next((v for v in (in_lanes_of(i) for i in readers.get(t, [])) if v), 1)
        input_lanes[t] = io_lanes(lanes, qm.tensors[t].qparams.qtype.bits)

    def lanes_of(t: str) -> int:
        if t in hw_in:
            return input_lanes[t]
        i = producer[t]
        lanes = plans[i].out_lanes(folds[plans[i].name])
        return lanes if lanes is not None else lanes_of(qm.layers[i].inputs[0])

    def dests(t: str) -> int:
        """Readers of ``t`` past any passthrough layers, plus the hardware outputs it is."""
        n = hw_out.count(t)
        for r in readers.get(t, []):
            n += dests(qm.layers[r].outputs[0]) if plans[r].kind == "none" else 1
        return n

    def forks(t: str) -> list[Stage]:
        """A tensor with k destinations goes through a chain of k - 1 duplicates (named after it)."""
        lanes = lanes_of(t)
        p = {"N": elems(qm.tensors[t].shape) // lanes, "LANES": lanes, "BITS": qm.tensors[t].qparams.qtype.bits}
        return [Stage(t, "duplicate", dict(p)) for _ in range(dests(t) - 1)]

    layers = []
    for i, (lay, plan) in enumerate(zip(qm.layers, plans, strict=True)):
        fold = folds[plan.name]
        key = (plan.name, tuple(sorted(fold.items())))
        if key not in cache:
            cache[key] = plan.stages(fold)
        stages = list(cache[key])
        want = plan.in_lanes(fold)
        for j, t in enumerate(lay.inputs):
            have = lanes_of(t)
            if want is not None and have != want and t in qm.tensors:
                n = elems(qm.tensors[t].shape)
                stages.insert(0, Stage(lay.name + (f"@in{j}" if j else ""), "width_convert",  # as the code generator names it
                                       {"IN_LANES": have, "OUT_LANES": want, "N_IN": n // have, "N_OUT": n // want,
                                        "BITS": qm.tensors[t].qparams.qtype.bits, "INPUT": j}))
        if plan.kind != "none":
            for t in lay.outputs:
                stages += forks(t)
        layers.append(LayerDesign(plan, dict(fold), stages, max((s.cycles() for s in stages), default=0)))
    io = []
    # Zynq boards run the AXI-Stream IP (fa_axis) behind the PS's DMAs; boards without a PS (Vitis
    # platforms, cloud shells) the m_axi kernel (fa_kernel)
    iface = {"INTERFACE": "axis"} if board.ps is not None else {"INTERFACE": "m_axi", "MEM_BITS": MEM_BITS}
    for t in qm.inputs:
        lanes = input_lanes[t.name]
        io.append(Stage(t.name, "input", {"N": elems(t.shape) // lanes, "LANES": lanes,
                                          "BITS": t.qparams.qtype.bits, **iface}))
        io += forks(t.name)
    for t in qm.outputs:
        lanes, bits = lanes_of(t.name), t.qparams.qtype.bits
        narrow = io_lanes(lanes, bits)
        if narrow != lanes:
            n = elems(t.shape)
            io.append(Stage(t.name, "width_convert", {"IN_LANES": lanes, "OUT_LANES": narrow, "N_IN": n // lanes,
                                                      "N_OUT": n // narrow, "BITS": bits, "INPUT": 0}))
        io.append(Stage(t.name, "output", {"N": elems(t.shape) // narrow, "LANES": narrow, "BITS": bits, **iface}))
    fifos = estimate_fifos(qm, plans, layers, io, readers, lanes_of)
    ports: list[Usage] = []
    usage = _place(layers, io, board, limits, fifos, ports) + fifo_usage(fifos)
    return Design(board, layers, io, usage, limits, fifos, sum(ports, Usage()))


def io_ports(io: list[Stage]) -> Usage:
    """The m_axi adapters of fa_kernel's buffers (pe/io.py KERNEL_IN / KERNEL_OUT, one per input and
    output): on boards without a PS; the Zynq IP's AXI-Stream ports have none."""
    total = Usage()
    for s in io:
        if s.kind in ("input", "output") and s.params.get("INTERFACE") == "m_axi":
            total = total + maxi_cost(KERNEL_IN if s.kind == "input" else KERNEL_OUT)
    return total


def loads_weights(mems: list[tuple[int, int, Memory]], where: dict[int, str]) -> bool:
    """Whether the top takes the URAM weight load's ``wmem`` port (codegen/uram_load.py): some weight
    bank the top binds is placed in URAM."""
    return any(where[id(m)] == "uram" and m.role in BINDABLE for _, _, m in mems)


def _place(layers: list[LayerDesign], io: list[Stage], board: Board, limits: dict[str, int],
           fifos: list[Fifo] | None = None, ports: list[Usage] | None = None) -> Usage:
    """Sum the estimates and place the memories: small ones in LUTRAM, others in BRAM18 (``auto``);
    while BRAM18 is over its limit on a board with URAM, weight and buffer memories move to URAM
    (:func:`_to_uram`); then, while LUTs are over their limit, memories leave the LUTs
    (:func:`_out_of_luts`). Each trade goes in a fixed order that does not depend on the limits, so a
    larger budget never places worse. ``fifos``: the stream FIFOs, which share the limits; their
    ``where`` is set here, and they are not in the returned sum. The m_axi adapters' memories
    (:func:`io_ports`, and the weight load's once a weight bank is in URAM) share the limits too and
    are in the sum; ``ports``, when given, receives their total."""
    fifos = fifos or []
    mems: list[tuple[int, int, Memory]] = []
    kinds: dict[int, str] = {}  # id(memory) -> its stage's kind
    adapters = Usage()
    for s in io:
        c = s.cost(board)
        adapters = adapters + Usage(dsp=c.dsp, lut=c.lut, ff=c.ff)
    maxi = io_ports(io)
    logic = adapters + maxi
    for li, lay in enumerate(layers):
        lay.usage = Usage()
        for s in lay.stages:
            c = s.cost(board)
            lay.usage = lay.usage + Usage(dsp=c.dsp, lut=c.lut, ff=c.ff)
            mems += [(li, k, m) for k, m in enumerate(c.memories)]
            kinds.update((id(m), s.kind) for m in c.memories)
        logic = logic + lay.usage
    for f in fifos:
        f.where = "auto"
    streams = fifo_usage(fifos)
    fixed = streams.bram18 + maxi.bram18  # BRAM18 no placement moves
    where = _to_uram(mems, {id(m): "auto" for _, _, m in mems}, board, limits, fixed)
    lut = logic.lut + streams.lut + sum(memory_cost(m, where[id(m)]).lut for _, _, m in mems)
    lut += maxi_cost(WEIGHT_LOAD).lut if loads_weights(mems, where) else 0
    if lut > limits["lut"]:
        where = _out_of_luts(mems, fifos, where, lut, board, limits, maxi.bram18)
    if loads_weights(mems, where):
        maxi = maxi + maxi_cost(WEIGHT_LOAD)
    if ports is not None:
        ports.append(maxi)
    for lay in layers:
        lay.uram_memories = lay.memory_bits = lay.memory_block_bits = 0
        lay.uram_arrays, lay.bram_arrays = [], []
    for li, _, m in mems:
        lay = layers[li]
        lay.usage = lay.usage + memory_cost(m, where[id(m)])
        lay.memory_bits += m.bits
        lay.memory_block_bits += block_bits(m, where[id(m)])
        if where[id(m)] == "uram":
            lay.uram_memories += 1
            lay.uram_arrays.append(f"{kinds[id(m)]}/{m.role}")
        elif where[id(m)] == "bram":
            lay.bram_arrays.append(f"{kinds[id(m)]}/{m.role}")
    total = adapters + maxi
    for lay in layers:
        total = total + lay.usage
    return total


def _out_of_luts(mems: list[tuple[int, int, Memory]], fifos: list[Fifo], where: dict[int, str], lut: int,
                 board: Board, limits: dict[str, int], fixed_bram18: int = 0) -> dict[int, str]:
    """``where`` with memories moved out of the LUTs until the LUTs (``lut`` as placed) are within their
    limit, in two passes, each in a fixed order and taking a memory only where the block RAM left holds it:

    1. to BRAM18 (no load at start needed): the LUTRAM arrays the generated top binds
       (``resources.BINDABLE``) and the LUTRAM stream FIFOs (``resources.fifo_movable``; the top binds
       them with ``BIND_STORAGE type = fifo impl = bram``), most LUTs saved per BRAM18 first, then
       the largest;
    2. on a board with URAM, the bindable arrays still in LUTRAM to URAM (filled from DDR at start,
       ``codegen/uram_load.py``), most LUTs saved per URAM first, then the largest; the first such move
       adds the load's m_axi adapter (pe/io.py WEIGHT_LOAD) to the LUTs.

    ``fixed_bram18``: block RAM that no move frees (the m_axi adapters'). Kept only when the LUTs end within their limit; otherwise every memory stays where it was (the
    FIFOs' ``where`` too). The passes stop as soon as the LUTs fit, so a larger LUT budget moves a
    prefix of the same moves."""
    moved = dict(where)
    blocks = fifo_usage(fifos) + sum((memory_cost(m, where[id(m)]) for _, _, m in mems), Usage())
    bram, uram = blocks.bram18 + fixed_bram18, blocks.uram
    loading, load = loads_weights(mems, where), maxi_cost(WEIGHT_LOAD)
    # (memory as priced, its FIFO or None, tie-break): weights in layer order, then FIFOs in stream order
    items = [(m, None, (0, li, k)) for li, k, m in mems if m.role in BINDABLE and memory_cost(m).lut]
    items += [(Memory("fifo", f.depth, f.width), f, (1, i, 0)) for i, f in enumerate(fifos)
              if fifo_movable(f.depth, f.width)]
    to_bram: list[Fifo] = []
    for m, f, _ in sorted(items, key=lambda x: (-lut_saved_per_bram18(x[0]), -x[0].bits, x[2])):
        if lut <= limits["lut"]:
            break
        cost = memory_cost(m, "bram").bram18
        if bram + cost <= limits["bram18"]:
            bram += cost
            lut -= memory_cost(m).lut
            if f is None:
                moved[id(m)] = "bram"
            else:
                to_bram.append(f)
    if board.uram > 0:
        left = [x for x in items if x[1] is None and moved[id(x[0])] == "auto"]
        for m, _, _ in sorted(left, key=lambda x: (-lut_saved_per_uram(x[0]), -x[0].bits, x[2])):
            if lut <= limits["lut"]:
                break
            cost = memory_cost(m, "uram").uram
            if uram + cost <= limits["uram"] and (loading or bram + load.bram18 <= limits["bram18"]):
                uram += cost
                lut -= memory_cost(m).lut
                if not loading:
                    lut, bram, loading = lut + load.lut, bram + load.bram18, True
                moved[id(m)] = "uram"
    if lut > limits["lut"]:
        return where
    for f in to_bram:
        f.where = "bram"
    return moved


def _to_uram(mems: list[tuple[int, int, Memory]], where: dict[int, str], board: Board, limits: dict[str, int],
             fixed_bram18: int) -> dict[int, str]:
    """``where`` with, while BRAM18 is over its limit on a board with URAM, the weight and buffer
    memories ``auto`` puts in BRAM18 moved to URAM (most BRAM18 saved per URAM first, then the
    largest). Memories bound to BRAM18 (``bram``) stay there: they are small, and a URAM would
    hold them worse. ``fixed_bram18``: the BRAM18 no move frees (stream FIFOs, m_axi adapters)."""
    where = dict(where)
    bram = sum(memory_cost(m, where[id(m)]).bram18 for _, _, m in mems) + fixed_bram18
    if board.uram > 0 and bram > limits["bram18"]:
        movable = sorted((x for x in mems if x[2].role in ("weights", "line_buffer", "buffer") and not small(x[2])
                          and where[id(x[2])] == "auto"),
                         key=lambda x: (-memory_cost(x[2]).bram18 / memory_cost(x[2], "uram").uram, -x[2].bits,
                                        x[0], x[1]))
        for _, _, m in movable:
            if bram <= limits["bram18"]:
                break
            where[id(m)] = "uram"
            bram -= memory_cost(m).bram18
    return where
