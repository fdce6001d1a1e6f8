"""The op interface.

One ONNX op = one file in this package, holding a subclass of :class:`Op` decorated with
:func:`register`, which enters it into the op registry (``fpga_accel/ir/registry.py``, below the
ops so the IR can look them up). Importing :mod:`fpga_accel.ops` imports every module here, so an
op exists as soon as its file does; nothing else dispatches on ``op_type``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import ModelError, Problem, UnsupportedModelError
from ..ir.graph import MAX_ELEMENTS
from ..ir.registry import all_ops, get_op, lookup, register
from ..pe.stage import LoweringError

__all__ = ["HARDWARE", "HOST", "MAX_ELEMENTS", "REMOVED", "Example", "Op", "OutInfo", "Shape", "all_ops", "get_op",
           "lookup", "register", "unsupported"]

Shape = tuple[int, ...]
OutInfo = tuple[Shape, np.dtype]

# Where an op ends up after compilation.
HARDWARE = "hardware"  # lowered to a processing element (or free in the stream, e.g. Flatten)
HOST = "host"  # runs on the host in float, before or after the accelerated part
REMOVED = "removed"  # folded away by the compiler passes (Identity, BatchNorm into Conv, ...)


@dataclass
class Example:
    """A small conformance case: one node with these attributes on these inputs.

    ``const`` lists the input positions that are initializers (weights, shapes, axes).
    Tests build a one-node ONNX model from it and compare with onnxruntime.
    """

    attrs: dict[str, Any]
    inputs: list[np.ndarray]
    const: tuple[int, ...] = ()
    opset: int = 13
    name: str = ""
    n_outputs: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class Op:
    """Base class: attributes, shape rule, float reference, and what the compiler does with it."""

    op_type: ClassVar[str]
    domain: ClassVar[str] = ""
    placement: ClassVar[str] = HARDWARE
    notes: ClassVar[str] = ""
    #: supported attributes and their defaults (ONNX defaults)
    attrs: ClassVar[dict[str, Any]] = {}
    #: attributes accepted and ignored (they do not change inference)
    ignored_attrs: ClassVar[tuple[str, ...]] = ()

    # --- import-time checks -----------------------------------------------
    def check(self, node, graph) -> list[str]:
        """Reasons this node cannot be compiled (empty when it can). Override to add more."""
        known = set(self.attrs) | set(self.ignored_attrs)
        return [f"attribute '{a}' is not supported" for a in node.attrs if a not in known]

    def upgrade(self, node, opset: int) -> None:
        """Rewrite an older opset's form of ``node`` into the form this op implements.

        Called at import with the model's opset, before the ``attrs`` defaults are filled in, for
        ops whose defaults or semantics changed between opsets without a visible difference in the
        node (Softmax before 13 flattens at ``axis``). Most ops need nothing.
        """

    # --- semantics -----------------------------------------------------------
    def infer(self, node, graph) -> list[OutInfo]:
        """Output shapes and dtypes from the input infos (and constant inputs)."""
        raise NotImplementedError

    def run(self, node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        """Float reference on numpy arrays; absent optional inputs are None."""
        raise NotImplementedError

    def const_value(self, node, graph) -> list[np.ndarray] | None:
        """Outputs when they are known at compile time (all inputs constant), else None.

        Ops whose output depends only on shapes (Shape, Size) override this.
        """
        if not all(graph.is_const(i) for i in node.inputs if i):
            return None
        return self.run(node, [graph.const(i) if i else None for i in node.inputs])

    def placement_of(self, node, graph) -> str:
        """Where this node runs: ``placement``, unless the op decides per node (MatMul by a
        constant matrix is hardware, MatMul of two computed tensors is not)."""
        return self.placement

    # --- integer semantics (DESIGN.md §3) ---------------------------------------
    #: the output is the input's integers unchanged (same scale and zero point): MaxPool,
    #: Flatten, Reshape, Pad by the zero point, ... Such ops get no requantisation.
    passthrough_q: ClassVar[bool] = False

    def quantize(self, node, ctx) -> "QLayer":  # noqa: F821
        """Lower a node of the float graph to an integer layer (constants derived from ``ctx``).

        ``ctx`` is a :class:`fpga_accel.quant.quantizer.QuantContext`. Ops without an integer
        implementation keep this default and are reported by the compiler, never run wrongly.
        """
        raise NotImplementedError

    def run_int(self, layer, inputs: list[np.ndarray]) -> np.ndarray:
        """Integer reference of a layer made by :meth:`quantize`: integers in, integers out."""
        raise NotImplementedError

    def has_int(self) -> bool:
        return type(self).quantize is not Op.quantize

    # --- hardware lowering (fpga_accel/pe) ----------------------------------
    #: the processing elements a lowered layer becomes, for `fpga-accel ops` (empty: none)
    lowering: ClassVar[str] = ""

    def lower(self, layer, ctx) -> list:
        """The processing-element stages (:class:`fpga_accel.pe.Stage`) of an integer
        layer made by :meth:`quantize`. ``ctx`` is a :class:`fpga_accel.pe.LowerContext`
        (the model's tensors and the layer's folding). Raises ``LoweringError`` saying why a layer
        cannot be lowered; the default: the op has no hardware lowering."""
        raise LoweringError(f"op {self.op_type} has no hardware lowering (no processing element implements it)")

    def has_lowering(self) -> bool:
        """Whether some layers of this op become processing elements (``lowering`` names them)."""
        return bool(self.lowering)

    # --- figures for `inspect` ------------------------------------------------
    def macs(self, node, graph) -> int:
        """Multiply-accumulates per image."""
        return 0

    def params(self, node, graph) -> int:
        """Number of constant parameters this node reads."""
        return sum(int(graph.initializers[i].size) for i in node.inputs if i in graph.initializers)

    # --- examples for the conformance tests ------------------------------------
    def examples(self) -> list[Example]:
        return []

    # helpers ------------------------------------------------------------------
    @staticmethod
    def fail(node, reason: str) -> ModelError:
        return ModelError(str(Problem(node.name, node.op_type, reason)))

    @classmethod
    def bounded(cls, node, shape) -> tuple[int, ...]:
        """``shape`` as ints, refused (naming the node) with a negative dimension or more than
        :data:`MAX_ELEMENTS` elements: call it before allocating an output."""
        dims = tuple(int(d) for d in shape)
        if any(d < 0 for d in dims):
            raise cls.fail(node, f"shape {list(dims)} has a negative dimension")
        n = math.prod(dims)  # Python ints: no overflow
        if n > MAX_ELEMENTS:
            raise cls.fail(node, f"output shape {list(dims)} has {n:,} elements, more than the {MAX_ELEMENTS:,} "
                                 f"fpga-accel handles in one tensor")
        return dims


def unsupported(node, reason: str, graph=None) -> UnsupportedModelError:
    """The error for a node whose op has an integer implementation, but not for this use of it."""
    return UnsupportedModelError([Problem(node.name, node.op_type, reason)], getattr(graph, "name", "model"))
