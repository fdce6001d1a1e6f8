import numpy as np

from .base import Example, register
from .common import FUSED_CLIP, Binary, apply_clip


@register
class Add(Binary):
    op_type = "Add"
    notes = "broadcasting; residual add rescales both inputs; a following Relu/Clip fuses as `clip`"
    attrs = {**FUSED_CLIP}

    def fn(self, a, b):
        return np.add(a, b)

    def run(self, node, inputs):
        return [apply_clip(node, y) for y in super().run(node, inputs)]

    def examples(self):
        r = np.random.default_rng(30)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4, 5), f(2, 3, 4, 5)], name="same_shape"),
                Example({}, [f(2, 3, 4, 5), f(3, 1, 1)], const=(1,), name="bias_broadcast"),
                Example({}, [f(2, 1, 4), f(3, 1)], name="two_way_broadcast"),
                Example({}, [np.arange(6, dtype=np.int64).reshape(2, 3), np.array(5, np.int64)], const=(1,), name="int64_scalar"),
                Example({}, [f(2, 3), f(3)], opset=7, name="opset7")]
