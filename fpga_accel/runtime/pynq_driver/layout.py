"""How a batch of hardware tensors travels on the AXI-Streams of the Zynq IP ``fa_axis``.

One stream per hardware tensor (``manifest["kernel"]["axis"]["streams"]``). An image is
``beats_per_image`` beats in NHWC order; a beat carries ``lanes`` elements of ``elem_bits`` bits
each, lane 0 in the lowest bits, two's complement for signed types, padded with zero bits up to
``tdata_bits`` (a whole number of bytes). In memory (the DMA's side) the beats follow each other,
each ``tdata_bits / 8`` bytes, little-endian, exactly as ``hls/include/fpga_accel/axis_io.h``
reads and writes them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import FpgaAccelError

TLAST_MODES = ("image", "batch")


class StreamLayoutError(FpgaAccelError):
    """A stream description in the manifest does not fit the tensor it carries."""


@dataclass(frozen=True)
class StreamLayout:
    """One AXI-Stream of the IP and the hardware tensor it carries."""

    name: str  # in0, out0, ...
    tensor: str
    direction: str  # "in" | "out"
    lanes: int
    elem_bits: int
    tdata_bits: int
    beats_per_image: int
    tlast: str  # "image": TLAST on the last beat of every image; "batch": of the run
    shape: tuple[int, ...]  # one image, without the batch axis
    dtype: np.dtype  # host storage dtype
    signed: bool

    @classmethod
    def from_manifest(cls, stream: dict, qtensor) -> StreamLayout:
        """Build from a ``manifest["kernel"]["axis"]["streams"]`` entry and its QTensor."""
        q = qtensor.qparams.qtype
        shape = tuple(int(d) for d in qtensor.shape[1:])
        lay = cls(name=str(stream["name"]), tensor=str(stream["tensor"]), direction=str(stream["direction"]),
                  lanes=int(stream["lanes"]), elem_bits=int(stream["elem_bits"]),
                  tdata_bits=int(stream["tdata_bits"]), beats_per_image=int(stream["beats_per_image"]),
                  tlast=str(stream.get("tlast", "image")), shape=shape, dtype=q.dtype, signed=q.signed)
        lay._check(q.bits)
        return lay

    def _check(self, qbits: int) -> None:
        where = f"manifest kernel.axis stream '{self.name}' (tensor '{self.tensor}')"
        elems = int(np.prod(self.shape, dtype=np.int64))
        problems = []
        if self.elem_bits != qbits:
            problems.append(f"elem_bits {self.elem_bits} but the tensor is {qbits}-bit")
        if self.lanes < 1 or self.lanes * self.beats_per_image != elems:
            problems.append(f"{self.lanes} lanes x {self.beats_per_image} beats != {elems} elements per image")
        if self.tdata_bits % 8 or self.tdata_bits < self.lanes * self.elem_bits:
            problems.append(f"tdata_bits {self.tdata_bits} must be whole bytes holding {self.lanes} x "
                            f"{self.elem_bits} bits")
        if self.tlast not in TLAST_MODES:
            problems.append(f"tlast '{self.tlast}' is not one of {TLAST_MODES}")
        if self.direction not in ("in", "out"):
            problems.append(f"direction '{self.direction}' is not 'in' or 'out'")
        if problems:
            raise StreamLayoutError(f"{where}: {'; '.join(problems)}; recompile the bundle")

    @property
    def beat_bytes(self) -> int:
        return self.tdata_bits // 8

    @property
    def image_bytes(self) -> int:
        return self.beats_per_image * self.beat_bytes

    def pack(self, x: np.ndarray) -> np.ndarray:
        """Images ``(n, *shape)`` of integers → their stream bytes, ``uint8 (n, image_bytes)``."""
        n = x.shape[0]
        words = np.ascontiguousarray(x).reshape(n, self.beats_per_image, self.lanes)
        b, used = self.elem_bits, self.lanes * self.elem_bits
        if b in (8, 16) and used == self.tdata_bits:  # whole bytes per lane: a view does it
            return words.astype(f"<i{b // 8}" if self.signed else f"<u{b // 8}").view(np.uint8).reshape(n, -1)
        u = (words.astype(np.int64) & ((1 << b) - 1)).astype(np.uint64)
        bits = ((u[..., None] >> np.arange(b, dtype=np.uint64)) & 1).astype(np.uint8)
        padded = np.zeros((n, self.beats_per_image, self.tdata_bits), np.uint8)
        padded[..., :used] = bits.reshape(n, self.beats_per_image, used)
        return np.packbits(padded, axis=-1, bitorder="little").reshape(n, self.image_bytes)

    def unpack(self, raw: np.ndarray) -> np.ndarray:
        """Stream bytes ``uint8 (n, image_bytes)`` → images ``(n, *shape)`` in the storage dtype."""
        n = raw.shape[0]
        raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(n, self.beats_per_image, self.beat_bytes)
        b, used = self.elem_bits, self.lanes * self.elem_bits
        if b in (8, 16) and used == self.tdata_bits:
            vals = raw.reshape(n, -1).view(f"<i{b // 8}" if self.signed else f"<u{b // 8}")
        else:
            bits = np.unpackbits(raw, axis=-1, bitorder="little")[..., :used]
            bits = bits.reshape(n, self.beats_per_image, self.lanes, b).astype(np.int64)
            vals = (bits << np.arange(b, dtype=np.int64)).sum(axis=-1)
            if self.signed:
                vals = vals - ((vals >> (b - 1)) & 1) * (1 << b)
        return vals.astype(self.dtype).reshape((n,) + self.shape)
