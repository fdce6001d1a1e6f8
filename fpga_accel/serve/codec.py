"""Request bodies to input arrays and outputs to response bodies.

Two body forms: JSON (``application/json``) — a nested list for a single-input model, or an
object ``{input name: nested list}`` — and NumPy's ``.npy`` bytes (``application/x-npy``,
single-input models). An input holds either one image (the model input's shape without the batch
axis; the answer then has no batch axis either) or a batch ``(n, ...)`` with ``1 <= n <=
max_images``. The .npy header is parsed and checked (dtype, shape, size against the body) before
any array is made, and never with pickle. JSON floats are written with Python's shortest
round-trip repr, so a float32 output read back as float32 is the same number bit for bit.
"""
from __future__ import annotations

import io
import json

import numpy as np

from .http import HttpError

NPY = "application/x-npy"
JSON = "application/json"


class InputSpec:
    """What one model input accepts: its name, per-image shape and dtype."""

    def __init__(self, name: str, shape: tuple[int, ...], dtype: str):
        self.name, self.image_shape, self.dtype = name, tuple(int(d) for d in shape[1:]), np.dtype(dtype)


def decode(body: bytes, content_type: str, specs: list[InputSpec], max_images: int) -> tuple[dict, int, bool]:
    """``(feeds, images, single)`` from a request body; :class:`HttpError` (4xx) when it is not a
    valid request for these inputs. ``single``: the request sent one image without a batch axis."""
    if content_type in (JSON, ""):
        raw = _json_inputs(body, specs)
    elif content_type == NPY:
        if len(specs) != 1:
            raise HttpError(415, f"the model has inputs {[s.name for s in specs]}; .npy bodies hold one "
                                 "input, send JSON {name: nested list}")
        raw = {specs[0].name: read_npy(body)}
    else:
        raise HttpError(415, f"Content-Type {content_type!r} is not accepted; use {JSON} or {NPY}")
    feeds, counts, singles = {}, set(), set()
    for s in specs:
        x, single = _shaped(raw[s.name], s, max_images)
        feeds[s.name] = x
        counts.add(len(x))
        singles.add(single)
    if len(counts) != 1 or len(singles) != 1:
        raise HttpError(422, "the inputs hold different numbers of images")
    return feeds, counts.pop(), singles.pop()


def _json_inputs(body: bytes, specs: list[InputSpec]) -> dict:
    try:
        doc = json.loads(body)
    except RecursionError:
        raise HttpError(400, "the JSON body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise HttpError(400, f"the body is not valid JSON ({e})") from None
    names = [s.name for s in specs]
    if isinstance(doc, dict):
        if sorted(doc) != sorted(names):
            raise HttpError(422, f"the JSON object must have exactly the keys {names}")
        return doc
    if len(specs) != 1:
        raise HttpError(422, f"the model has inputs {names}; send a JSON object keyed by input name")
    return {specs[0].name: doc}


def _shaped(value, spec: InputSpec, max_images: int) -> tuple[np.ndarray, bool]:
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # too large: caught as Inf below
            x = np.asarray(value, dtype=spec.dtype) if isinstance(value, list) else value
    except (ValueError, TypeError, OverflowError):
        raise HttpError(422, f"input '{spec.name}' must be a rectangular array of numbers") from None
    if not isinstance(x, np.ndarray):
        raise HttpError(422, f"input '{spec.name}' must be an array of numbers, got {type(value).__name__}")
    if x.dtype.kind not in "fiu":
        raise HttpError(422, f"input '{spec.name}' has dtype {x.dtype}; expected numbers ({spec.dtype})")
    single = x.shape == spec.image_shape
    if single:
        x = x[None]
    if x.shape[1:] != spec.image_shape:
        raise HttpError(422, f"input '{spec.name}' has shape {list(x.shape)}; expected {list(spec.image_shape)} "
                             f"(one image) or [n, {', '.join(map(str, spec.image_shape))}]")
    if not 1 <= len(x) <= max_images:
        raise HttpError(413 if len(x) else 422, f"input '{spec.name}' holds {len(x)} images; send 1 to "
                                                f"{max_images} per request")
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.ascontiguousarray(x, dtype=spec.dtype)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise HttpError(422, f"input '{spec.name}' contains NaN, Inf or values too large for {spec.dtype}")
    return x, single


def read_npy(body: bytes) -> np.ndarray:
    """An array from .npy bytes: header checked (no object dtype, no pickle, data size equal to
    what the header claims) before the array is made over the body's own bytes."""
    f = io.BytesIO(body)
    try:
        major, _ = np.lib.format.read_magic(f)
        read_header = {1: np.lib.format.read_array_header_1_0, 2: np.lib.format.read_array_header_2_0}.get(major)
        if read_header is None:
            raise ValueError(f"unsupported .npy version {major}")
        shape, fortran, dtype = read_header(f)
    except (ValueError, SyntaxError, TypeError) as e:
        raise HttpError(400, f"the body is not a valid .npy file ({e})") from None
    if dtype.hasobject or dtype.kind not in "fiub" or dtype.fields is not None:
        raise HttpError(422, f"the .npy array has dtype {dtype}; send numbers")
    if any(d < 0 for d in shape):
        raise HttpError(400, f"the .npy header has a negative dimension: {shape}")
    count = 1
    for d in shape:
        count *= d
    data = body[f.tell():]
    if count * dtype.itemsize != len(data):
        raise HttpError(400, f"the .npy header announces {count * dtype.itemsize} bytes of data; the body holds "
                             f"{len(data)}")
    x = np.frombuffer(data, dtype=dtype, count=count)
    return x.reshape(shape, order="F" if fortran else "C")


def encode(outputs: dict[str, np.ndarray], single: bool, accept: str) -> tuple[bytes, str]:
    """The response body and its Content-Type: .npy when asked (``Accept: application/x-npy``, one
    output), JSON ``{"outputs": {name: nested list}}`` otherwise."""
    if single:
        outputs = {k: v[0] for k, v in outputs.items()}
    if NPY in accept and len(outputs) == 1:
        buf = io.BytesIO()
        np.save(buf, next(iter(outputs.values())), allow_pickle=False)
        return buf.getvalue(), NPY
    return json.dumps({"outputs": {k: v.tolist() for k, v in outputs.items()}}).encode(), JSON
