"""What a manifest must look like, section by section (the keys the runtime reads).

:func:`check_manifest` runs on every load, after the seal: types, ranges, bounded shapes, unique
names, file names inside the bundle, and the cross references the backends follow (a kernel
argument's tensor, a layer's constant in weights.npz).
"""
from __future__ import annotations

from .bundle_check import MAX_ARRAY_ELEMENTS, OBJECTS, Checker
from .bundle_tiled import check_tiled_section
from .bundle_uram import check_uram_section

WEIGHTS = "weights.npz"
MANIFEST = "manifest.json"
BUILD_DIRS = ("build", "bitstream")
_REGISTER = (0, (1 << 32) - 1)


def check_manifest(m, where) -> None:
    """Raise a BundleError naming the first key of ``m`` that is not as compile writes it."""
    c = Checker(where)
    c.obj(m, "(top level)")
    # a compiled model: the sections every run reads must be there
    needed = ("model", "inputs", "outputs", "hardware") if "qmodel" in m else ()
    if "opencl" in m or "opencl/fa_kernel.cl" in (m.get("files") or {}):
        needed += ("kernel",)
    for key in needed:
        if key not in m:
            c.fail(key, "is missing")
    for key in OBJECTS:
        if key in m:
            c.obj(m[key], key)
    files = c.obj(m.get("files"), "files")
    for name, digest in files.items():
        c.rel_path(name, f"files[{name!r}]", reserved=(*BUILD_DIRS, MANIFEST))
        c.digest(digest, f"files[{name!r}]")
    if WEIGHTS not in files:
        c.fail("files", f"does not list {WEIGHTS}")
    arrays = c.obj(m.get("weights"), "weights")
    for name, spec in arrays.items():
        c.obj(spec, f"weights[{name!r}]")
        c.dtype(spec.get("dtype"), f"weights[{name!r}].dtype")
        c.shape(spec.get("shape"), f"weights[{name!r}].shape", lo=0, limit=MAX_ARRAY_ELEMENTS)
    if "model" in m:
        for k in ("name", "sha256"):
            if m["model"].get(k) is not None:
                c.text(m["model"][k], f"model.{k}")
    if "board" in m:
        if "name" in m["board"]:
            c.text(m["board"]["name"], "board.name")
        if "clock_mhz" in m["board"]:
            c.positive(m["board"]["clock_mhz"], "board.clock_mhz")
    for side in ("inputs", "outputs"):
        if side in m:
            items = c.lst(m[side], side)
            c.names(items, side)
            for i, t in enumerate(items):
                c.shape(t.get("shape"), f"{side}[{i}].shape", batch=True)
                c.dtype(t.get("dtype"), f"{side}[{i}].dtype")
    hw_names = _hardware(c, m.get("hardware"))
    if "layers" in m:
        for i, lay in enumerate(c.lst(m["layers"], "layers")):
            for k, v in (c.obj(c.obj(lay, f"layers[{i}]").get("folding", {}), f"layers[{i}].folding")).items():
                if k == "mul":  # the layer's multipliers (DSP or LUT), pe/mvau.py
                    if not (isinstance(v, str) and v in ("dsp", "lut")):
                        c.fail(f"layers[{i}].folding.mul", 'must be "dsp" or "lut"')
                else:
                    c.integer(v, f"layers[{i}].folding.{k}", 1)
    if "kernel" in m:
        if "kernel" in needed and "args" not in m["kernel"]:
            c.fail("kernel.args", "is missing")
        _kernel(c, m["kernel"], hw_names)
    if "opencl" in m and "build_options" in m["opencl"]:
        c.str_list(m["opencl"]["build_options"], "opencl.build_options")
    if "opencl" in m and "kernel" in m["opencl"]:  # the native host compiles this file
        c.ref(m["opencl"]["kernel"], "opencl.kernel", files)
    if "opencl" in m and "scratch" in m["opencl"]:  # the host allocates this much per work-item
        c.integer(c.obj(m["opencl"]["scratch"], "opencl.scratch").get("bytes_per_work_item"),
                  "opencl.scratch.bytes_per_work_item", 1, 1 << 32)
    if "qmodel" in m:
        _qmodel(c, c.obj(m["qmodel"], "qmodel"), arrays, hw_names)
    if "overrides" in m:
        _overrides(c, m["overrides"], files)
    if "engine" in m:  # which engine runs the model: "dataflow" or "tiled" (with manifest["tiled"])
        kind = c.text(c.obj(m["engine"], "engine").get("kind"), "engine.kind")
        if kind not in ("dataflow", "tiled") or (kind == "tiled") != ("tiled" in m):
            c.fail("engine.kind", f"is {kind!r}: 'tiled' exactly when the manifest has a tiled section, else 'dataflow'")
    if "tiled" in m:
        check_tiled_section(c, m["tiled"], files)
    if "uram_load" in m:  # weights the accelerator loads into URAM at start (codegen/uram_load.py)
        check_uram_section(c, m["uram_load"], files)
    if "segments" in m:  # dataflow segments with host steps between them (fpga_accel/segments/check.py)
        from .segments.check import check_segments_section

        check_segments_section(c, m["segments"], m)


def _overrides(c: Checker, items, files: dict) -> None:
    """Hand edits recorded by `fpga-accel adopt` (fpga_accel/overrides.py): files of hls/ or scripts/
    that the file list holds with the edited sha256."""
    seen = set()
    for i, o in enumerate(c.lst(items, "overrides")):
        key = f"overrides[{i}]"
        name = c.text(c.obj(o, key).get("file"), f"{key}.file")
        if name.split("/")[0] not in ("hls", "scripts") or name not in files or name in seen:
            c.fail(f"{key}.file", f"names {name!r}, not a listed file of hls/ or scripts/ (once)")
        seen.add(name)
        c.digest(o.get("sha256"), f"{key}.sha256")
        if o["sha256"] != files[name]:
            c.fail(f"{key}.sha256", "differs from the file's sha256 in 'files'")
        if o.get("compiled_sha256") is not None:
            c.digest(o["compiled_sha256"], f"{key}.compiled_sha256")
        c.text(o.get("when"), f"{key}.when")


def _hardware(c: Checker, hw) -> dict[str, list[str]] | None:
    if hw is None:
        return None
    out = {"items": {}}
    for side in ("inputs", "outputs"):
        key = f"hardware.{side}"
        items = out["items"][side] = c.lst(hw.get(side), key)
        out[side] = c.names(items, key)
        for i, t in enumerate(items):
            c.shape(t.get("shape"), f"{key}[{i}].shape", batch=True)
            c.qparams(t, f"{key}[{i}]")
            if "layout" in t:
                c.text(t["layout"], f"{key}[{i}].layout")
    return out


def _kernel(c: Checker, k: dict, hw: dict | None) -> None:
    tensors = None if hw is None else set(hw["inputs"]) | set(hw["outputs"])
    if "name" in k:
        c.text(k["name"], "kernel.name")
    if "mem_word_bytes" in k:
        c.integer(k["mem_word_bytes"], "kernel.mem_word_bytes", 1, 4096)
    args = c.lst(k.get("args", []), "kernel.args")
    c.names(args, "kernel.args")
    for i, a in enumerate(args):
        key = f"kernel.args[{i}]"
        c.text(a.get("kind"), f"{key}.kind")
        if "direction" in a and a["direction"] not in ("in", "out"):
            c.fail(f"{key}.direction", f"is {a['direction']!r}, not 'in' or 'out'")
        if "dtype" in a:
            c.dtype(a["dtype"], f"{key}.dtype")
        if a.get("offset") is not None:
            c.integer(a["offset"], f"{key}.offset", *_REGISTER)
        if "size_per_image" in a:
            c.integer(a["size_per_image"], f"{key}.size_per_image", 0, 1 << 32)
        if "tensor" in a:
            c.ref(a["tensor"], f"{key}.tensor", tensors)
    if "axis" not in k:
        return
    axis = c.obj(k["axis"], "kernel.axis")
    for name, off in c.obj(axis.get("registers"), "kernel.axis.registers").items():
        c.integer(off, f"kernel.axis.registers.{name}", *_REGISTER)
    streams = c.lst(axis.get("streams"), "kernel.axis.streams")
    c.names(streams, "kernel.axis.streams")
    for i, s in enumerate(streams):
        key = f"kernel.axis.streams[{i}]"
        c.ref(s.get("tensor"), f"{key}.tensor", tensors)
        for f in ("lanes", "elem_bits", "tdata_bits", "beats_per_image"):
            c.integer(s.get(f), f"{key}.{f}", 1, 1 << 28)


def _qmodel(c: Checker, q: dict, arrays: dict, hw: dict | None) -> None:
    c.text(q.get("name"), "qmodel.name")
    tensors = c.lst(q.get("tensors"), "qmodel.tensors")
    known = set(c.names(tensors, "qmodel.tensors"))
    for i, t in enumerate(tensors):
        c.shape(t.get("shape"), f"qmodel.tensors[{i}].shape")
        c.qparams(t, f"qmodel.tensors[{i}]")
    ins = c.str_list(q.get("inputs"), "qmodel.inputs", known)
    outs = c.str_list(q.get("outputs"), "qmodel.outputs", known)
    if hw is not None and (sorted(ins) != sorted(hw["inputs"]) or sorted(outs) != sorted(hw["outputs"])):
        c.fail("qmodel.inputs", f"and outputs ({ins}, {outs}) differ from hardware's ({hw['inputs']}, {hw['outputs']})")
    if hw is not None:  # the CLI and the backends read one, the session the other: they must agree
        by_name = {t["name"]: t for t in tensors}
        for side in ("inputs", "outputs"):
            for i, h in enumerate(hw["items"][side]):
                t = by_name[h["name"]]
                for k in ("qtype", "scale", "zero_point"):
                    if h[k] != t[k]:
                        c.fail(f"hardware.{side}[{i}].{k}", f"is {h[k]!r}, the qmodel's tensor has {t[k]!r}")
                if list(h["shape"][1:]) != list(t["shape"][1:]):
                    c.fail(f"hardware.{side}[{i}].shape", f"is {h['shape']}, the qmodel's tensor has {t['shape']}")
    for i, lay in enumerate(c.lst(q.get("layers"), "qmodel.layers")):
        key = f"qmodel.layers[{i}]"
        c.obj(lay, key)
        for k in ("name", "op_type"):
            c.text(lay.get(k), f"{key}.{k}")
        c.text(lay.get("domain", ""), f"{key}.domain")
        c.str_list(lay.get("inputs"), f"{key}.inputs", known)
        c.str_list(lay.get("outputs"), f"{key}.outputs", known)
        c.obj(lay.get("config"), f"{key}.config")
        _refs(c, lay.get("consts"), f"{key}.consts", arrays)
    before = _graph(c, q.get("host_before"), "qmodel.host_before", arrays)
    after = _graph(c, q.get("host_after"), "qmodel.host_after", arrays)
    if sorted(before[1]) != sorted(ins):
        c.fail("qmodel.host_before.outputs", f"are {before[1]}, not the hardware inputs {ins}")
    if sorted(after[0]) != sorted(outs):
        c.fail("qmodel.host_after.inputs", f"are {after[0]}, not the hardware outputs {outs}")


def _graph(c: Checker, g, key: str, arrays: dict) -> tuple[list[str], list[str]]:
    """(input names, output names) of a host graph, after checking its structure."""
    c.obj(g, key)
    c.text(g.get("name"), f"{key}.name")
    c.integer(g.get("opset"), f"{key}.opset", 1, 1000)
    names = {}
    for side in ("inputs", "outputs", "tensors"):
        items = c.lst(g.get(side), f"{key}.{side}")
        names[side] = c.names(items, f"{key}.{side}")
        for i, t in enumerate(items):
            c.shape(t.get("shape"), f"{key}.{side}[{i}].shape", lo=0)
            c.dtype(t.get("dtype"), f"{key}.{side}[{i}].dtype")
    _refs(c, g.get("consts"), f"{key}.consts", arrays)
    for i, n in enumerate(c.lst(g.get("nodes"), f"{key}.nodes")):
        nk = f"{key}.nodes[{i}]"
        c.obj(n, nk)
        for k in ("name", "op_type"):
            c.text(n.get(k), f"{nk}.{k}")
        c.text(n.get("domain", ""), f"{nk}.domain")
        c.str_list(n.get("inputs"), f"{nk}.inputs")
        c.str_list(n.get("outputs"), f"{nk}.outputs")
        for a, v in c.obj(n.get("attrs"), f"{nk}.attrs").items():
            _attr(c, v, f"{nk}.attrs.{a}", arrays)
    return names["inputs"], names["outputs"]


def _attr(c: Checker, v, key: str, arrays: dict) -> None:
    if isinstance(v, dict):
        if set(v) == {"array"}:
            _refs(c, v, key, arrays)
        elif set(v) == {"float"}:
            c.text(v["float"], f"{key}.float")
        else:
            c.fail(key, f"is an object with keys {sorted(v)}, not an array or float reference")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            if isinstance(x, (dict, list)):
                _attr(c, x, f"{key}[{i}]", arrays)


def _refs(c: Checker, refs, key: str, arrays: dict) -> None:
    """Values of ``refs`` name arrays of weights.npz listed in the manifest's ``weights``."""
    for k, ref in c.obj(refs, key).items():
        c.text(ref, f"{key}.{k}")
        if ref not in arrays:
            c.fail(f"{key}.{k}", f"names the array '{ref}', which weights.npz does not hold")
