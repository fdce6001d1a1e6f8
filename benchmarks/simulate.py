"""Timed simulation beside the C simulation, and simulated cycles per image beside the cost model.

For each example model (compiled for pynq-z2, HLS generator only) and the branchy test networks
(tests/sim_util.py): images/s of the C simulation (``CsimLibrary.run``) and of the timed
simulation (trace + bounded-FIFO replay, emulator check off) on the same batch; the simulated
steady-state cycles per image at the generated FIFO depths, with unbounded FIFOs and at the depths
``fpga_accel.sim.sizing`` finds, beside the manifest's figure.

    python benchmarks/simulate.py [MODEL ...] [--images 16] [--json PATH]
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


def bundle_of(name: str, out: Path):
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    if name in NETS:
        from sim_util import compile_net

        return compile_net(name, out)
    calib = None if name.endswith("_qdq") else data.load_calib(name)
    return fpga_accel.compile(data.model_path(name), out, board="pynq-z2", calib=calib, progress=False,
                              generators=[generate_hls])


def measure(name: str, images: int, tmp: Path) -> dict:
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim
    from fpga_accel.sim import Simulator
    from fpga_accel.sim.simulate import random_inputs
    from fpga_accel.sim.sizing import size_fifos

    b = bundle_of(name, tmp / f"{name}.fpga")
    qm = load_qmodel(b)
    lib = CsimLibrary(build_csim(b.path, progress=False))
    sim = Simulator(b.path / "hls", qm, b.manifest)
    ins = random_inputs(qm, images, 0)
    import numpy as np

    outs = [np.zeros((images, *[int(d) for d in t.shape[1:]]), t.qparams.qtype.dtype) for t in qm.outputs]
    t = time.perf_counter()
    lib.run(ins, outs, images)
    csim_s = time.perf_counter() - t
    t = time.perf_counter()
    sim._trace = None
    res = sim.run(images, check=False, raise_on_deadlock=False)
    sim_s = time.perf_counter() - t
    tr, _, _ = sim.trace(images, check=False)
    free = sim.run(images, {s: 1 << 40 for s in tr.streams if s not in ("in0", "out0")}, check=False)
    z = size_fifos(sim, images=min(images, 8))
    model = b.manifest["fold"]["cycles_per_image"]
    return {"model": name, "images": images, "csim_images_per_s": images / csim_s, "sim_images_per_s": images / sim_s,
            "sim_over_csim_time": sim_s / csim_s, "model_cycles": model, "sim_cycles": res.cycles_per_image,
            "deadlock": bool(res.deadlock), "unbounded_cycles": free.cycles_per_image, "sized_cycles": z.after,
            "fifo_bram18_generated": z.bram18["generated"], "fifo_bram18_sized": z.bram18["sized"],
            "latency": res.latency, "model_latency": b.manifest["fold"].get("latency_cycles")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=MODELS + NETS)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            rows.append(measure(name, args.images, Path(tmp)))
            r = rows[-1]
            print(f"{name:16s} model {r['model_cycles']:>7,}  simulated {r['sim_cycles']:>9,.1f} "
                  f"({r['sim_cycles'] / r['model_cycles']:.3f}x)  unbounded {r['unbounded_cycles']:>9,.1f}  "
                  f"sized {r['sized_cycles']:>9,.1f} ({r['sized_cycles'] / r['model_cycles']:.4f}x)  "
                  f"FIFO BRAM18 {r['fifo_bram18_generated']}->{r['fifo_bram18_sized']}  "
                  f"csim {r['csim_images_per_s']:,.0f} img/s, simulate {r['sim_images_per_s']:,.0f} img/s "
                  f"({r['sim_over_csim_time']:.1f}x the time)", flush=True)
    if args.json:
        write_json(args.json, {"machine": machine(), "results": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
