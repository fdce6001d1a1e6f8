"""What an emitter sees of the model: shapes, element types and a place for its constants."""
from __future__ import annotations

from dataclasses import dataclass, field

from .c import const_array, ctype_of, int_ctype


@dataclass
class LayerContext:
    """One layer being written: ``prefix`` names its constants, ``decls`` collects them."""

    qmodel: object
    layer: object
    prefix: str
    decls: list[str] = field(default_factory=list)

    def shape(self, tensor: str) -> tuple[int, ...]:
        return tuple(int(n) for n in self.qmodel.tensors[tensor].shape)

    def qparams(self, tensor: str):
        return self.qmodel.tensors[tensor].qparams

    def ctype(self, tensor: str) -> str:
        return ctype_of(self.qparams(tensor).qtype)

    @property
    def in_shapes(self) -> list[tuple[int, ...]]:
        return [self.shape(t) for t in self.layer.inputs]

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.shape(self.layer.outputs[0])

    @property
    def out_ctype(self) -> str:
        return self.ctype(self.layer.outputs[0])

    def const(self, suffix: str, values, ctype: str | None = None) -> str:
        """Declare ``__constant`` array ``<prefix>_<suffix>`` holding ``values``; its name."""
        name = f"{self.prefix}_{suffix}"
        self.decls.append(const_array(name, values, ctype or int_ctype(values)))
        return name
