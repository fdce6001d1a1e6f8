"""``fpga_accel.compile``: ONNX model + calibration data → bundle (DESIGN.md §4).

Steps: import → ``hardware`` flow → calibration → integer lowering (:func:`quantize_model`) →
folding to the board (:func:`fpga_accel.fold.fold_model`) → generated projects → bundle. The bundle's manifest describes the model, the partition, the quantisation and every
layer; its ``qmodel`` section and ``weights.npz`` rebuild the exact :class:`QModel`
(:func:`load_qmodel`). Compiling the same model with the same data twice gives byte-identical
files: nothing time- or machine-dependent goes into them except the tool versions.

Generated projects (``hls/``, ``opencl/``, ``scripts/``) come from the generators :data:`GENERATORS` names, each
``generator(stage_dir, qmodel, manifest)``: it writes files under ``stage_dir`` and may add
sections to ``manifest`` (the manifest is written after every generator ran).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .bundle import Bundle, load_bundle, write_bundle
from .bundle_model import load_qmodel  # noqa: F401 - public here too: a bundle read back
from .codegen.hls_project import generate_hls
from .errors import InputError
from .escape import file_stem
from .fold import apply_to_manifest, board_names, fold_model, get_board
from .fold.folder import check_options
from .fold.summary import apply_generated_fifos
from .quant.config import QuantConfig
from .quant.qmodel import QModel
from .sim.autosize import DEFAULT_SECONDS as FIFO_SIZING_SECONDS
from .sim.autosize import check_mode as check_sizing
from .sim.autosize import size_in_compile

#: ``"module:function"`` of each ``generator(stage_dir: Path, qmodel: QModel, manifest: dict) -> None``,
#: run in this order by compile: the HLS project first (it fixes the stream widths the build
#: scripts size their DMAs from), the OpenCL kernel, the build scripts.
GENERATORS: list[str] = [
    "fpga_accel.codegen.hls_project:generate_hls",
    "fpga_accel.codegen.opencl:generate_opencl",
    "fpga_accel.flow:generate_scripts",
]


def default_generators() -> list[Callable[[Path, QModel, dict], None]]:
    """The callables of :data:`GENERATORS`, imported on use."""
    import importlib

    out = []
    for spec in GENERATORS:
        module, _, name = spec.partition(":")
        out.append(getattr(importlib.import_module(module), name))
    return out

#: Names of the boards in fpga_accel/fold/boards/ (one data file each).
KNOWN_BOARDS = tuple(board_names())


def compile(model, output: str | os.PathLike | None = None, board: str = "pynq-z2", calib=None,
            bits: int | None = None, config: QuantConfig | str | os.PathLike | Mapping | None = None,
            observer: str | None = None, input_shapes: Mapping[str, tuple[int, ...]] | None = None,
            progress: bool = True, generators: list[Callable] | None = None, ceiling: float = 0.8,
            target_fps: float | None = None, clock_mhz: float | None = None,
            host_nodes: Sequence[str] | None = None, fifo_depths: Mapping[str, int] | None = None,
            fifo_sizing: str = "model", fifo_sizing_seconds: float = FIFO_SIZING_SECONDS,
            engine: str = "dataflow", host_layers: Sequence[str] | None = None) -> Bundle:
    """Compile ``model`` (.onnx path, bytes or ModelProto) into the bundle ``output``.

    ``output`` defaults to ``<model file stem>.fpga`` in the current directory. ``calib`` is the
    calibration data: a .npy / .npz path, an array (single-input models) or a dict keyed by input
    name, N samples preprocessed like the float model's inputs; it is required unless the model
    carries its own quantisation parameters. ``bits`` and ``observer`` override ``config`` (a
    :class:`QuantConfig`, a JSON/TOML file or a dict of the same keys; default 8 bits, minmax).
    ``generators`` replaces :data:`GENERATORS`. The auto-folder (:func:`fpga_accel.fold.fold_model`)
    sizes every layer for ``board`` within ``ceiling`` of its resources, stopping at
    ``target_fps`` when given; ``clock_mhz`` overrides the board's clock; per-layer ``folding`` in
    ``config`` is kept as given. ``host_nodes`` names nodes (as ``fpga-accel inspect --flow
    hardware`` lists them) that run on the host, in float, with everything downstream of them:
    the accelerated part ends before them. ``fifo_depths`` ({stream: depth}, names as `fpga-accel
    simulate` reports them) sets FIFO depth pragmas on top of the config's ``fifo_depths``; both are
    recorded in ``manifest["fifo_depths"]``. ``fifo_sizing`` picks the other depths: "model" (the
    cost model's; the default here, as programs compile many variants) or "sim" (the smallest that
    keep the interval in the timed simulation, within ``fifo_sizing_seconds``, else the model's with
    a note; the CLI's default); ``manifest["fifo_sizing"]`` records what was done
    (:mod:`fpga_accel.sim.autosize`). ``engine`` is ``"dataflow"`` (a processing element per
    layer, weights on chip), ``"tiled"`` (one Tm × Tn array through DDR, docs/tiled.md: the program,
    its weights arena and descriptors go in ``tiled/``) or ``"auto"`` (dataflow when it fits the board
    within ``ceiling``, else tiled; ``manifest["engine"]`` says which and why). A float host op
    between hardware nodes runs on the host between segments: the tiled engine's, or, on the
    dataflow engine, separate dataflow designs each folded within its share of ``ceiling``
    (fpga_accel/segments: ``segments/<k>/`` of the bundle; ``auto`` keeps them when every segment
    fits). ``host_layers`` names integer layers that run on the host between such segments, in the
    same integers, without moving anything downstream off the FPGA (docs/tiled.md, "Host steps").
    Returns the written, verified bundle.
    """
    from .frontend import import_onnx
    from .passes import run_flow
    from .quant.calibrate import load_calibration, observe_ranges
    from .quant.methods import equalize_model, methods_record
    from .quant.quantizer import quantize_model, split_edges, tensors_to_observe
    from .tiled.target import check_engine, pick_engine

    check_engine(engine)
    host_layers = _host_layer_names(host_layers, engine)
    cfg = make_config(config, bits=bits, observer=observer)
    check_sizing(fifo_sizing, fifo_sizing_seconds)
    board_info = get_board(board)
    check_options(ceiling, target_fps, clock_mhz)
    board_info.warn_clock(clock_mhz)
    if output is not None and not isinstance(output, (str, os.PathLike)):
        raise InputError(f"output must be the path of the bundle directory, got {type(output).__name__}")
    dest = Path(output) if output is not None else None
    if dest is not None:
        check_writable(dest)  # fail before the slow steps
    g = import_onnx(model, input_shapes=input_shapes)
    run_flow(g, "hardware")
    if host_nodes:
        from .partition import place_on_host

        place_on_host(g, host_nodes)
    from .partition import partition

    between = [n.name for n in partition(g).splitting]
    if between:  # float host ops between hardware nodes run on the host between segments (either engine)
        g.meta["host_between"] = True
    before, hw, after = split_edges(g)
    # Parameters the model itself carries (QDQ / QONNX import puts them here); they are used as given.
    given = dict(g.meta.get("qparams") or {})
    equalized = equalize_model(g, cfg, bool(given or g.meta.get("weights")))  # before calibration: it moves ranges
    want = {t: kw for t, kw in tensors_to_observe(g, hw, cfg).items() if t not in given}
    calibration: dict[str, Any] = {"source": None, "samples": 0, "sha256": None}
    ranges: dict[str, tuple[float, float]] = {}
    if want:
        if calib is None:
            raise InputError(calibration_required(g))
        feeds = load_calibration(calib, g.inputs)
        calibration = {"source": _where(calib), "samples": int(next(iter(feeds.values())).shape[0]),
                       "sha256": _arrays_sha256(feeds)}
        ranges = observe_ranges(g, feeds, want, kind=cfg.observer, progress=progress)
    qm = quantize_model(g, ranges, cfg, given=given or None, calib=feeds if want else None)

    picked = None
    if engine != "tiled" and (host_layers or between):  # dataflow segments with host steps between them
        from .fold.folder import FoldError
        from .segments import split_segments
        from .segments.build import fold_segments

        plan = split_segments(qm, host_layers)
        macs = {r["name"]: r["macs"] for r in layer_summary(g, qm)}
        try:
            folds = fold_segments(plan, macs, board_info, ceiling, target_fps, cfg.foldings(), clock_mhz)
        except FoldError as e:
            if engine == "dataflow":
                raise
            picked = ("tiled", f"auto: the dataflow segments do not fit the board ({str(e).splitlines()[0]})")
        if picked is None:
            why = f"--engine {engine} given" if engine == "dataflow" else "auto: the dataflow segments fit the board"
            return _compile_segments(why, plan, folds, g, qm, (before, hw, after), cfg, board_info, calibration,
                                     given, model, equalized, dest, generators, fifo_depths, fifo_sizing,
                                     fifo_sizing_seconds, ceiling)
    elif engine != "dataflow":  # "auto" folds once to learn whether the dataflow design fits
        picked = pick_engine(engine, qm, lambda: fold_model(qm, board_info, ceiling=ceiling, target_fps=target_fps,
                                                            overrides=cfg.foldings(), clock_mhz=clock_mhz))
    if picked is not None and picked[0] == "tiled":
        return _compile_tiled(picked, g, qm, (before, hw, after), cfg, board_info, calibration, given, model,
                              equalized, ceiling, clock_mhz, dest, host_layers)
    folded = fold_model(qm, board_info, ceiling=ceiling, target_fps=target_fps, overrides=cfg.foldings(),
                        clock_mhz=clock_mhz)
    manifest = build_manifest(g, qm, (before, hw, after), cfg, board_info.to_dict(), calibration, len(given), model)
    manifest["quantization"]["methods"] = methods_record(cfg, equalized, qm.methods)
    apply_to_manifest(manifest, folded)
    if picked is not None:
        manifest["engine"] = {"kind": picked[0], "reason": picked[1]}
    section, arrays = qm.to_dict()
    manifest["qmodel"] = section
    manifest["tools"] = tool_versions()
    if fifo_depths is not None and not isinstance(fifo_depths, Mapping):
        raise InputError(f"fifo_depths must map stream names to depths, got {type(fifo_depths).__name__}")
    depths = {**cfg.fifo_depths, **dict(fifo_depths or {})}
    if depths:  # the HLS generator checks the names against its streams and writes the depth pragmas
        manifest["fifo_depths"] = depths
    gens = default_generators() if generators is None else generators
    if generate_hls in gens:  # the depths are the HLS project's; without it there is nothing to size
        size_in_compile(qm, manifest, fifo_sizing, fifo_sizing_seconds)

    def write_files(stage: Path) -> None:
        for gen in gens:
            gen(stage, qm, manifest)
        apply_generated_fifos(manifest)

    if dest is None:
        dest = Path(f"{_stem(model, g)}.fpga")
        check_writable(dest)
    try:
        written = write_bundle(dest, manifest, arrays, write_files)
    except OSError as e:  # a full disk, a folder that refuses files (/proc), ...
        raise InputError(f"{dest}: cannot write the bundle ({e.strerror or e}); choose another output path") from None
    return load_bundle(written)


def _host_layer_names(names, engine: str) -> list[str]:
    """``host_layers`` as a list of names (host steps between the segments of either engine)."""
    if names is None:
        return []
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise InputError(f"host_layers must be a list of layer names, got {names!r:.80}")
    return [n for n in dict.fromkeys(names) if n]


def _compile_tiled(picked, g, qm, parts, cfg, board_info, calibration, given, model, equalized, ceiling,
                   clock_mhz, dest, host_layers=()) -> Bundle:
    """compile's tiled-engine branch: the bundle holds the tiled program (fpga_accel/bundle_tiled.py)
    with the array chosen for the board (fpga_accel/tiled/target.py) instead of the dataflow design;
    layers the engine cannot run, and ``host_layers``, are host steps between its segments."""
    from .bundle_tiled import steps_summary, write_tiled
    from .flow.tiled_scripts import generate_tiled_scripts
    from .quant.methods import methods_record
    from .tiled.target import choose_array

    choice = choose_array(qm, board_info, ceiling=ceiling, clock_mhz=clock_mhz, host_layers=host_layers)
    manifest = build_manifest(g, qm, parts, cfg, board_info.to_dict(), calibration, len(given), model)
    manifest["quantization"]["methods"] = methods_record(cfg, equalized, qm.methods)
    manifest["engine"] = {"kind": picked[0], "reason": picked[1]}
    part = manifest["partition"]  # layers run between the engine's segments are host ops too
    between = {s["host"]: s["op"] for s in steps_summary(choice.program)["order"] if "host" in s}
    part["hardware"] = [n for n in part["hardware"] if n["name"] not in between]
    part["host_between"] = [{"name": k, "op": v} for k, v in between.items()]
    section, arrays = qm.to_dict()
    manifest["qmodel"] = section
    manifest["tools"] = tool_versions()
    if dest is None:
        dest = Path(f"{_stem(model, g)}.fpga")
        check_writable(dest)
    try:
        def write(stage):
            write_tiled(stage, choice, manifest)
            generate_tiled_scripts(stage, manifest, choice.program)  # hls/ and scripts/: the engine for this board

        written = write_bundle(dest, manifest, arrays, write)
    except OSError as e:
        raise InputError(f"{dest}: cannot write the bundle ({e.strerror or e}); choose another output path") from None
    return load_bundle(written)


def _compile_segments(why, plan, folds, g, qm, parts, cfg, board_info, calibration, given, model, equalized, dest,
                      generators, fifo_depths, fifo_sizing, fifo_sizing_seconds, ceiling) -> Bundle:
    """compile's branch for dataflow segments (fpga_accel/segments/build.py): the model's bundle holds
    the whole quantised model and the ``segments`` section; each segment is a bundle of its own under
    ``segments/<k>/`` with its fold and generated project."""
    from .quant.methods import methods_record
    from .segments.build import check_no_fifo_depths, segment_section, write_segments

    check_no_fifo_depths({**cfg.fifo_depths, **dict(fifo_depths or {})})
    manifest = build_manifest(g, qm, parts, cfg, board_info.to_dict(), calibration, len(given), model)
    manifest["quantization"]["methods"] = methods_record(cfg, equalized, qm.methods)
    manifest["engine"] = {"kind": "dataflow", "reason": why}
    steps = set(plan.host_steps)
    part = manifest["partition"]
    part["hardware"] = [n for n in part["hardware"] if n["name"] not in steps]
    part["host_between"] = [{"name": lay.name, "op": lay.op_type} for lay in qm.layers if lay.name in steps]
    estimates = {lay.name: lay for f in folds for lay in f.design.layers}
    for entry in manifest["layers"]:
        if entry["name"] in estimates:
            entry["folding"] = dict(estimates[entry["name"]].fold)
            entry["estimate"] = {"cycles": int(estimates[entry["name"]].cycles),
                                 **estimates[entry["name"]].usage.as_dict()}
    manifest["segments"] = segment_section(plan, folds, ceiling)
    section, arrays = qm.to_dict()
    manifest["qmodel"] = section
    manifest["tools"] = tool_versions()
    gens = default_generators() if generators is None else generators

    def segment_manifest(sq):
        m = build_manifest(g, sq, ([], [n for n in parts[1] if any(lay.name == n.name for lay in sq.layers)], []),
                           cfg, board_info.to_dict(), calibration, len(given), model)
        m["inputs"] = [{"name": t.name, "shape": _dims(t.shape), "dtype": "float32"} for t in sq.inputs]
        m["outputs"] = [{"name": t.name, "shape": _dims(t.shape), "dtype": "float32"} for t in sq.outputs]
        m["engine"] = {"kind": "dataflow", "reason": f"a segment of {qm.name}"}
        m["tools"] = manifest["tools"]
        return m

    def sizing(sq, m):
        size_in_compile(sq, m, fifo_sizing, fifo_sizing_seconds)

    if dest is None:
        dest = Path(f"{_stem(model, g)}.fpga")
        check_writable(dest)
    try:
        written = write_bundle(dest, manifest, arrays,
                               lambda stage: write_segments(stage, plan, folds, segment_manifest, gens, sizing,
                                                            manifest))
    except OSError as e:
        raise InputError(f"{dest}: cannot write the bundle ({e.strerror or e}); choose another output path") from None
    return load_bundle(written)


# --- pieces of compile ---------------------------------------------------------------------------
def make_config(config=None, bits: int | None = None, observer: str | None = None) -> QuantConfig:
    """A :class:`QuantConfig` from a config object, file or dict, with ``bits``/``observer`` on top.

    Observer arguments of the config (``percentile``, ...) are dropped when ``observer`` replaces
    its observer by another: they belong to the one they were written for.
    """
    if config is None:
        base = QuantConfig()
    elif isinstance(config, QuantConfig):
        base = config
    elif isinstance(config, (str, os.PathLike)):
        base = QuantConfig.from_file(config)
    elif isinstance(config, Mapping):
        base = QuantConfig.from_mapping(config)
    else:
        raise InputError(f"config must be a QuantConfig, a path to a JSON/TOML file or a dict, "
                         f"got {type(config).__name__}")
    over: dict[str, Any] = {} if bits is None else {"bits": bits}
    if observer is not None and observer != base.observer:
        over.update(observer=observer, observer_args={})
    return dataclasses.replace(base, **over) if over else base


def check_writable(dest: Path) -> None:
    """An InputError unless a bundle can be created at ``dest`` (nothing is created here)."""
    where = dest.absolute().parent
    while not where.exists():
        where = where.parent
    if not where.is_dir() or not os.access(where, os.W_OK | os.X_OK):
        raise InputError(f"{dest}: cannot write the bundle there ({where} is not a writable directory); "
                         f"choose another output path")


def calibration_required(g) -> str:
    ins = ", ".join(f"'{t.name}' shaped (N, {', '.join(map(str, t.shape[1:]))})" for t in g.inputs)
    return (f"{g.meta.get('source', g.name)}: calibration data is required to quantise this model; pass "
            f"calib= (CLI: --calib FILE) with N samples of input {ins}, preprocessed as for the float model, "
            f"as a .npy file or array (one input) or a .npz file or dict keyed by input name. Only a model "
            f"that carries its own quantisation (QDQ / QONNX) compiles without it.")


def _dims(shape, batch: bool = True) -> list:
    return (["N"] + [int(d) for d in shape[1:]]) if batch and len(shape) else [int(d) for d in shape]


def _layout(rank: int) -> str:
    return {2: "NC", 3: "NWC", 4: "NHWC", 5: "NDHWC"}.get(rank, "N" + "?" * (rank - 1))


def _qtensor(t) -> dict[str, Any]:
    q = t.qparams
    return {"name": t.name, "shape": _dims(t.shape), "layout": _layout(len(t.shape)), "qtype": q.qtype.name,
            "scale": q.scale, "zero_point": q.zero_point}


def layer_summary(g, qm: QModel) -> list[dict[str, Any]]:
    """Per integer layer: name, op, output shape (hardware layout), MACs, bit widths."""
    from .ops import get_op
    from .quant.qtype import parse_qtype

    nodes = {n.name: n for n in g.nodes}
    rows = []
    for lay in qm.layers:
        node = nodes.get(lay.name)
        out = qm.tensors[lay.outputs[0]]
        wq = lay.config.get("weight_qtype")
        rows.append({"name": lay.name, "op": lay.op_type, "output_shape": _dims(out.shape),
                     "macs": get_op(node).macs(node, g) if node is not None else 0,
                     "weight_bits": parse_qtype(wq).bits if wq else None,
                     "act_bits": out.qparams.qtype.bits, "acc_bits": lay.config.get("acc_bits")})
    return rows


def build_manifest(g, qm: QModel, parts, cfg: QuantConfig, board: dict, calibration: dict, n_given: int,
                   model) -> dict[str, Any]:
    """Everything but ``qmodel``, ``tools``, ``format_version`` and ``files`` (added by the caller)."""
    source = os.path.abspath(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else None
    info = {"name": g.name, "sha256": g.meta.get("sha256"),
            "file_sha256": _file_sha256(source) if source else None, "source": source,
            "producer": g.meta.get("producer"), "opset": g.meta.get("source_opset", g.opset)}
    tensor = lambda t: {"name": t.name, "shape": _dims(t.shape), "dtype": t.dtype.name}  # noqa: E731
    before, hw, after = parts
    nodes = lambda ns: [{"name": n.name, "op": n.op_type} for n in ns]  # noqa: E731
    layers = layer_summary(g, qm)
    return {
        "fpga_accel_version": __version__,
        "model": info,
        "board": board,
        "inputs": [tensor(t) for t in g.inputs],
        "outputs": [tensor(t) for t in g.outputs],
        "hardware": {"inputs": [_qtensor(t) for t in qm.inputs], "outputs": [_qtensor(t) for t in qm.outputs],
                     "macs": sum(r["macs"] for r in layers)},
        "partition": {"host_before": nodes(before), "hardware": nodes(hw), "host_after": nodes(after)},
        "quantization": {"bits": cfg.bits, "weight_bits": cfg.weight_bits or cfg.bits,
                         "act_bits": cfg.act_bits or cfg.bits, "observer": cfg.observer,
                         "observer_args": dict(sorted(cfg.observer_args.items())),
                         "layers": {k: dict(sorted(v.items())) for k, v in sorted(cfg.layers.items())},
                         "given_params": n_given, "calibration": calibration},
        "layers": layers,
    }


def tool_versions() -> dict[str, str | None]:
    from importlib import metadata

    def version(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    return {"fpga-accel": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "onnx": version("onnx"), "onnxruntime": version("onnxruntime")}


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _arrays_sha256(feeds: Mapping[str, np.ndarray]) -> str:
    """A fingerprint of the calibration samples (names, dtypes, shapes and bytes)."""
    h = hashlib.sha256()
    for name in sorted(feeds):
        x = np.ascontiguousarray(feeds[name])
        h.update(f"{name}:{x.dtype.str}:{x.shape};".encode())
        h.update(x.tobytes())
    return h.hexdigest()


def _where(calib) -> str:
    return os.path.abspath(os.fspath(calib)) if isinstance(calib, (str, os.PathLike)) else f"<{type(calib).__name__}>"


def _stem(model, g) -> str:
    if isinstance(model, (str, os.PathLike)):
        return Path(model).stem
    return file_stem(g.name)  # a graph name is model text: the one file-name rule, no leading dot
