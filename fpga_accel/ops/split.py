import numpy as np

from .base import REMOVED, Example, Op, register
from .family.attrs import normalize_axis


@register
class Split(Op):
    """Split one tensor into consecutive parts along ``axis``: sizes from the ``split`` attribute
    (opset < 13) or constant input (opset ≥ 13); else ``num_outputs`` parts (opset 18: all of
    ceil(n / parts) elements but a smaller last one); else equal parts, one per output."""

    op_type = "Split"
    placement = REMOVED
    notes = ("sizes as attribute or constant input, num_outputs, equal parts; one Slice per part "
             "(split_to_slices): in hardware a fork into channel_slice PEs")
    attrs = {"axis": 0, "split": None, "num_outputs": None}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if node.input(1) and not graph.is_const(node.input(1)):
            problems.append("the split sizes are computed at run time; only constant sizes are supported")
        if node.attrs["num_outputs"] is not None and node.attrs["num_outputs"] != len(node.outputs):
            problems.append(f"num_outputs={node.attrs['num_outputs']} but the node has {len(node.outputs)} outputs")
        return problems

    def sizes(self, node, split, n: int) -> list[int]:
        """The length of every part along an axis of length ``n``."""
        parts = len(node.outputs)
        if split is None:
            split = node.attrs["split"]
        if split is not None and np.size(split):
            sizes = [int(s) for s in np.ravel(split)]
        elif node.attrs["num_outputs"] is not None:
            step = -(-n // parts)
            sizes = [step] * (parts - 1) + [n - step * (parts - 1)]
        elif n % parts == 0:
            sizes = [n // parts] * parts
        else:
            raise self.fail(node, f"an axis of length {n} does not split into {parts} equal parts; "
                                  f"give the sizes (input 'split') or num_outputs")
        if len(sizes) != parts or sum(sizes) != n or min(sizes) < 0:
            raise self.fail(node, f"sizes {sizes} do not split an axis of length {n} into {parts} parts")
        return sizes

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        axis = normalize_axis(node, node.attrs["axis"], len(x.shape))
        split = graph.const(node.input(1)) if node.input(1) else None
        sizes = self.sizes(node, split, x.shape[axis])
        return [(x.shape[:axis] + (s,) + x.shape[axis + 1:], x.dtype) for s in sizes]

    def run(self, node, inputs):
        x = inputs[0]
        axis = normalize_axis(node, node.attrs["axis"], x.ndim)
        sizes = self.sizes(node, inputs[1] if len(inputs) > 1 else None, x.shape[axis])
        return np.split(x, np.cumsum(sizes)[:-1], axis=axis)

    def examples(self):
        x = np.random.default_rng(71).standard_normal((2, 6, 5)).astype(np.float32)
        s = lambda *v: np.array(v, np.int64)
        return [Example({"axis": 1}, [x], n_outputs=3, name="equal"),
                Example({"axis": 1}, [x, s(1, 5)], const=(1,), n_outputs=2, name="sizes_input"),
                Example({"axis": -1}, [x, s(2, 0, 3)], const=(1,), n_outputs=3, name="empty_part"),
                Example({"axis": 2, "num_outputs": 2}, [x], opset=18, n_outputs=2, name="num_outputs_uneven"),
                Example({"axis": 1, "num_outputs": 3}, [x], opset=18, n_outputs=3, name="num_outputs"),
                Example({"axis": 1}, [x, s(4, 2)], const=(1,), opset=18, n_outputs=2, name="sizes_input_18"),
                Example({"axis": 1, "split": [2, 4]}, [x], opset=11, n_outputs=2, name="attr_sizes")]
