"""The intermediate representation: graph, tensors, text form, verifier, float executor."""
from .execute import run_graph
from .graph import Graph, Node, TensorInfo
from .verify import verify

__all__ = ["Graph", "Node", "TensorInfo", "run_graph", "verify"]
