"""URAM weights inside a bundle: ``manifest["uram_load"]`` and ``weights/uram.bin``.

A dataflow design whose fold placed weight memories in URAM fills them from DDR when it starts
(fpga_accel/codegen/uram_load.py writes both): the blob holds the 64-byte words the ``wmem`` port
reads, the section its size, sha256 and each array's word offset. The section is checked with the
manifest (sizes bounded, offsets consecutive, the file listed); :func:`read_uram_blob` reads the blob
for a backend, refusing a file of another size before reading it and one that does not match its
hash, naming the file.
"""
from __future__ import annotations

import hashlib

from .bundle_check import BundleError, Checker

BLOB = "weights/uram.bin"
#: far beyond the URAM of any board in the tree (an alveo-u250's 1,280 URAM hold 45 MiB)
MAX_BLOB_BYTES = 1 << 30


def check_uram_section(c: Checker, u, files: dict) -> None:
    """``manifest["uram_load"]``: the blob listed in ``files``, its size a whole number of words that
    the arrays' consecutive offsets fill exactly."""
    c.obj(u, "uram_load")
    if u.get("file") != BLOB:
        c.fail("uram_load.file", f"must be {BLOB!r}")
    c.ref(u["file"], "uram_load.file", files)
    word = c.integer(u.get("word_bytes"), "uram_load.word_bytes", 64, 64)
    size = c.integer(u.get("bytes"), "uram_load.bytes", word, MAX_BLOB_BYTES)
    c.digest(u.get("sha256"), "uram_load.sha256")
    if u["sha256"] != files[BLOB]:
        c.fail("uram_load.sha256", f"differs from the sha256 of {BLOB} in files")
    at = 0
    for i, a in enumerate(c.lst(u.get("arrays"), "uram_load.arrays")):
        key = f"uram_load.arrays[{i}]"
        c.obj(a, key)
        if c.integer(a.get("offset"), f"{key}.offset", 0) != at:
            c.fail(f"{key}.offset", f"must be {at}, where the array before it ends")
        at += c.integer(a.get("words"), f"{key}.words", 1, size // word)
        for k in ("word_bits", "banks", "depth"):
            c.integer(a.get(k), f"{key}.{k}", 1, 1 << 24)
    if at * word != size:
        c.fail("uram_load.bytes", f"is {size}, but the arrays fill {at} words of {word} bytes")


def has_uram_weights(bundle) -> bool:
    return "uram_load" in getattr(bundle, "manifest", {})


def read_uram_blob(bundle) -> bytes:
    """The checked bytes of ``weights/uram.bin`` (BundleError naming the file when they are not the
    ones compile wrote)."""
    u = bundle.manifest["uram_load"]
    path = bundle.path / BLOB
    if path.is_file() and path.stat().st_size != u["bytes"]:
        raise BundleError(f"{path}: {path.stat().st_size} bytes, the manifest says {u['bytes']} "
                          f"(the URAM weights the accelerator loads at start); recompile the model")
    data = bundle.read(BLOB)  # refused unless it matches its sha256
    if hashlib.sha256(data).hexdigest() != u["sha256"]:
        raise BundleError(f"{path}: does not match uram_load.sha256; recompile the model")
    return data
