"""The intermediate representation: graph, tensors, text form, verifier, float executor; the op
registry (``registry.py``, filled by ``fpga_accel.ops``) and the quantisation parameters tensors
carry (``qtype.py``, ``qparams.py``). Nothing here imports a layer above it."""
from .execute import run_graph
from .graph import Graph, Node, TensorInfo
from .verify import verify

__all__ = ["Graph", "Node", "TensorInfo", "run_graph", "verify"]
