"""Named flows: the ordered lists of passes the compiler runs. Every registered pass is in a flow.

A flow runs its passes in order, again and again, until none changes the graph. Every flow keeps
the graph outputs (names, shapes, layout and values up to float rounding) and leaves a graph the
IR verifier accepts.

``cleanup`` — float-preserving simplification, run right after import. Afterwards:
  - no node has only constant inputs (it was evaluated; only a node computing a graph output
    stays), and no node or constant is dead;
  - no Identity or inference Dropout is left, except an Identity that is the only way to give
    a graph input's value a graph output's name;
  - a MatMul by a constant matrix plus a constant bias on a 2-D input is a Gemm;
  - no BatchNormalization is left: it is folded into the Conv / Gemm / MatMul it follows, or
    it is a per-channel Mul + Add; per-channel Mul / Add / Sub constants after a Conv or Gemm
    are folded into its weights and bias;
  - a ReduceMean over exactly the two spatial axes of a rank-4 tensor (axes 2 and 3, or 1 and 2
    of a channels-last one: PyTorch's
    ``x.mean((2, 3))``, and ``AdaptiveAvgPool2d(1)`` from the dynamo exporter) is a
    GlobalAveragePool, followed by a Flatten when it dropped those axes;
  - a Split with constant sizes is one Slice per part (every node has one output);
  - a Reshape → Transpose → Reshape that splits an axis into (g, C/g), swaps the two and
    restores the shape (ShuffleNet's channel shuffle as PyTorch exports it) is a ChannelShuffle.

``hardware`` — ``cleanup``, then preparation for quantisation and lowering. Additionally:
  - Relu and constant Clip after an op that takes a fused clamp are that op's ``clip``;
  - for a model that carries its own quantisation, the node computing each tensor with given
    parameters is recorded before the layout passes rename tensors (``index_given``);
  - every spatial op (those with a ``layout`` attribute) on a rank 3/4 tensor is channels-last
    ("NHWC"). The Transposes this needs are moved through layout-agnostic ops (elementwise,
    Concat, Pad) wherever that lowers their number, inverse pairs cancel, and one before a
    Flatten into a Gemm/MatMul goes into the weight rows. What remains sits where the data
    really changes layout: on graph inputs given channels-first, on graph outputs (which keep
    their ONNX layout), and next to ops that care about the layout (Softmax, Reshape to 3-D,
    ...). A Keras/tf2onnx model with an NHWC input has none left at its input (the first Conv
    reads it directly). A Transpose of a graph input that moves only unit axes (one-channel
    images) is a Reshape.
"""
from __future__ import annotations

from ..errors import GraphError
from .base import run_passes

_CLEANUP = ["fold_constants", "drop_identity", "matmul_add_to_gemm", "fold_batchnorm", "fold_scale_bias",
            "reduce_mean_to_pool", "split_to_slices", "fuse_channel_shuffle"]

FLOWS: dict[str, list[str]] = {
    "cleanup": _CLEANUP,
    "hardware": _CLEANUP + ["fuse_activation", "index_given", "to_nhwc", "cancel_transposes", "transpose_sinking",
                            "transpose_into_weights", "transpose_to_reshape", "fold_constants"],
}


def run_flow(g, flow: str, check: bool = False) -> list[str]:
    """Run the named flow on ``g`` in place; returns the passes that changed it, in order."""
    if flow not in FLOWS:
        raise GraphError(f"no flow named '{flow}'; known flows: {sorted(FLOWS)}")
    return run_passes(g, FLOWS[flow], check=check)
