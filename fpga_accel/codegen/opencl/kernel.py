"""The whole ``fa_kernel``: constants, one function per layer, and the kernel that runs them.

Layout of the work: one work-item runs whole images, ``img = get_global_id(0)``, then every
``get_global_size(0)``-th image after it, so the host may start one work-item per image (PoCL) or a
single one for all of them (the way an HLS kernel is started). Each image goes through the layers in
order; a layer reads its inputs and writes its output through pointers:

- hardware inputs and outputs point into the argument buffers, at image ``img`` (NHWC, storage
  dtype of the tensor's qtype, as the host stores the batch);
- every other tensor is a private array of the work-item, sized at compile time. PoCL keeps them on
  the worker thread's stack, so the kernel must be started with one work-item per work-group, and
  the intermediates of one image are bounded by :data:`PRIVATE_LIMIT` bytes.
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


def kernel_source(qmodel, args: list[dict]) -> str:
    """OpenCL C of ``fa_kernel`` for ``qmodel`` with the arguments ``args`` (manifest order)."""
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
    private, total = [], 0
    for lay in qmodel.layers:
        t = lay.outputs[0]
        if t not in var:
            var[t], space[t] = f"t{len(private)}", ""
            q = qmodel.tensors[t]
            private.append(t)
            total += numel(q.shape) * q.qparams.qtype.dtype.itemsize
    if total > PRIVATE_LIMIT:
        raise UnsupportedModelError([Problem(lay.name, lay.op_type, f"the intermediate tensors of one image need "
                                             f"{total} bytes, more than the {PRIVATE_LIMIT} bytes of private memory "
                                             f"the OpenCL kernel keeps per work-item")
                                     for lay in qmodel.layers[:1]], qmodel.name)

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

    sig = ",\n                        ".join(_arg_decl(a) for a in args)
    lines = [f"__kernel void {KERNEL_NAME}({sig}) {{"]
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
