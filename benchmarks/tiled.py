"""The tiled engine's predicted speed per board: compile ImageNet-class models with ``--engine tiled``
and report the cost model's figures (estimates, fpga_accel/tiled/cost.py), beside the compile's own
time and peak memory.

For each model and board, one ``fpga_accel.compile(..., engine="tiled")`` in a fresh process
(its wall time and peak resident memory are the compile's): the array chosen (Tm × Tn, DSP
multipliers, packing, BRAM18 / URAM), cycles and frames/s per image, the DSP-roofline efficiency
as ``benchmarks/efficiency.py`` defines it for the dataflow design (MACs × frames/s over the
board's DSPs × 2 MACs × clock) and the compute / memory split per layer; and the *port bound*: the
DSP-roofline share no schedule of the same array could beat, each layer taking the longest of its
compute cycles and its bytes at the DDR's and the ports' rates (``cost.bound_cycles``). Every figure
but the compile's time and memory is an estimate of the cost model, not a measurement.

    python benchmarks/tiled.py [--models DIR/resnet50.onnx,...] [--boards pynq-z2,kv260,zcu104,alveo-u250]
                               [--calib DIR/calib224.npy] [--layers resnet50] [--json PATH]
    python benchmarks/tiled.py --run DIR/resnet50.onnx zcu104 [--batch 8]

DIR: the exports of ``torchvision_export.py`` (``$FPGA_ACCEL_TORCHVISION``, default
``benchmarks/models/torchvision``), which are also the defaults.

``--run`` measures, in one process on this machine: the tiled bundle's emulator session (its
quantised model through ``run_layers``, a batch per layer) and the same session running the program
in the reference executor (``use_program``: the DDR model, image by image), both on a batch, beside
onnxruntime's float model on the same images (its batch-1 export run image by image); the emulator
and onnxruntime get the same number of threads (``FPGA_ACCEL_THREADS``, default the CPUs this
process may use), which the figures state. Then the C simulation of the HLS engine — built as the
array choice says (PACK, ACC_BITS) — on one image, whose outputs must equal the emulator's bit for bit.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, TORCHVISION_DIR, PeakRss, machine, print_machine, write_json

MODELS = [str(TORCHVISION_DIR / f"{n}.onnx") for n in ("resnet50", "resnet18", "mobilenet_v2")]
BOARDS = ["pynq-z2", "kv260", "zcu104", "alveo-u250"]
ROOFLINE_MACS_PER_DSP = 2  # as efficiency.py: two 8-bit products per DSP


def one(model: str, board: str, calib: str) -> dict:
    """Compile ``model`` for ``board`` in this process; the figures as a dict."""
    import numpy as np

    import fpga_accel
    from fpga_accel.fold import get_board
    from fpga_accel.tiled.cost import bound_cycles, ddr_rates

    with tempfile.TemporaryDirectory() as d, PeakRss() as rss:
        t, cpu = time.perf_counter(), time.process_time()
        b = fpga_accel.compile(model, Path(d) / "m.fpga", board=board, calib=np.load(calib), progress=False,
                               engine="tiled")
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    tiled = b.manifest["tiled"]
    cost, arr = tiled["cost"], tiled["array"]
    brd = get_board(board)
    macs = sum(lay["macs"] for lay in cost["layers"])
    peak = brd.dsp * ROOFLINE_MACS_PER_DSP * cost["clock_mhz"] * 1e6
    mem = [lay for lay in cost["layers"] if lay["bound"] == "memory"]
    bound = bound_cycles(cost["layers"], ddr_rates(brd, cost["clock_mhz"], cost["burst_efficiency"]))
    return {"model": Path(model).stem, "board": board, "tm": arr["tm"], "tn": arr["tn"], "dsp": arr["dsp"],
            "dsp_total": brd.dsp, "pack": arr.get("pack", 1), "bram18": arr["bram18"], "uram": arr.get("uram", 0),
            "out_lanes": arr.get("out_lanes", 0), "units": arr.get("units"),
            "cycles": cost["cycles"], "fps": cost["fps"], "macs": macs,
            "roofline_efficiency": macs * cost["fps"] / peak, "ddr_gbs": cost["ddr_gbs"],
            "bound_cycles": bound, "bound_efficiency": macs / (bound * brd.dsp * ROOFLINE_MACS_PER_DSP) if bound else 0.0,
            "compute_bound_cycles": sum(lay["cycles"] for lay in cost["layers"] if lay["bound"] == "compute"),
            "memory_bound_cycles": sum(lay["cycles"] for lay in mem), "memory_bound_layers": len(mem),
            "layers_total": len(cost["layers"]), "compile_s": round(seconds, 1),
            "compile_cpu_s": round(cpu, 1), "compile_peak_mb": rss.peak_mb,
            "layers": cost["layers"]}


def run_speed(model: str, board: str, calib: str, batch: int) -> dict:
    """Emulator vs onnxruntime throughput on ``batch`` images, and one image's C simulation."""
    import numpy as np
    import onnxruntime as ort

    import fpga_accel
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.bundle_tiled import load_program
    from fpga_accel.emulator import run_layers
    from fpga_accel.emulator.executor import default_threads
    from fpga_accel.ir.execute import run_graph
    from fpga_accel.quant.arith import quantize
    from fpga_accel.tiled.csim import EngineConfig, TiledCsim, engine_library

    x = np.load(calib).astype(np.float32)
    images = np.concatenate([x] * -(-batch // len(x)))[:batch]
    with tempfile.TemporaryDirectory() as d:
        b = fpga_accel.compile(model, Path(d) / "m.fpga", board=board, calib=x, progress=False, engine="tiled")
        arr = b.manifest["tiled"]["array"]
        threads = default_threads()
        seconds, outs = {}, {}
        for mode in ("layers", "program"):
            with fpga_accel.Session(b, backend="emulator") as s:
                s.backend.use_program = mode == "program"
                s.run(images[:1])  # warm
                t = time.perf_counter()
                outs[mode] = s.run(images)
                seconds[mode] = time.perf_counter() - t
        same_modes = all(np.array_equal(outs["layers"][k], outs["program"][k]) for k in outs["program"])
        emu_s = seconds["layers"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        ort_s = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        name = ort_s.get_inputs()[0].name
        ort_s.run(None, {name: images[:1]})  # warm
        t = time.perf_counter()
        for i in range(batch):
            ort_s.run(None, {name: images[i:i + 1]})
        ort_t = time.perf_counter() - t
        print(f"{threads} threads: emulator {batch / emu_s:.2f} images/s (program executor "
              f"{batch / seconds['program']:.2f}), onnxruntime {batch / ort_t:.2f} images/s", flush=True)
        # one image through the C simulation, against the emulator on the same raw integers
        qm, (program, _) = load_qmodel(b), load_program(b)
        g = qm.host_before
        feeds = run_graph(g, {g.input_names[0]: images[:1]}) if g.nodes else {qm.inputs[0].name: images[:1]}
        raw = {t_.name: quantize(feeds[t_.name], t_.qparams, name=t_.name) for t_ in qm.inputs}
        cfg = {"acc_bits": arr["acc_bits"], "pack": arr["pack"]}
        t = time.perf_counter()
        engine_library(EngineConfig.of(program, **cfg))  # the g++ build, cached
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        got = TiledCsim(program, **cfg).run(raw)
        csim_s = time.perf_counter() - t
        want = run_layers(qm, raw)  # the emulator's integers
        same = all(np.array_equal(got[k], want[k]) for k in want)
    return {"model": Path(model).stem, "board": board, "batch": batch, "tm": arr["tm"], "tn": arr["tn"],
            "pack": arr["pack"], "emulator_images_per_s": batch / emu_s, "onnxruntime_images_per_s": batch / ort_t,
            "emulator_over_onnxruntime": ort_t / emu_s, "threads": threads,
            "program_executor_images_per_s": batch / seconds["program"],
            "program_executor_over_onnxruntime": ort_t / seconds["program"], "modes_equal": same_modes,
            "csim_build_s": round(build_s, 1),
            "csim_one_image_s": round(csim_s, 1), "csim_equals_emulator": same}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--calib", default=str(TORCHVISION_DIR / "calib224.npy"))
    ap.add_argument("--layers", default="", help="models (stems) whose per-layer split is printed")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--one", nargs=2, metavar=("MODEL", "BOARD"), help=argparse.SUPPRESS)
    ap.add_argument("--run", nargs=2, metavar=("MODEL", "BOARD"), help="emulator / onnxruntime / C-simulation speed")
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    if args.run:
        print(json.dumps(run_speed(*args.run, args.calib, args.batch), indent=1))
        return
    if args.one:
        print(json.dumps(one(*args.one, args.calib)))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 200)
    info = machine()
    print_machine(console, info)
    rows = []
    for model in args.models.split(","):
        for board in args.boards.split(","):
            out = subprocess.run([sys.executable, __file__, "--one", model, board, "--calib", args.calib],
                                 check=False, capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                console.print(f"{model} {board}: failed\n{out.stderr[-2000:]}", highlight=False)
                continue
            rows.append(json.loads(out.stdout.splitlines()[-1]))
            r = rows[-1]
            console.print(f"{r['model']} {board}: {r['fps']:,.1f} frames/s, {r['roofline_efficiency']:.1%} of the DSP "
                          f"roofline, compile {r['compile_s']} s / {r['compile_peak_mb']} MB", highlight=False)
    t = Table(title="tiled engine, 8 bits, each board's clock (cost-model estimates; compile time and memory measured)")
    for c in ("model", "board", "Tm x Tn", "pack", "out lanes", "DSP", "BRAM18", "URAM", "cycles/image", "frames/s",
              "DSP roofline", "port bound", "GB/s", "memory-bound layers (cycles)", "compile s", "peak MB"):
        t.add_column(c, justify="left" if c in ("model", "board") else "right")
    for r in rows:
        t.add_row(r["model"], r["board"], f"{r['tm']} x {r['tn']}", str(r["pack"]), str(r["out_lanes"]),
                  f"{r['dsp']}/{r['dsp_total']}",
                  str(r["bram18"]), str(r["uram"]), f"{r['cycles']:,.0f}", f"{r['fps']:,.1f}",
                  f"{r['roofline_efficiency']:.1%}", f"{r['bound_efficiency']:.1%}", f"{r['ddr_gbs']:.2f}",
                  f"{r['memory_bound_layers']}/{r['layers_total']} ({r['memory_bound_cycles'] / r['cycles']:.1%})",
                  str(r["compile_s"]), str(r["compile_peak_mb"]))
    console.print(t)
    for r in rows:
        if r["model"] not in args.layers.split(","):
            continue
        lt = Table(title=f"{r['model']} on {r['board']}, per layer (estimates)")
        for c in ("layer", "kind", "MACs", "compute", "transfer", "cycles", "bound"):
            lt.add_column(c, justify="left" if c in ("layer", "kind", "bound") else "right")
        for lay in r["layers"]:
            lt.add_row(lay["name"], lay["kind"], f"{lay['macs']:,}", f"{lay['compute_cycles']:,}",
                       f"{lay['transfer_cycles']:,.0f}", f"{lay['cycles']:,.0f}", lay["bound"])
        console.print(lt)
    if args.json:
        write_json(args.json, {"machine": info, "rows": rows})


if __name__ == "__main__":
    main()
