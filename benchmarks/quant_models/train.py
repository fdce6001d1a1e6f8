"""Train the quantisation benchmark's extra networks and export them to ONNX (opset 13, batch ``N``).

    /path/to/venv-with-torch/bin/python benchmarks/quant_models/train.py          # all
    /path/to/venv-with-torch/bin/python benchmarks/quant_models/train.py mbv2_mnist

Needs torch 2.13.0 (CPU), onnx and onnxruntime; reads ../shared/corpus/data through the example
models' own loaders (models/train.py: the same splits, preprocessing, optimiser and seeds), so the
calibration and test files of ``models/mnist_cnn`` and ``models/digits_cnn`` serve these networks
too. Writes ``benchmarks/quant_models/<name>.onnx`` and ``models.json`` (float test accuracy by
onnxruntime, sha256, the data each was trained on).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "models"))

import torch
import train as base
from common import LICENCES, ort_accuracy
from torch import nn


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class ResBlock6(nn.Module):
    """3x3 conv+BN+ReLU6, 3x3 conv+BN, identity Add, ReLU6."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*conv_bn(c, c), nn.ReLU6(), *conv_bn(c, c))
        self.act = nn.ReLU6()

    def forward(self, x):
        return self.act(self.body(x) + x)


class ResNet6(nn.Sequential):
    """(N,1,8,8) -> Conv(16)+BN+ReLU6, two residual blocks (ReLU6), GlobalAveragePool, Linear(16->10)."""

    def __init__(self) -> None:
        super().__init__(*conv_bn(1, 16), nn.ReLU6(), ResBlock6(16), ResBlock6(16),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (t) + BN + ReLU6, depthwise 3x3 (stride s) + BN + ReLU6,
    1x1 project + BN (linear), identity Add when the shape stays."""

    def __init__(self, cin: int, cout: int, stride: int, t: int, act: type[nn.Module]) -> None:
        super().__init__()
        mid = cin * t
        self.body = nn.Sequential(*conv_bn(cin, mid, 1), act(), *conv_bn(mid, mid, 3, stride, groups=mid), act(),
                                  *conv_bn(mid, cout, 1))
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.skip else y


class MobileNetV2Small(nn.Sequential):
    """(N,1,28,28) -> Conv(16, stride 2)+BN+act, inverted residual blocks (16->16, 16->24 s2, 24->24,
    24->32 s2), 1x1 Conv(64)+BN+act, GlobalAveragePool, Linear(64->10)."""

    def __init__(self, act: type[nn.Module] = nn.ReLU6) -> None:
        super().__init__(*conv_bn(1, 16, 3, 2), act(),
                         InvertedResidual(16, 16, 1, 4, act), InvertedResidual(16, 24, 2, 4, act),
                         InvertedResidual(24, 24, 1, 4, act), InvertedResidual(24, 32, 2, 4, act),
                         *conv_bn(32, 64, 1), act(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


class MobileNetV2SmallRelu(MobileNetV2Small):
    def __init__(self) -> None:
        super().__init__(nn.ReLU)


class SqueezeExcite(nn.Module):
    """Channel gate: GlobalAveragePool, 1x1 Conv (c -> c/r) + ReLU, 1x1 Conv (c/r -> c) + Sigmoid,
    times the input map (1x1 convolutions rather than Linear so the gate keeps its (N,C,1,1) shape
    and the Mul exports as a (1,C,1,1) x (1,C,H,W) broadcast, the channel_mul PE's form)."""

    def __init__(self, c: int, r: int = 4) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // r, 1), nn.ReLU(),
                                  nn.Conv2d(c // r, c, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x)


class SENet(nn.Sequential):
    """(N,1,28,28) -> Conv(16, stride 2)+BN+ReLU, Conv(32)+BN+ReLU + SE, Conv(48, stride 2)+BN+ReLU + SE,
    1x1 Conv(64)+BN+ReLU, GlobalAveragePool, Linear(64->10)."""

    def __init__(self) -> None:
        super().__init__(*conv_bn(1, 16, 3, 2), nn.ReLU(), *conv_bn(16, 32), nn.ReLU(), SqueezeExcite(32),
                         *conv_bn(32, 48, 3, 2), nn.ReLU(), SqueezeExcite(48), *conv_bn(48, 64, 1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


SPECS = {
    "resnet6_digits": base.Spec(ResNet6, "digits", (1, 8, 8), "digits residual CNN with ReLU6: Conv(16)+BN+ReLU6, "
                                "2 x [Conv3x3+BN+ReLU6, Conv3x3+BN, Add, ReLU6], GAP, Linear(16->10)", epochs=30),
    "mbv2_mnist": base.Spec(MobileNetV2Small, "mnist", (1, 28, 28), "MobileNetV2-style MNIST net, ReLU6: stem "
                            "Conv(16,s2), 4 inverted residual blocks (expand 4, depthwise 3x3), Conv1x1(64), GAP, "
                            "Linear(64->10)", epochs=8, shift=2),
    "mbv2relu_mnist": base.Spec(MobileNetV2SmallRelu, "mnist", (1, 28, 28), "mbv2_mnist with ReLU in place of "
                                "ReLU6", epochs=8, shift=2),
    "se_mnist": base.Spec(SENet, "mnist", (1, 28, 28), "squeeze-excitation MNIST CNN: Conv(16,s2)+ReLU, "
                          "Conv(32)+ReLU+SE, Conv(48,s2)+ReLU+SE (SE: GAP, 1x1 Conv c->c/4, ReLU, 1x1 Conv "
                          "c/4->c, Sigmoid, Mul), Conv1x1(64)+ReLU, GAP, Linear(64->10)", epochs=20, shift=2),
}
DATA_FILES = {"mnist": "mnist_cnn", "digits": "digits_cnn"}  # the example model whose calib/test files fit


def main(argv: list[str]) -> int:
    names = argv or list(SPECS)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    loaders = {"mnist": base.load_mnist, "digits": base.load_digits}
    index = json.loads((HERE / "models.json").read_text()) if (HERE / "models.json").is_file() else {}
    for name in names:
        spec = SPECS[name]
        ds = loaders[spec.dataset](base.CORPUS_DATA)
        torch.manual_seed(base.SEED)
        net = spec.net()
        base.fit(net, base.inputs(ds, ds["train"], spec.shape), ds["y"][ds["train"]], spec)
        path = HERE / f"{name}.onnx"
        base.export(net, spec.shape, path)
        x_test, y_test = base.inputs(ds, ds["test"], spec.shape), ds["y"][ds["test"]]
        correct, acc = ort_accuracy(path, x_test, y_test, "input")
        print(f"{name}: onnxruntime test accuracy {acc:.2f}% ({correct}/{len(y_test)})")
        index[name] = {"description": spec.description, "file": path.name,
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                       "data_files_of": DATA_FILES[spec.dataset], "test_accuracy": acc,
                       "training": {"epochs": spec.epochs, "lr": spec.lr, "shift": spec.shift, "seed": base.SEED,
                                    "torch": torch.__version__},
                       "data_licence": LICENCES[spec.dataset]}
    (HERE / "models.json").write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
