"""Export the small PyTorch models in tests/data/pytorch_*.onnx.

The .onnx files are committed, so the tests need no torch; run this again only to change them:

    pip install torch && python tests/data/make_pytorch_models.py

Each model has a dynamic batch dimension ("batch") and uses the TorchScript-based exporter
(``dynamo=False``) at opset 13, which writes the forms older deployments still meet: Gemm with
transB for Linear, Shape→Gather→Unsqueeze→Concat→Reshape for ``x.view(x.size(0), -1)``, and
separate BatchNormalization nodes.
"""
from __future__ import annotations

import pathlib

import torch
from torch import nn

HERE = pathlib.Path(__file__).resolve().parent
OPSET = 13


class Linear(nn.Module):
    """Linear → ReLU → Linear: two Gemm (transB=1) nodes."""

    shape = (16,)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))

    def forward(self, x):
        return self.net(x)


class MatMulAdd(nn.Module):
    """``x @ W + b`` written out: MatMul and Add instead of Gemm."""

    shape = (10,)

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(10, 6))
        self.b = nn.Parameter(torch.randn(6))

    def forward(self, x):
        return torch.relu(torch.matmul(x, self.w) + self.b)


class FlattenNet(nn.Module):
    """Conv → ReLU → Flatten → Linear."""

    shape = (2, 6, 6)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.fc = nn.Linear(3 * 4 * 4, 4)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


class ViewNet(nn.Module):
    """Conv → ``x.view(x.size(0), -1)`` → Linear: the shape is computed from the input at run time."""

    shape = (2, 6, 6)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 6 * 6, 4)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.fc(y.view(y.size(0), -1))


class ConvBnReluPool(nn.Module):
    """Conv → BatchNorm → ReLU → MaxPool, twice, then a Linear head."""

    shape = (3, 12, 12)

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(6 * 2 * 2, 3)
        for bn in (m for m in self.features if isinstance(m, nn.BatchNorm2d)):
            # running statistics far from (0, 1), so a wrong BatchNorm shows in the outputs
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(bn.weight, 0.5, 1.5)
            nn.init.uniform_(bn.bias, -0.2, 0.2)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


MODELS = {"pytorch_linear": Linear, "pytorch_matmul_add": MatMulAdd, "pytorch_flatten": FlattenNet,
          "pytorch_view": ViewNet, "pytorch_conv_bn_relu_pool": ConvBnReluPool}


def export(name: str, cls) -> pathlib.Path:
    torch.manual_seed(sum(map(ord, name)))
    model = cls().eval()
    x = torch.randn(2, *cls.shape)
    path = HERE / f"{name}.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=OPSET,
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                      # keep BatchNormalization nodes: folding them is the compiler's job
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    return path


if __name__ == "__main__":
    for name, cls in MODELS.items():
        print(export(name, cls))
