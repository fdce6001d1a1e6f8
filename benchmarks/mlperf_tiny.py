"""The MLPerf Tiny reference architectures as ONNX graphs with random weights (onnx.helper, no torch).

The layer lists follow the MLPerf Tiny v1.x reference Keras models (github.com/mlcommons/tiny,
``benchmark/training/*/keras_model.py``): BatchNorm is folded into the convolutions, as an
exported inference graph has it, and Keras ``padding="same"`` becomes the pads a tf2onnx export
writes (the extra row/column at the bottom/right). The weights are random (He initialisation,
fixed seed): the graphs are for speed and resource estimates, not accuracy. Softmax heads are left
out (they run on the host).

    python benchmarks/mlperf_tiny.py OUTDIR          # writes OUTDIR/<name>.onnx and <name>_calib.npy
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Graph:
    """A small builder: each call adds nodes and returns the name of its output tensor."""

    def __init__(self, name: str, seed: int):
        self.name, self.nodes, self.inits, self.rng, self.n = name, [], [], np.random.default_rng(seed), 0

    def _id(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}"

    def _const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def conv(self, x: str, cin: int, cout: int, k, stride=1, pads=None, group: int = 1, relu: bool = True) -> str:
        kh, kw = (k, k) if isinstance(k, int) else k
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        fan_in = cin // group * kh * kw
        name = self._id("conv")
        w = self._const(f"{name}.w", self.rng.normal(0, np.sqrt(2 / fan_in), (cout, cin // group, kh, kw)))
        b = self._const(f"{name}.b", self.rng.normal(0, 0.05, cout))
        pads = pads if pads is not None else [kh // 2, kw // 2, kh // 2, kw // 2]
        self.nodes.append(helper.make_node("Conv", [x, w, b], [name], name=name, kernel_shape=[kh, kw],
                                           strides=[sh, sw], pads=pads, group=group))
        return self.relu(name) if relu else name

    def dense(self, x: str, cin: int, cout: int, relu: bool = True) -> str:
        name = self._id("gemm")
        w = self._const(f"{name}.w", self.rng.normal(0, np.sqrt(2 / cin), (cout, cin)))
        b = self._const(f"{name}.b", self.rng.normal(0, 0.05, cout))
        self.nodes.append(helper.make_node("Gemm", [x, w, b], [name], name=name, transB=1))
        return self.relu(name) if relu else name

    def relu(self, x: str) -> str:
        name = self._id("relu")
        self.nodes.append(helper.make_node("Relu", [x], [name], name=name))
        return name

    def add(self, a: str, b: str) -> str:
        name = self._id("add")
        self.nodes.append(helper.make_node("Add", [a, b], [name], name=name))
        return name

    def avgpool(self, x: str, k) -> str:
        name = self._id("avgpool")
        self.nodes.append(helper.make_node("AveragePool", [x], [name], name=name, kernel_shape=list(k),
                                           strides=list(k)))
        return name

    def flatten(self, x: str) -> str:
        name = self._id("flatten")
        self.nodes.append(helper.make_node("Flatten", [x], [name], name=name, axis=1))
        return name

    def model(self, x_shape: list, out: str, n_out: int) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, self.name,
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *x_shape])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", n_out])], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="mlperf_tiny.py")
        onnx.checker.check_model(m)
        return m


SAME_S2 = [0, 0, 1, 1]  # Keras "same", 3x3 stride 2 on an even size: the extra row/column at the end


def resnet8() -> onnx.ModelProto:
    """Image classification, CIFAR-10 32x32x3: ResNet-8 (three residual stacks of 16/32/64)."""
    g = Graph("resnet8", 8)
    x = g.conv("input", 3, 16, 3)
    y = g.conv(g.conv(x, 16, 16, 3), 16, 16, 3, relu=False)
    x = g.relu(g.add(x, y))
    for cin, cout in ((16, 32), (32, 64)):
        y = g.conv(g.conv(x, cin, cout, 3, 2, SAME_S2), cout, cout, 3, relu=False)
        x = g.relu(g.add(g.conv(x, cin, cout, 1, 2, [0, 0, 0, 0], relu=False), y))
    out = g.dense(g.flatten(g.avgpool(x, (8, 8))), 64, 10, relu=False)
    return g.model([3, 32, 32], out, 10)


def ds_cnn() -> onnx.ModelProto:
    """Keyword spotting, 49x10 MFCC: DS-CNN (10x4 stride-2 conv, four depthwise-separable blocks of 64)."""
    g = Graph("ds_cnn", 12)
    x = g.conv("input", 1, 64, (10, 4), (2, 2), [4, 1, 5, 1])  # "same" on 49x10 -> 25x5
    for _ in range(4):
        x = g.conv(g.conv(x, 64, 64, 3, group=64), 64, 64, 1)
    out = g.dense(g.flatten(g.avgpool(x, (25, 5))), 64, 12, relu=False)
    return g.model([1, 49, 10], out, 12)


def mobilenet_v1_025() -> onnx.ModelProto:
    """Visual wake words, 96x96x3: MobileNetV1 with width 0.25."""
    g = Graph("mobilenet_v1_025_vww", 2)
    x = g.conv("input", 3, 8, 3, 2, SAME_S2)
    c = 8
    for cout, stride in ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1),
                         (128, 1), (128, 1), (256, 2), (256, 1)):
        x = g.conv(x, c, c, 3, stride, SAME_S2 if stride == 2 else None, group=c)
        x = g.conv(x, c, cout, 1)
        c = cout
    out = g.dense(g.flatten(g.avgpool(x, (3, 3))), 256, 2, relu=False)
    return g.model([3, 96, 96], out, 2)


def fc_autoencoder() -> onnx.ModelProto:
    """Anomaly detection, 640 log-mel features: the dense autoencoder (128 x4, 8, 128 x4, 640)."""
    g = Graph("fc_autoencoder", 640)
    x, c = "input", 640
    for cout in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x, c = g.dense(x, c, cout), cout
    out = g.dense(x, c, 640, relu=False)
    return g.model([640], out, 640)


MODELS = {"resnet8": resnet8, "ds_cnn": ds_cnn, "mobilenet_v1_025_vww": mobilenet_v1_025,
          "fc_autoencoder": fc_autoencoder}


def calibration(model: onnx.ModelProto, n: int = 32, seed: int = 0) -> np.ndarray:
    """Calibration inputs: images in [0, 1) for the image networks, unit normal features otherwise."""
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    rng = np.random.default_rng(seed)
    x = rng.random((n, *dims)) if len(dims) == 3 and dims[0] == 3 else rng.normal(0, 1, (n, *dims))
    return x.astype(np.float32)


def write(outdir: Path, names=None) -> dict[str, tuple[Path, Path]]:
    """Write each model and its calibration inputs into ``outdir``; returns name -> (onnx, npy)."""
    outdir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in names or MODELS:
        m = MODELS[name]()
        path, calib = outdir / f"{name}.onnx", outdir / f"{name}_calib.npy"
        onnx.save(m, path)
        np.save(calib, calibration(m))
        files[name] = (path, calib)
    return files


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, (p, _) in write(Path(sys.argv[1])).items():
        print(name, p)
