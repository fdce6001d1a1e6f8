"""The PyTorch definitions of the example networks (needed by ``train.py`` only).

Each class documents the graph it exports to with the legacy ONNX exporter in eval mode, which
folds every BatchNorm that follows a convolution into that convolution.
"""
from __future__ import annotations

import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    """3x3 'same' convolution, BatchNorm, ReLU."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class MnistCnn(nn.Sequential):
    """(N,1,28,28) -> Conv(8)+BN+ReLU, MaxPool2, Conv(16)+BN+ReLU, MaxPool2, Flatten, Linear(784->10).

    Exports to Conv, Relu, MaxPool, Conv, Relu, MaxPool, Flatten, Gemm.
    """

    def __init__(self) -> None:
        super().__init__(
            *conv_bn_relu(1, 8), nn.MaxPool2d(2),
            *conv_bn_relu(8, 16), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
        )


class DigitsCnn(nn.Sequential):
    """(N,1,8,8) -> Conv(8)+BN+ReLU, Conv(16)+BN+ReLU, MaxPool2, Flatten, Linear(256->10).

    Exports to Conv, Relu, Conv, Relu, MaxPool, Flatten, Gemm.
    """

    def __init__(self) -> None:
        super().__init__(
            *conv_bn_relu(1, 8),
            *conv_bn_relu(8, 16), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
        )


class Mlp(nn.Sequential):
    """(N,784) -> Linear(64)+BatchNorm1d+ReLU, Linear(32)+ReLU, Linear(10).

    Exports to Gemm, BatchNormalization, Relu, Gemm, Relu, Gemm: a BatchNorm after a Gemm is not
    folded by the exporter, so this model exercises the compiler's own BatchNorm folding.
    """

    def __init__(self) -> None:
        super().__init__(
            nn.Linear(784, 64), nn.BatchNorm1d(64), nn.ReLU(),
            nn.Linear(64, 32), nn.ReLU(),
            nn.Linear(32, 10),
        )


class DsBlock(nn.Module):
    """Depthwise-separable residual block.

    depthwise 3x3 (groups=cin, stride s) + BN + ReLU, pointwise 1x1 (cin->cout) + BN, plus a shortcut
    (identity, or 1x1 stride-s conv + BN when the shape changes), Add, ReLU.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )
        if stride == 1 and cin == cout:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ResnetDs(nn.Sequential):
    """(N,1,28,28) -> stem Conv(32)+BN+ReLU, MaxPool2, DsBlock(32->32), DsBlock(32->64, stride 2),
    GlobalAveragePool, Flatten, Linear(64->10).

    Exports to Conv, Relu, MaxPool, two residual blocks (depthwise Conv with group=C, Relu, 1x1 Conv,
    Add, Relu; the second with a strided 1x1 Conv on the shortcut), GlobalAveragePool, Flatten, Gemm.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__(
            *conv_bn_relu(1, width), nn.MaxPool2d(2),
            DsBlock(width, width),
            DsBlock(width, 2 * width, stride=2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 10),
        )
