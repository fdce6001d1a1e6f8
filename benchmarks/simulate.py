"""Timed simulation beside the C simulation, and simulated cycles per image beside the cost model.

For each example model (compiled for pynq-z2, HLS generator only) and the branchy test networks
(tests/sim_util.py): images/s of the C simulation (``CsimLibrary.run``) and of the timed
simulation (trace + bounded-FIFO replay, emulator check off) on the same batch (best of 3, CPU
seconds of this process: both run on one thread, and the machine is shared); the simulated
steady-state cycles per image at the generated FIFO depths, with unbounded FIFOs and at the depths
compile's sizing finds (``--fifo-sizing sim``), beside the manifest's figure, and the FIFO memories
at the cost model's depths and at the sized ones. ``--corpus`` adds every model of
``../shared/corpus/models`` that compiles (random calibration data; the others are listed with
the reason).

    python benchmarks/simulate.py [MODEL ...] [--corpus] [--images 16] [--json PATH]

``--tiled`` instead compiles each example model for the tiled engine (``--board``, default
pynq-z2) and prints the tiled engine's timed simulation per layer beside the cost model:

    python benchmarks/simulate.py --tiled [MODEL ...] [--board zcu104] [--images 4]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, data, machine, write_json

sys.path.insert(0, str(ROOT / "tests"))

MODELS = ["mnist_cnn", "mnist_cnn_qdq", "digits_cnn", "mlp", "resnet_ds"]
NETS = ["residual", "inception", "forks_in_a_row"]
CORPUS = ROOT.parent / "shared" / "corpus" / "models"


def corpus_models() -> list[str]:
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.onnx")) if CORPUS.is_dir() else []


def bundle_of(name: str, out: Path):
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    if name in NETS:
        from sim_util import compile_net

        return compile_net(name, out, fifo_sizing="sim")
    if name.endswith(".onnx"):
        import numpy as np

        from fpga_accel.frontend import import_onnx

        g = import_onnx(str(CORPUS / name))
        r = np.random.default_rng(0)
        calib = {t.name: r.uniform(-1, 1, (16, *[int(d) or 1 for d in t.shape[1:]])).astype(np.float32)
                 for t in g.inputs}
        return fpga_accel.compile(str(CORPUS / name), out, board="pynq-z2", calib=calib, progress=False,
                                  generators=[generate_hls], fifo_sizing="sim")
    calib = None if name.endswith("_qdq") else data.load_calib(name)
    return fpga_accel.compile(data.model_path(name), out, board="pynq-z2", calib=calib, progress=False,
                              generators=[generate_hls], fifo_sizing="sim")


def measure(name: str, images: int, tmp: Path) -> dict:
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim
    from fpga_accel.sim import Simulator
    from fpga_accel.sim.simulate import random_inputs
    from fpga_accel.sim.sizing import REGION

    t = time.perf_counter()
    b = bundle_of(name, tmp / f"{name.replace('/', '_').removesuffix('.onnx')}.fpga")
    compile_s = time.perf_counter() - t
    qm = load_qmodel(b)
    lib = CsimLibrary(build_csim(b.path, progress=False))
    sim = Simulator(b.path / "hls", qm, b.manifest)
    ins = random_inputs(qm, images, 0)
    import numpy as np

    outs = [np.zeros((images, *[int(d) for d in t.shape[1:]]), t.qparams.qtype.dtype) for t in qm.outputs]
    csim_s = sim_s = float("inf")
    for _ in range(3):  # best of 3, CPU time of this process (both are single-threaded; the machine is shared)
        t = time.process_time()
        lib.run(ins, outs, images)
        csim_s = min(csim_s, time.process_time() - t)
        t = time.process_time()
        sim._trace = None
        sim.run(images, check=False, raise_on_deadlock=False)  # trace + cut + replay, no emulator
        sim_s = min(sim_s, time.process_time() - t)
    res = sim.run(images, check=True, raise_on_deadlock=False)  # the bundle's (sized) depths, outputs checked
    tr, _, _ = sim.trace(images, check=True)
    free = sim.run(images, {s: 1 << 40 for s in tr.streams if REGION.fullmatch(s)}, check=True)
    rec, fifos = b.manifest["fifo_sizing"], b.manifest["fold"]["fifos"]
    at_model = sim.run(images, rec.get("model_depths") or {}, check=True, raise_on_deadlock=False)
    model = b.manifest["fold"]["cycles_per_image"]
    return {"model": name, "images": images, "compile_s": compile_s, "sizing": rec["method"],
            "sizing_note": rec.get("note"), "csim_images_per_s": images / csim_s,
            "sim_images_per_s": images / sim_s, "sim_over_csim_time": sim_s / csim_s, "model_cycles": model,
            "model_depth_cycles": at_model.cycles_per_image, "sim_cycles": res.cycles_per_image,
            "deadlock": bool(res.deadlock), "outputs_match": res.outputs_match,
            "unbounded_cycles": free.cycles_per_image,
            "fifo_at_model_depths": rec.get("fifos_at_model_depths"),
            "fifo_sized": {k: fifos[k] for k in ("bram18", "lut")},
            "latency": res.latency, "model_latency": b.manifest["fold"].get("latency_cycles")}


def measure_tiled(name: str, board: str, images: int, tmp: Path) -> dict:
    import fpga_accel
    from fpga_accel.sim.tiled import simulate_tiled

    calib = None if name.endswith("_qdq") else data.load_calib(name)
    b = fpga_accel.compile(data.model_path(name), tmp / f"{name}-tiled-{board}.fpga", board=board, calib=calib,
                           progress=False, engine="tiled")
    res = simulate_tiled(b, images=images)
    t = b.manifest["tiled"]["array"]
    print(f"{name} on {board} (Tm x Tn = {t['tm']} x {t['tn']}): simulated {res.cycles_per_image:,.0f} cycles per image, "
          f"model {res.model_cycles_per_image:,.0f} ({res.cycles_per_image / res.model_cycles_per_image:.3f}x), "
          f"descriptors {res.control_cycles:,.0f}, outputs == emulator: {res.outputs_match}", flush=True)
    for lay in res.layers:
        print(f"  {lay.name:32s} {lay.kind:15s} sim {lay.cycles:>9,.0f}  model {lay.model_cycles:>9,.0f} "
              f"({lay.ratio:.3f}x)  compute {lay.compute_cycles:>7,}  {lay.bound:7s} (model {lay.model_bound:7s}) "
              f"bursts {lay.bursts:>5,}  stall {lay.stall_cycles:>9,.0f}", flush=True)
    return {"model": name, **res.to_dict()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=MODELS + NETS)
    ap.add_argument("--corpus", action="store_true", help="add every corpus model that compiles")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--json")
    ap.add_argument("--tiled", action="store_true", help="the tiled engine's timed simulation instead")
    ap.add_argument("--board", default="pynq-z2", help="board of the --tiled compiles (default pynq-z2)")
    args = ap.parse_args()
    if args.tiled:
        names = [m for m in args.models if m in MODELS] or MODELS
        with tempfile.TemporaryDirectory() as tmp:
            rows = [measure_tiled(name, args.board, min(args.images, 4), Path(tmp)) for name in names]
        if args.json:
            write_json(args.json, {"machine": machine(), "results": rows})
        return 0
    rows, skipped = [], []
    names = list(args.models) + (corpus_models() if args.corpus else [])
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            try:
                rows.append(measure(name, args.images, Path(tmp)))
            except Exception as e:  # a corpus model this compiler does not take: listed with the reason
                if not name.endswith(".onnx"):
                    raise
                skipped.append({"model": name, "reason": f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"})
                print(f"{name:40s} skipped: {skipped[-1]['reason']}", flush=True)
                continue
            r = rows[-1]
            fm, fs = r["fifo_at_model_depths"] or {}, r["fifo_sized"]
            print(f"{name:40s} model {r['model_cycles']:>7,}  at model depths {r['model_depth_cycles'] or 0:>9,.1f}  "
                  f"sized {r['sim_cycles'] or 0:>9,.1f} ({(r['sim_cycles'] or 0) / r['model_cycles']:.4f}x)  "
                  f"unbounded {r['unbounded_cycles']:>9,.1f}  match {r['outputs_match']}  "
                  f"FIFO BRAM18 {fm.get('bram18', '-')}->{fs['bram18']} LUT {fm.get('lut', '-')}->{fs['lut']}  "
                  f"[{r['sizing']}] compile {r['compile_s']:.1f}s  csim {r['csim_images_per_s']:,.0f} img/s, "
                  f"simulate {r['sim_images_per_s']:,.0f} img/s ({r['sim_over_csim_time']:.1f}x the time)", flush=True)
    if args.json:
        write_json(args.json, {"machine": machine(), "results": rows, "skipped": skipped})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
