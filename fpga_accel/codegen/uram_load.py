"""Weight memories in URAM, filled from DDR when the accelerator starts.

A URAM cannot be initialised by the bitstream (AMD UG573: UltraRAM contents are zero after
configuration), so a packed weight array the fold model placed in URAM (``estimate.uram_arrays``) is
generated as a writable static array (``BIND_STORAGE type = ram_2p impl = uram``: the load writes one
port, the PE reads the other) instead of a ROM. Both tops then take a ``wmem`` m_axi pointer (its own
bundle ``gmem_w``, 512-bit words, short bursts: pe/io.py ``WEIGHT_LOAD``) and a ``load`` scalar: a
call with ``load = 1`` copies every such array from ``wmem`` (``fa_load_weights``) and returns;
``load = 0`` runs images.

The bundle's ``weights/uram.bin`` holds the words exactly as ``wmem`` is read (weight_load.h: several
narrow words per 64-byte memory word, or several memory words per wide word, little-endian), one
array after another at the word offsets recorded in ``manifest["uram_load"]``. Arrays the fold model
left in BRAM18 / LUTRAM stay ROMs in the bitstream; a design with none in URAM is generated as before.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..bundle_kernel import MEM_WORD_BYTES
from ..bundle_uram import BLOB
from ..escape import c_comment

HEADER = "weight_load.h"
MEM_BITS = 8 * MEM_WORD_BYTES
#: the fill function both tops call with load = 1
LOAD_FUNC = "fa_load_weights"
#: the m_axi bundle of ``wmem`` (its options: pe/io.py WEIGHT_LOAD, short bursts: it is read once)
WMEM_BUNDLE = "gmem_w"


@dataclass(frozen=True)
class Loaded:
    """One URAM weight array: its C name, layer, word width, (banks, depth) and place in the blob."""

    var: str
    layer: str
    role: str
    word_bits: int
    dims: tuple[int, int]
    offset: int  # in memory words

    @property
    def words(self) -> int:
        return mem_words(self.word_bits, self.dims[0] * self.dims[1])


def mem_words(word_bits: int, count: int) -> int:
    """Memory words ``count`` words of ``word_bits`` take (weight_load.h's load_span)."""
    if word_bits <= MEM_BITS:
        per = MEM_BITS // word_bits
        return -(-count // per)
    return count * -(-word_bits // MEM_BITS)


def loaded_arrays(net, uram: dict[str, set[str]]) -> list[tuple[Loaded, object]]:
    """The (Loaded, Array) pairs of ``net`` to fill at start: packed 2-D arrays of layer calls whose
    "kind/role" the fold model placed in URAM, in call order, offsets assigned one after another."""
    out, offset = [], 0
    for c in net.calls:
        if c.layer_index is None:
            continue
        placed = uram.get(c.stage.layer, set())
        for a in c.stage.arrays:
            if f"{c.stage.kind}/{a.name}" not in placed or not a.word_bits or len(a.dims) != 2:
                continue
            item = Loaded(f"{c.prefix}_{a.name}", c.stage.layer, f"{c.stage.kind}/{a.name}", a.word_bits,
                          (int(a.dims[0]), int(a.dims[1])), offset)
            out.append((item, a))
            offset += item.words
    return out


def blob_bytes(pairs) -> bytes:
    """``weights/uram.bin``: every array's words as ``wmem`` holds them, at its offset."""
    parts = []
    for item, arr in pairs:
        w = item.word_bits
        values = [int(v) for v in np.asarray(arr.values, dtype=object).reshape(-1).tolist()]
        if w <= MEM_BITS:
            per = MEM_BITS // w
            for i in range(0, len(values), per):
                word = 0
                for j, v in enumerate(values[i:i + per]):
                    word |= v << (j * w)
                parts.append(word.to_bytes(MEM_WORD_BYTES, "little"))
        else:
            span = -(-w // MEM_BITS)
            parts += [v.to_bytes(span * MEM_WORD_BYTES, "little") for v in values]
    data = b"".join(parts)
    assert len(data) == sum(item.words for item, _ in pairs) * MEM_WORD_BYTES
    return data


def manifest_section(pairs, data: bytes) -> dict:
    """``manifest["uram_load"]``: the blob, its size and sha256, and where each array lies in it."""
    return {"file": BLOB, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "word_bytes": MEM_WORD_BYTES,
            "arrays": [{"layer": i.layer, "array": i.role, "offset": i.offset, "words": i.words,
                        "word_bits": i.word_bits, "banks": i.dims[0], "depth": i.dims[1]} for i, _ in pairs]}


def declaration(item: Loaded, ctype: str) -> str:
    """The writable array in the layer's params header (its contents come from the blob)."""
    b, d = item.dims
    return (f"// filled from {BLOB} (word {item.offset}, {item.words} words) by {LOAD_FUNC}: a URAM holds "
            f"nothing after configuration\nstatic {ctype} {item.var}[{b}][{d}];\n")


def load_function(pairs) -> list[str]:
    """``fa_load_weights(wmem)``: every URAM array filled from its offset, one after another."""
    out = ["// Weight memories in URAM, filled from DDR by a call with load = 1 (a URAM holds nothing after",
           f"// configuration, AMD UG573); word offsets as {BLOB} lays them out.",
           f"static void {LOAD_FUNC}(const ap_uint<FA_MEM_BITS>* wmem) {{"]
    for item, _ in pairs:
        b, d = item.dims
        out.append(f"    fa::load_words<{item.word_bits}, {b}, {d}, FA_MEM_BITS>(wmem + {item.offset}, {item.var});"
                   f"  // {c_comment(item.layer)}")
    out.append("}")
    return out


def storage_pragma(var: str) -> str:
    return f"#pragma HLS BIND_STORAGE variable = {var} type = ram_2p impl = uram"
