"""The generated accelerator's speed beside the peers' published figures on the same chip.

For the MLPerf Tiny reference architectures (``mlperf_tiny.py``: ResNet-8, DS-CNN, MobileNetV1-0.25
VWW, FC autoencoder; random weights) and the example models, compiled at 8 bits for each board (HLS
generator only): the fold model's frames/s, frames/s per MHz, cycles per image, DSPs and the
DSP-roofline efficiency (MACs x frames/s over DSPs x MACs per DSP x clock), the folder's stop
reason, and — with ``--simulate`` — the timed simulation's steady-state cycles per image at the
generated FIFO depths (``fpga_accel.sim``), beside the published MLPerf Tiny figures of fpgaConvNet,
hls4ml and FINN on the PYNQ-Z2's chip (xc7z020). Every fpga-accel figure is an estimate of the
fold model or a simulation, not a board measurement; the peers' are their published results.

    python benchmarks/efficiency.py [--boards pynq-z2,zcu104] [--models resnet8,...] [--simulate] [--json PATH]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import mlperf_tiny
import numpy as np
from _common import data, machine, print_machine, write_json
from rich.console import Console
from rich.table import Table

EXAMPLES = ["mnist_cnn", "digits_cnn", "resnet_ds", "mlp"]

#: MLPerf Tiny results on the xc7z020 (PYNQ-Z2 / ZedBoard), inferences/s as published; MHz where the
#: the published entry states its clock (fpgaConvNet's ResNet-8: 143 MHz, 211 DSPs)
PEERS = [
    ("resnet8", "fpgaConvNet v1.1 (ZedBoard, INT8)", 2431, 143),
    ("resnet8", "hls4ml RN08 v1.0 (PYNQ-Z2)", 130.8, None),
    ("resnet8", "FINN CNV-W1A1 v0.7 (PYNQ-Z2, binary, another network)", 661, None),
    ("ds_cnn", "fpgaConvNet v1.1", 3088, None),
    ("ds_cnn", "FINN KWS-W3A3 v0.7 (3-bit MLP, another network)", 57268, None),
    ("mobilenet_v1_025_vww", "fpgaConvNet v1.1", 105, None),
    ("fc_autoencoder", "hls4ml AD08 v0.7", 53365, None),
]


def compile_one(name: str, board: str, tmp: Path):
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    if name in mlperf_tiny.MODELS:
        model, calib = mlperf_tiny.write(tmp / "models", [name])[name]
        calib = np.load(calib)
    else:
        model, calib = data.model_path(name), data.load_calib(name)
    t = time.perf_counter()
    b = fpga_accel.compile(model, tmp / f"{name}-{board}.fpga", board=board, calib=calib, progress=False,
                           generators=[generate_hls])
    return b, time.perf_counter() - t


def measure(name: str, board: str, simulate: bool, tmp: Path) -> dict:
    b, seconds = compile_one(name, board, tmp)
    f = b.manifest["fold"]
    row = {"model": name, "board": board, "clock_mhz": f["clock_mhz"], "frames_per_s": f["frames_per_s"],
           "frames_per_s_per_mhz": f["frames_per_s"] / f["clock_mhz"], "cycles_per_image": f["cycles_per_image"],
           "macs_per_image": f["macs_per_image"], "dsp": f["totals"]["dsp"], "dsp_total": f["board_totals"]["dsp"],
           "lut": f["totals"]["lut"], "lut_total": f["board_totals"]["lut"], "dsp_packing": f["dsp_packing"],
           "dsp_roofline_efficiency": f["dsp_roofline_efficiency"], "slowest_stage": f["slowest_stage"],
           "stop_reason": f["stop_reason"], "compile_s": round(seconds, 2), "simulated_cycles_per_image": None}
    if simulate:
        from fpga_accel.sim import simulate as run_sim

        t = time.perf_counter()
        res = run_sim(b, images=4, check=True, raise_on_deadlock=False)
        row.update(simulated_cycles_per_image=res.cycles_per_image, simulated_deadlock=bool(res.deadlock),
                   simulated_outputs_match=res.outputs_match, simulate_s=round(time.perf_counter() - t, 1))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default="pynq-z2,zcu104")
    ap.add_argument("--models", default=",".join([*mlperf_tiny.MODELS, *EXAMPLES]))
    ap.add_argument("--simulate", action="store_true", help="also run the timed simulation (4 images)")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args()
    console = Console(width=None if Console().is_terminal else 180)
    info = machine()
    print_machine(console, info)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for board in args.boards.split(","):
            for name in args.models.split(","):
                rows.append(measure(name, board, args.simulate, Path(d)))
                r = rows[-1]
                console.print(f"{board} {name}: {r['frames_per_s']:,.0f} frames/s, "
                              f"{r['dsp_roofline_efficiency']:.1%} of the DSP roofline", highlight=False)
    t = Table(title="fpga-accel, 8 bits, each board's default clock (fold-model estimates)")
    for c in ("model", "board", "MHz", "frames/s", "per MHz", "cycles/image", "simulated", "DSP", "LUT",
              "MAC/DSP", "DSP roofline", "folder stopped because"):
        t.add_column(c, justify="left" if c in ("model", "board", "folder stopped because") else "right")
    for r in rows:
        sim = r["simulated_cycles_per_image"]
        t.add_row(r["model"], r["board"], f"{r['clock_mhz']:g}", f"{r['frames_per_s']:,.0f}",
                  f"{r['frames_per_s_per_mhz']:.2f}", f"{r['cycles_per_image']:,}",
                  "–" if sim is None else f"{sim:,.0f}", f"{r['dsp']}/{r['dsp_total']}",
                  f"{r['lut']:,}/{r['lut_total']:,}", str(r["dsp_packing"]), f"{r['dsp_roofline_efficiency']:.1%}",
                  r["stop_reason"])
    console.print(t)
    p = Table(title="published MLPerf Tiny figures on the xc7z020 (inferences/s)")
    for c in ("model", "entry", "inferences/s", "per MHz", "fpga-accel pynq-z2 per MHz (estimate)"):
        p.add_column(c, justify="left" if c in ("model", "entry") else "right")
    ours = {r["model"]: r for r in rows if r["board"] == "pynq-z2"}
    for model, entry, ips, mhz in PEERS:
        mine = ours.get(model)
        p.add_row(model, entry, f"{ips:,}", "–" if mhz is None else f"{ips / mhz:.2f}",
                  "–" if mine is None else f"{mine['frames_per_s_per_mhz']:.2f}")
    console.print(p)
    if args.json:
        write_json(args.json, {"machine": info, "rows": rows,
                               "peers": [dict(zip(("model", "entry", "inferences_per_s", "clock_mhz"), x))
                                         for x in PEERS]})


if __name__ == "__main__":
    main()
