"""The whole ``fa_kernel``: constants, one function per layer, and the kernel that runs them.

Layout of the work: one work-item runs whole images, ``img = get_global_id(0)``, then every
``get_global_size(0)``-th image after it, so the host may start one work-item per image (PoCL) or a
single one for all of them (the way an HLS kernel is started). Each image goes through the layers in
order; a layer reads its inputs and writes its output through pointers:

- hardware inputs and outputs point into the argument buffers, at image ``img`` (NHWC, storage
  dtype of the tensor's qtype, as the host stores the batch);
- every other tensor is a private array of the work-item, sized at compile time. PoCL keeps them on
  the worker thread's stack, so the kernel must be started with one work-item per work-group, and
  the private intermediates of one image are bounded by :data:`PRIVATE_LIMIT` bytes;
- when the intermediates need more, the largest go to global memory instead: one more argument,
  :data:`SCRATCH_ARG`, after the Vitis kernel's (the host allocates it, the bytes per work-item
  that ``manifest["opencl"]["scratch"]`` gives) holds them at fixed offsets in each work-item's own
  slice. The HLS kernel has no such argument: it streams its tensors on chip.
"""
from __future__ import annotations

from ...errors import Problem, UnsupportedModelError
from ...escape import c_comment
from .c import CTYPE, HELPERS, ctype_of, identifier, indent, numel
from .context import LayerContext
from .registry import EMITTERS

KERNEL_NAME = "fa_kernel"
#: bytes of private intermediates per image (per work-item) the generated kernel may use
PRIVATE_LIMIT = 1 << 20
#: the extra argument of a kernel that keeps intermediates in global memory
SCRATCH_ARG = "fa_scratch"
#: offsets in the scratch slice are multiples of this many bytes (the widest element is 2 bytes)
SCRATCH_ALIGN = 16


def tensor_bytes(qmodel, t: str) -> int:
    q = qmodel.tensors[t]
    return numel(q.shape) * q.qparams.qtype.dtype.itemsize


def intermediates(qmodel, args: list[dict]) -> list[str]:
    """The tensors the kernel holds itself (not in an argument buffer), in layer order."""
    bound = {a["tensor"] for a in args if a["kind"] == "m_axi"}
    produced = [lay.outputs[0] for lay in qmodel.layers]
    return [t for t in produced if t not in bound]


def scratch_layout(qmodel, args: list[dict]) -> dict[str, int]:
    """Tensor -> byte offset in the work-item's global scratch slice: the largest intermediates,
    as many as needed for the rest to fit in :data:`PRIVATE_LIMIT` bytes (empty when all fit)."""
    inter = intermediates(qmodel, args)
    left = sum(tensor_bytes(qmodel, t) for t in inter)
    offsets, at = {}, 0
    largest_first = [t for _, _, t in sorted((-tensor_bytes(qmodel, t), i, t) for i, t in enumerate(inter))]
    for t in largest_first:
        if left <= PRIVATE_LIMIT:
            break
        offsets[t] = at
        at += -(-tensor_bytes(qmodel, t) // SCRATCH_ALIGN) * SCRATCH_ALIGN
        left -= tensor_bytes(qmodel, t)
    return offsets


def scratch_bytes(qmodel, args: list[dict]) -> int:
    """Bytes of global scratch one work-item needs (0: every intermediate is private)."""
    offsets = scratch_layout(qmodel, args)
    return max((o + -(-tensor_bytes(qmodel, t) // SCRATCH_ALIGN) * SCRATCH_ALIGN for t, o in offsets.items()),
               default=0)


def _unsupported(qmodel) -> None:
    bad = [Problem(lay.name, lay.op_type, "no OpenCL emitter for this layer kind; supported: "
                   + ", ".join(sorted(EMITTERS))) for lay in qmodel.layers if lay.op_type not in EMITTERS]
    if bad:
        raise UnsupportedModelError(bad, qmodel.name)


def _arg_decl(arg) -> str:
    if arg["kind"] == "scalar":
        return f"uint {arg['name']}" if arg["dtype"] == "uint32" else f"{arg['dtype']} {arg['name']}"
    const = "const " if arg.get("direction", "in") == "in" else ""
    return f"__global {const}{CTYPE[arg['dtype']]}* restrict {arg['name']}"


def kernel_source(qmodel, args: list[dict], name: str = KERNEL_NAME) -> str:
    """OpenCL C of ``fa_kernel`` for ``qmodel`` with the arguments ``args`` (manifest order); ``name``
    is the kernel's (a dataflow segment's HLS kernel name, so one host path drives either)."""
    _unsupported(qmodel)
    ins = [a for a in args if a["kind"] == "m_axi" and a.get("direction") == "in"]
    outs = [a for a in args if a["kind"] == "m_axi" and a.get("direction") == "out"]
    count = next(a["name"] for a in args if a["kind"] == "scalar")

    var, space = {}, {}  # tensor -> C variable, address space prefix of pointers to it
    for a in ins:
        var[a["tensor"]], space[a["tensor"]] = f"p_{a['name']}", "__global "
    produced = {lay.outputs[0] for lay in qmodel.layers}
    out_var = {}
    for a in outs:  # a layer writes straight into the output buffer
        if a["tensor"] not in var and a["tensor"] in produced:
            var[a["tensor"]], space[a["tensor"]] = f"p_{a['name']}", "__global "
        out_var[a["name"]] = f"p_{a['name']}"
    scratch = scratch_layout(qmodel, args)
    private = []
    for t in intermediates(qmodel, args):
        if t in scratch:
            var[t], space[t] = f"g{len(var)}", "__global "
        else:
            var[t], space[t] = f"t{len(private)}", ""
            private.append(t)

    decls, funcs, calls = [], [], []
    for i, lay in enumerate(qmodel.layers):
        ctx = LayerContext(qmodel, lay, f"L{i}")
        body = EMITTERS[lay.op_type](lay, ctx)
        params = [f"{space[t]}const {ctx.ctype(t)}* restrict x{k}" for k, t in enumerate(lay.inputs)]
        y = lay.outputs[0]
        params.append(f"{space[y]}{ctx.ctype(y)}* restrict y")
        decls.extend(ctx.decls)
        names = ", ".join(c_comment(t) for t in lay.inputs)
        head = f"/* layer {i}: {c_comment(lay.name)} ({c_comment(lay.op_type)}) {names} -> {c_comment(y)} */"
        funcs.append(f"{head}\nstatic void fa_L{i}_{identifier(lay.op_type)}({', '.join(params)}) {{\n"
                     f"{indent(body.rstrip())}\n}}\n")
        calls.append(f"fa_L{i}_{identifier(lay.op_type)}({', '.join(var[t] for t in lay.inputs)}, {var[y]});")

    decl_args = [_arg_decl(a) for a in args] + ([f"__global uchar* restrict {SCRATCH_ARG}"] if scratch else [])
    sig = ",\n                        ".join(decl_args)
    lines = [f"__kernel void {name}({sig}) {{"]
    if scratch:  # each work-item its own slice
        lines.append(f"    __global uchar* fa_ws = {SCRATCH_ARG} + (size_t)get_global_id(0) * "
                     f"{scratch_bytes(qmodel, args)}UL;")
        for t, off in scratch.items():
            lines.append(f"    __global {ctype_of(qmodel.tensors[t].qparams.qtype)}* {var[t]} = "
                         f"(__global {ctype_of(qmodel.tensors[t].qparams.qtype)}*)(fa_ws + {off});"
                         f"  /* {c_comment(t)} */")
    for t in private:
        lines.append(f"    {ctype_of(qmodel.tensors[t].qparams.qtype)} {var[t]}[{numel(qmodel.tensors[t].shape)}];"
                     f"  /* {c_comment(t)} */")
    lines.append(f"    for (uint img = get_global_id(0); img < {count}; img += get_global_size(0)) {{")
    for a in ins + outs:
        t = qmodel.tensors[a["tensor"]]
        const = "const " if a in ins else ""
        lines.append(f"        __global {const}{CTYPE[a['dtype']]}* p_{a['name']} = {a['name']} + "
                     f"(size_t)img * {numel(t.shape)};  /* {c_comment(a['tensor'])} */")
    lines += [f"        {c}" for c in calls]
    for a in outs:  # an output no layer writes (a hardware input passed through, or one listed twice)
        src = var[a["tensor"]]
        if src != out_var[a["name"]]:
            lines.append(f"        for (int i = 0; i < {numel(qmodel.tensors[a['tensor']].shape)}; i++) "
                         f"{out_var[a['name']]}[i] = {src}[i];")
    lines += ["    }", "}"]

    head = (f"/* {c_comment(qmodel.name)}: the integer layers of the accelerator as one OpenCL kernel.\n"
            f" * Generated by fpga-accel from the quantised model; the integers are those of the\n"
            f" * emulator (docs/integer-contract.md). Arguments: {', '.join(c_comment(a['name']) for a in args)}. */\n")
    parts = [head, HELPERS, "/* ---- constants ---- */\n", *decls, "/* ---- layers ---- */\n", *funcs,
             "/* ---- kernel ---- */\n", "\n".join(lines) + "\n"]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)
