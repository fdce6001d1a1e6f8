"""Several dataflow segments in one bundle, with host steps between them.

docs/architecture.md, "Several dataflow segments", describes the whole.

A float op between hardware nodes (a Softmax over the channels in the middle of a network), or a
layer the user sends to the host (``compile(host_layers=...)``), does not end the accelerated part:
the dataflow engine then compiles each stretch of hardware layers between such host steps as its own
*segment* — its own fold within a share of the board, its own generated project — and the session
runs segment 0 → host step(s) → segment 1 → ... on any backend that runs a segment.

- :mod:`.split`: the quantised model cut into segment models and the order of the steps.
- :mod:`.build`: compile's branch: the budget shares, each segment's fold and its bundle under
  ``segments/<k>/`` of the model's bundle, the manifest's ``segments`` section.
- :mod:`.check`: that section checked as untrusted input, and the steps a runtime follows.
"""
from .split import SegmentPlan, split_segments

__all__ = ["SegmentPlan", "split_segments"]
