"""Export small PyTorch models with both ONNX exporters into tests/data/dynamo/.

The .onnx files are committed, so the tests need no torch; run this again only to change them,
with torch in a separate environment:

    python3 -m venv /tmp/torch-env && /tmp/torch-env/bin/pip install torch==2.13.0 onnx onnxscript numpy
    /tmp/torch-env/bin/python tests/data/make_dynamo_models.py            # the committed set
    /tmp/torch-env/bin/python tests/data/make_dynamo_models.py --all OUT  # every model x exporter x opset

The committed set is every model below but two exported by the default exporter of torch 2.13
(``dynamo=True``, opset 18), in the forms it writes: a spatial mean (``x.mean((2, 3))`` and
``AdaptiveAvgPool2d(1)`` alike) is a ``ReduceMean`` with the axes as an input, ``torch.flatten`` and
``view`` are a ``Reshape`` to a constant shape, BatchNorm is already folded, ``torch.split`` is a
``Split`` with the sizes as an input and ``torch.chunk`` one with ``num_outputs``. mnist_cnn keeps
its weights in an external ``.onnx.data`` file, as the dynamo exporter writes large models. Three
TorchScript (``dynamo=False``) exports at opsets 13 and 17 sit beside them (ReduceMean with an
``axes`` attribute, ``view`` through Shape → Gather → Concat, ``torch.chunk`` as two ``Slice``). Not committed: mlp (200 KB of
weights; it compiled from either exporter before any change here) and chunk_concat (a Split in the
middle of the network runs on the host, so compilation refuses it; the TorchScript exporter writes
``Slice`` nodes for it). Weights are random (seeded): these models test import and compilation,
not accuracy. The example networks come from models/nets.py.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import warnings

import torch
from torch import nn

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "models"))
import nets


def randomise_bn(model: nn.Module) -> nn.Module:
    """Running statistics far from (0, 1), so a wrong BatchNorm fold shows in the outputs."""
    for bn in model.modules():
        if isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(bn.weight, 0.5, 1.5)
            nn.init.uniform_(bn.bias, -0.2, 0.2)
    return model


class ResidualMean(nn.Module):
    """Conv+BN+ReLU6 stem, a residual block of two convolutions with ReLU6, then a global average
    pool written ``x.mean((2, 3))`` (or ``AdaptiveAvgPool2d(1)`` + ``flatten``) and a Linear."""

    shape = (3, 16, 16)

    def __init__(self, adaptive: bool = False):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6())
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
                                  nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.pool = nn.AdaptiveAvgPool2d(1) if adaptive else None
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stem(x)
        x = torch.clamp(x + self.body(x), 0, 6)
        x = torch.flatten(self.pool(x), 1) if self.pool is not None else x.mean((2, 3))
        return self.fc(x)


class ResidualAdaptive(ResidualMean):
    def __init__(self):
        super().__init__(adaptive=True)


class InvertedResidual(nn.Module):
    """A MobileNetV2 block: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project, residual add;
    then ``x.mean((2, 3), keepdim=True)`` and ``view(N, -1)`` into a Linear."""

    shape = (8, 12, 12)

    def __init__(self, c: int = 8, expand: int = 3):
        super().__init__()
        h = c * expand
        self.block = nn.Sequential(
            nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
            nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
            nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))
        self.fc = nn.Linear(c, 4)

    def forward(self, x):
        y = (x + self.block(x)).mean((2, 3), keepdim=True)
        return self.fc(y.view(y.size(0), -1))


class FlattenView(nn.Module):
    """A flat (N, 72) input ``view``-ed as (N, 2, 6, 6) images, Conv + ReLU, ``torch.flatten`` into
    a Linear."""

    shape = (72,)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 6 * 6, 4)

    def forward(self, x):
        y = torch.relu(self.conv(x.view(-1, 2, 6, 6)))
        return self.fc(torch.flatten(y, 1))


class SplitHeads(nn.Module):
    """Conv + ReLU, global mean, a Linear whose output ``torch.split`` cuts into a box (4) and a
    score part (4), which ``torch.chunk`` halves: three outputs, made by Splits on the host."""

    shape = (3, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        y = self.fc(torch.relu(self.conv(x)).mean((2, 3)))
        box, score = torch.split(y, [4, 4], dim=1)
        a, b = torch.chunk(score, 2, dim=1)
        return box, a, b


class ChunkConcat(nn.Module):
    """Conv, ``torch.chunk`` into two halves along the channels (a Split mid-graph), each half
    through its own activation, Concat, a 1x1 Conv and a global mean."""

    shape = (4, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.mix = nn.Conv2d(8, 6, 1)

    def forward(self, x):
        a, b = torch.chunk(self.conv(x), 2, dim=1)
        y = self.mix(torch.cat([torch.relu(a), torch.nn.functional.relu6(b)], 1))
        return y.mean((2, 3))


MODELS = {
    "mnist_cnn": (nets.MnistCnn, (1, 28, 28)),
    "digits_cnn": (nets.DigitsCnn, (1, 8, 8)),
    "mlp": (nets.Mlp, (784,)),
    "resnet_ds": (nets.ResnetDs, (1, 28, 28)),
    "residual_mean": (ResidualMean, ResidualMean.shape),
    "residual_adaptive": (ResidualAdaptive, ResidualMean.shape),
    "inverted_residual": (InvertedResidual, InvertedResidual.shape),
    "flatten_view": (FlattenView, FlattenView.shape),
    "split_heads": (SplitHeads, SplitHeads.shape),
    "chunk_concat": (ChunkConcat, ChunkConcat.shape),
}

#: what is committed: (model, dynamo, opset, external data)
COMMITTED = [*((m, True, 18, False) for m in MODELS if m not in ("mnist_cnn", "mlp", "chunk_concat")),
             ("mnist_cnn", True, 18, True),
             ("inverted_residual", False, 13, False), ("residual_mean", False, 17, False),
             ("split_heads", False, 13, False)]


def file_name(model: str, dynamo: bool, opset: int) -> str:
    return f"{model}_{'dynamo' if dynamo else 'torchscript'}_op{opset}.onnx"


def export(model: str, dynamo: bool, opset: int, folder: pathlib.Path, external: bool = False) -> pathlib.Path:
    cls, shape = MODELS[model]
    torch.manual_seed(sum(map(ord, model)))
    net = randomise_bn(cls()).eval()
    x = torch.randn(2, *shape)
    path = folder / file_name(model, dynamo, opset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            batch = torch.export.Dim("batch", min=1, max=1024)
            prog = torch.onnx.export(net, (x,), dynamo=True, opset_version=opset, input_names=["x"],
                                     dynamic_shapes=({0: batch},))
            prog.save(str(path), external_data=external)
        else:
            torch.onnx.export(net, (x,), str(path), dynamo=False, opset_version=opset, input_names=["x"],
                              dynamic_axes={"x": {0: "batch"}})
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--all", metavar="OUT", type=pathlib.Path,
                    help="export every model with both exporters at opsets 13, 17, 18 into OUT")
    args = ap.parse_args(argv)
    if args.all:
        args.all.mkdir(parents=True, exist_ok=True)
        for model in MODELS:
            for dynamo in (True, False):
                for opset in (13, 17, 18):
                    try:
                        print(export(model, dynamo, opset, args.all))
                    except Exception as e:  # noqa: BLE001 - report every combination the exporter refuses
                        print(f"{file_name(model, dynamo, opset)}: export failed: {type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}")
        return 0
    out = HERE / "dynamo"
    out.mkdir(exist_ok=True)
    for model, dynamo, opset, external in COMMITTED:
        print(export(model, dynamo, opset, out, external))
    return 0


if __name__ == "__main__":
    sys.exit(main())
