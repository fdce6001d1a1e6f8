"""Broadcasting checks shared by the elementwise emitters (no emitter lives here)."""
from __future__ import annotations

from ...errors import Problem, UnsupportedModelError
from .c import broadcast_index


def index_of(layer, ctx, shape, what: str, i: str = "i") -> str:
    """Index expression of an operand of ``shape`` at flat output index ``i``; an error naming the
    layer when it does not broadcast onto the output without touching the batch axis."""
    out = ctx.out_shape
    expr = broadcast_index(shape, out, i)
    if expr is None or len(shape) != len(out):
        raise UnsupportedModelError([Problem(layer.name, layer.op_type, f"{what} of shape {tuple(shape)} does not "
                                             f"broadcast onto the output {tuple(out)} within one image")], ctx.qmodel.name)
    return expr
