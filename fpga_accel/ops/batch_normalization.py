import numpy as np

from .base import REMOVED, Example, Op, register
from .family.attrs import LAYOUT, channels_last

PARAMS = ("scale", "B", "mean", "var")


def channel_axis(node, rank: int) -> int:
    return rank - 1 if channels_last(node) else 1


@register
class BatchNormalization(Op):
    """Inference form: y = (x − mean) / √(var + ε) · scale + B, per channel."""

    op_type = "BatchNormalization"
    placement = REMOVED
    notes = "inference form, constant parameters; folded into the preceding Conv/Gemm or a per-channel Mul+Add"
    attrs = {"epsilon": 1e-5, "spatial": 1, "training_mode": 0, **LAYOUT}
    ignored_attrs = ("momentum",)  # only updates running statistics in training

    def check(self, node, graph):
        problems = super().check(node, graph)
        a = node.attrs
        if a["spatial"] != 1:
            problems.append(f"spatial={a['spatial']} (statistics per element) is not supported; "
                            "only spatial=1 (per channel)")
        if a["training_mode"] != 0:
            problems.append("training_mode=1 is not supported; export the model in eval/inference mode")
        if any(node.outputs[1:]):
            problems.append("the running mean/var outputs exist only in training; use output 0 alone")
        for name, i in zip(PARAMS, node.inputs[1:5]):
            if not graph.is_const(i):
                problems.append(f"{name} is not a constant (BatchNormalization is folded at compile time; "
                                "compute it in the model or export with constant statistics)")
        if len(node.inputs) != 5:
            problems.append(f"expected 5 inputs (X, scale, B, mean, var), got {len(node.inputs)}")
        elif len(graph.shape(node.inputs[0])) < 2:
            problems.append(f"input rank {len(graph.shape(node.inputs[0]))} has no channel axis")
        var = graph.const(node.input(4))
        if var is not None and not (np.asarray(var, np.float64) + float(node.attrs["epsilon"]) > 0).all():
            problems.append("var + epsilon is not positive in every channel (its square root scales the output); "
                            "the model's statistics are corrupt: export it again")
        return problems

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        c = x.shape[channel_axis(node, len(x.shape))]
        for name, i in zip(PARAMS, node.inputs[1:5]):
            if graph.shape(i) != (c,):
                raise self.fail(node, f"{name} has shape {graph.shape(i)}; expected ({c},) for {c} channels")
        return [(x.shape, x.dtype)]

    def run(self, node, inputs):
        x, scale, b, mean, var = inputs[:5]
        shape = [1] * x.ndim
        shape[channel_axis(node, x.ndim)] = -1
        per_c = lambda v: np.asarray(v, np.float64).reshape(shape)
        inv = per_c(scale) / np.sqrt(per_c(var) + node.attrs["epsilon"])
        y = (x - per_c(mean)) * inv + per_c(b)
        return [y.astype(x.dtype, copy=False)]

    def macs(self, node, graph):
        """One multiply-add per element and image, until a pass folds the node away."""
        return int(np.prod(graph.shape(node.inputs[0])[1:]))

    def examples(self):
        r = np.random.default_rng(7)
        f = lambda *s: r.standard_normal(s).astype(np.float32)

        def case(x_shape, c):
            var = r.uniform(0.5, 2.0, c).astype(np.float32)
            return [f(*x_shape), f(c), f(c), f(c), var]

        const = (1, 2, 3, 4)
        return [
            Example({}, case((2, 3, 4, 5), 3), const=const, name="nchw"),
            Example({"epsilon": 0.01, "momentum": 0.8}, case((1, 4, 6), 4), const=const, name="epsilon_1d"),
            Example({}, case((3, 5), 5), const=const, name="rank2"),
            Example({}, case((1, 2, 3, 4, 2), 2), const=const, name="rank5"),
            Example({"spatial": 1}, case((2, 3, 4, 4), 3), const=const, opset=7, name="opset7_spatial"),
            Example({"training_mode": 0}, case((2, 3, 4, 4), 3), const=const, opset=15, name="opset15"),
        ]
