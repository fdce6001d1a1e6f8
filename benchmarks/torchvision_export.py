"""Export the torchvision architectures the tiled-engine and fitting benchmarks use, with random
weights, to ONNX (opset 13, batch 1, input "input"), plus a calibration file of random normal images.

Runs in a side environment that has torch and torchvision (they are not dependencies of fpga-accel):

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.13.0 && \\
        /tmp/tv/bin/pip install torchvision==0.28.0 --no-deps
    /tmp/tv/bin/python benchmarks/torchvision_export.py [--out benchmarks/models/torchvision] [NAME ...]

The other scripts read the folder from ``--models-dir`` or ``$FPGA_ACCEL_TORCHVISION``
(default ``benchmarks/models/torchvision``, which git ignores: the files are 5–100 MB).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from _common import TORCHVISION_DIR

NAMES = ("resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x0_5", "efficientnet_b0",
         "googlenet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=list(NAMES), choices=NAMES, metavar="NAME")
    ap.add_argument("--out", type=Path, default=TORCHVISION_DIR)
    ap.add_argument("--calib-images", type=int, default=8)
    args = ap.parse_args()

    import numpy as np
    import torch

    # torchvision registers fake kernels for its C ops at import; beside a CPU-only torch that can fail,
    # and the model classes do not need them
    torch.library.register_fake = lambda *a, **k: (lambda f: f)
    import torchvision.models as tvm

    nets = {"resnet18": tvm.resnet18, "resnet50": tvm.resnet50, "mobilenet_v2": tvm.mobilenet_v2,
            "squeezenet1_1": tvm.squeezenet1_1, "shufflenet_v2_x0_5": tvm.shufflenet_v2_x0_5,
            "efficientnet_b0": tvm.efficientnet_b0,
            "googlenet": lambda: tvm.googlenet(aux_logits=False, init_weights=True)}
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name in args.names:
        model = nets[name]().eval()
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(args.out / f"{name}.onnx"), opset_version=13,
                          dynamo=False, input_names=["input"], output_names=["logits"])
        print(name, "->", args.out / f"{name}.onnx")
    calib = np.random.default_rng(0).normal(0, 1, (args.calib_images, 3, 224, 224)).astype(np.float32)
    np.save(args.out / "calib224.npy", calib)
    print("calibration ->", args.out / "calib224.npy")


if __name__ == "__main__":
    main()
