"""ShuffleNetV2 (torchvision's architecture) with random weights, built with onnx.helper in the form
PyTorch's exporter gives it in eval mode: BatchNorms folded into the convolutions, ``chunk(2, dim=1)``
as a Split, ``channel_shuffle`` as Reshape(N, 2, C/2, H, W) → Transpose(0, 2, 1, 3, 4) →
Reshape(N, C, H, W) with constant shapes, ``x.mean([2, 3])`` as a ReduceMean."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: torchvision's stage output channels per width multiplier
WIDTHS = {0.5: [24, 48, 96, 192, 1024], 1.0: [24, 116, 232, 464, 1024]}
REPEATS = [4, 8, 4]


class _Builder:
    def __init__(self, seed: int):
        self.r = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], {}, 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}{self.n}"

    def conv(self, x, cin, cout, k=1, stride=1, group=1, relu=True):
        w, b, y = self.name("w"), self.name("b"), self.name("conv")
        fan_in = cin // group * k * k
        self.inits[w] = (self.r.standard_normal((cout, cin // group, k, k)) * (2.0 / fan_in) ** 0.5).astype(np.float32)
        self.inits[b] = (self.r.standard_normal(cout) * 0.05).astype(np.float32)
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], name=y, kernel_shape=[k, k], strides=[stride] * 2,
                                           pads=[k // 2] * 4, group=group))
        if not relu:
            return y
        out = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [y], [out], name=out))
        return out

    def const(self, values) -> str:
        name = self.name("shape")
        self.inits[name] = np.array(values, np.int64)
        return name

    def shuffle(self, x, c, hw):
        v, t, y = self.name("view"), self.name("transpose"), self.name("shuffle")
        self.nodes += [helper.make_node("Reshape", [x, self.const([1, 2, c // 2, hw, hw])], [v], name=v),
                       helper.make_node("Transpose", [v], [t], name=t, perm=[0, 2, 1, 3, 4]),
                       helper.make_node("Reshape", [t, self.const([1, c, hw, hw])], [y], name=y)]
        return y

    def unit(self, x, cin, cout, stride, hw):
        half = cout // 2
        if stride == 1:
            a, b = self.name("keep"), self.name("work")
            self.nodes.append(helper.make_node("Split", [x, self.const([half, half])], [a, b], name=self.name("split"),
                                               axis=1))
            b = self.conv(b, half, half)
        else:
            a = self.conv(self.conv(x, cin, cin, 3, 2, cin, relu=False), cin, half)
            b = self.conv(x, cin, half)
        b = self.conv(b, half, half, 3, stride, half, relu=False)
        b = self.conv(b, half, half)
        cat = self.name("concat")
        self.nodes.append(helper.make_node("Concat", [a, b], [cat], name=cat, axis=1))
        return self.shuffle(cat, cout, hw)


def shufflenet_v2(width: float = 0.5, size: int = 224, classes: int = 1000, seed: int = 0) -> onnx.ModelProto:
    ch = WIDTHS[width]
    b = _Builder(seed)
    x = b.conv("x", 3, ch[0], 3, 2)
    pool = b.name("maxpool")
    b.nodes.append(helper.make_node("MaxPool", [x], [pool], name=pool, kernel_shape=[3, 3], strides=[2, 2],
                                    pads=[1, 1, 1, 1]))
    x, cin, hw = pool, ch[0], -(-size // 4)
    for cout, repeats in zip(ch[1:4], REPEATS):
        hw = -(-hw // 2)
        x = b.unit(x, cin, cout, 2, hw)
        for _ in range(repeats - 1):
            x = b.unit(x, cout, cout, 1, hw)
        cin = cout
    x = b.conv(x, cin, ch[4])
    mean = b.name("mean")
    b.nodes.append(helper.make_node("ReduceMean", [x], [mean], name=mean, axes=[2, 3], keepdims=0))
    w = b.name("fc_w")
    b.inits[w] = (b.r.standard_normal((classes, ch[4])) * 0.03).astype(np.float32)
    b.inits["fc_b"] = np.zeros(classes, np.float32)
    b.nodes.append(helper.make_node("Gemm", [mean, w, "fc_b"], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(b.nodes, f"shufflenet_v2_x{width}",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
                              [numpy_helper.from_array(v, k) for k, v in b.inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m
