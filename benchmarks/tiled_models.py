"""Every torchvision architecture of the tiled engine's list through ``compile --engine tiled`` for each
board, and on one board the engine's C simulation against the emulator and onnxruntime.

Per model and board: whether it compiles, in how long, the array chosen, the host steps left (layers the
engine has no form for), and the cost model's frames/s (an estimate). On ``--parity-board``: two random
normal images through the emulator session, the C simulation of the HLS engine (outputs must be equal,
bit for bit) and onnxruntime's float model (cosine of the logits).

    python benchmarks/torchvision_export.py          # once, in an environment with torch (see its docstring)
    python benchmarks/tiled_models.py [--models-dir DIR] [--boards pynq-z2,kv260,zcu104,alveo-u250]
                                      [--parity-board zcu104] [--json PATH] [NAME ...]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import TORCHVISION_DIR, machine, print_machine, write_json
from rich.console import Console

NAMES = ("resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x0_5", "efficientnet_b0",
         "googlenet")
BOARDS = ("pynq-z2", "kv260", "zcu104", "alveo-u250")


def compile_one(path: Path, board: str, calib: np.ndarray, out: Path) -> dict:
    import fpga_accel

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b = fpga_accel.compile(path, out, board=board, calib=calib, progress=False, engine="tiled")
    except Exception as e:  # noqa: BLE001 - a benchmark reports every model's outcome
        return {"board": board, "compiled": False, "error": f"{type(e).__name__}: {str(e)[:300]}"}
    t = b.manifest["tiled"]
    steps = t.get("steps") or {}
    return {"board": board, "compiled": True, "tm": t["array"]["tm"], "tn": t["array"]["tn"],
            "host_steps": steps.get("host_steps", 0), "segments": steps.get("segments", 1),
            "fps_estimate": t["cost"]["fps"], "bundle": b}


def parity(bundle, path: Path, images: int = 2) -> dict:
    import onnxruntime as ort

    import fpga_accel

    x = np.random.default_rng(1).normal(0, 1, (images, 3, 224, 224)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = np.concatenate([sess.run(None, {sess.get_inputs()[0].name: x[i:i + 1]})[0] for i in range(images)])
    out = {}
    for backend in ("emulator", "csim"):
        t = time.perf_counter()
        with fpga_accel.Session(bundle, backend=backend) as s:
            y = s.run(x)
        out[backend] = (next(iter(y.values())) if isinstance(y, dict) else y, time.perf_counter() - t)
    ye, yc = out["emulator"][0], out["csim"][0]
    cos = [float(np.dot(a.ravel(), r.ravel()) / (np.linalg.norm(a) * np.linalg.norm(r))) for a, r in zip(ye, ref)]
    return {"images": images, "csim_equals_emulator": bool(np.array_equal(ye, yc)), "cosine_vs_onnxruntime": cos,
            "emulator_s": round(out["emulator"][1], 1), "csim_s": round(out["csim"][1], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=list(NAMES), metavar="NAME")
    ap.add_argument("--models-dir", type=Path, default=TORCHVISION_DIR)
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--parity-board", default="zcu104")
    ap.add_argument("--calib-images", type=int, default=4)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args()
    info = machine()
    print_machine(Console(), info)
    calib_file = args.models_dir / "calib224.npy"
    if not calib_file.is_file():
        raise SystemExit(f"{calib_file}: missing; run benchmarks/torchvision_export.py first (see its docstring)")
    calib = np.load(calib_file)[:args.calib_images]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names:
            path = args.models_dir / f"{name}.onnx"
            for board in args.boards.split(","):
                t = time.perf_counter()
                r = compile_one(path, board, calib, Path(tmp) / f"{name}-{board}.fpga")
                r.update(model=name, seconds=round(time.perf_counter() - t, 1))
                bundle = r.pop("bundle", None)
                if bundle is not None and board == args.parity_board:
                    r["parity"] = parity(bundle, path)
                rows.append(r)
                print(_line(r), flush=True)
    if args.json:
        write_json(args.json, {"machine": info, "rows": rows})


def _line(r: dict) -> str:
    if not r["compiled"]:
        return f"{r['model']:20s} {r['board']:11s} FAILED {r['error']}"
    s = (f"{r['model']:20s} {r['board']:11s} {r['seconds']:6.1f} s  {r['tm']:3d} x {r['tn']:<3d} host steps "
         f"{r['host_steps']:2d}  {r['fps_estimate']:8.1f} frames/s (estimate)")
    if "parity" in r:
        p = r["parity"]
        s += (f"  csim == emulator: {p['csim_equals_emulator']}, cosine {min(p['cosine_vs_onnxruntime']):.5f} "
              f"(emulator {p['emulator_s']} s, csim {p['csim_s']} s)")
    return s


if __name__ == "__main__":
    main()
