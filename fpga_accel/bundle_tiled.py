"""A tiled-engine program inside a bundle: ``manifest["tiled"]`` and the files of ``tiled/``.

``tiled/program.json`` and ``tiled/program.npz`` (the weights arena, no pickle) are
:meth:`Program.save <fpga_accel.tiled.program.Program.save>`'s files; ``tiled/descriptors.bin`` is
:func:`~fpga_accel.tiled.descriptors.encode`'s little-endian 32-bit words, what the HLS engine reads.
Their sha256 are in the manifest's ``files`` like every other file's. ``manifest["tiled"]`` names
them and records the array search, the per-layer cost estimates (tiled/target.py, tiled/cost.py) and
the engine segments and host steps the program runs in (``steps``, tiled/segments.py). The compiler
adds ``hls/`` and ``scripts/``, which build the engine for the board and configuration
(fpga_accel/flow/tiled_scripts.py: build-side code this runtime module does not import).

:func:`load_program` reads the files through :meth:`Bundle.read` (refused unless they match their
hashes), checks the program and its steps (:class:`~fpga_accel.tiled.program.ProgramError` names the
field) and requires the descriptors to be exactly the encoding of that program and ``steps`` to
describe its steps.
"""
from __future__ import annotations

import io
import json

import numpy as np

from .bundle_check import BundleError, Checker

PROGRAM = "tiled/program.json"
ARENA = "tiled/program.npz"
DESCRIPTORS = "tiled/descriptors.bin"
#: a program.json larger than this is refused before it is parsed
MAX_PROGRAM_BYTES = 64 << 20


def write_tiled(stage, choice, manifest: dict) -> None:
    """Write ``choice.program`` (a :class:`~fpga_accel.tiled.target.ArrayChoice`) into ``stage/tiled``
    and record it in ``manifest["tiled"]``."""
    from .tiled.descriptors import encode

    folder = choice.program.save(stage / "tiled")
    (folder / "descriptors.bin").write_bytes(encode(choice.program).astype("<u4").tobytes())
    cost = choice.cost.to_dict()
    manifest["tiled"] = {"program": PROGRAM, "arena": ARENA, "descriptors": DESCRIPTORS,
                         "array": choice.to_dict(), "cost": cost, "steps": steps_summary(choice.program)}


def steps_summary(program) -> dict:
    """What ``manifest["tiled"]["steps"]`` records: engine segments (layer ranges) and host steps
    (layer, op, why), in order (tiled/segments.py)."""
    from .tiled.segments import HostStep, plan_steps

    order = [{"host": s.name, "op": s.layer.op_type, "why": s.why} if isinstance(s, HostStep)
             else {"engine": [s.first, s.end]} for s in plan_steps(program)]
    return {"segments": sum("engine" in s for s in order), "host_steps": sum("host" in s for s in order),
            "order": order}


def is_tiled(bundle) -> bool:
    return "tiled" in getattr(bundle, "manifest", {})


def load_program(bundle):
    """The bundle's checked :class:`~fpga_accel.tiled.program.Program` and its descriptor words."""
    from .tiled.descriptors import encode
    from .tiled.program import Program, ProgramError, _read_arena

    t = bundle.manifest["tiled"]
    raw = bundle.read(t["program"])
    if len(raw) > MAX_PROGRAM_BYTES:
        raise BundleError(f"{bundle.path}: {t['program']} is {len(raw)} bytes, more than {MAX_PROGRAM_BYTES}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ProgramError(f"tiled program: {bundle.path / t['program']} is not JSON ({e})") from None
    want = data.get("weights_bytes") if isinstance(data, dict) else None
    if isinstance(want, bool) or not isinstance(want, int) or not 0 <= want <= (4 << 30):
        raise ProgramError(f"tiled program: field 'weights_bytes' = {want!r} must be an integer in 0..{4 << 30}")
    arena = _Named(bundle.read(t["arena"]), bundle.path / t["arena"])
    program = Program.from_dict(data, {"weights": _read_arena(arena, want)})
    words = bundle.read(t["descriptors"])
    expected = encode(program).astype("<u4").tobytes()
    if words != expected:
        raise BundleError(f"{bundle.path}: {t['descriptors']} is not the encoding of {t['program']}; "
                          f"recompile the model")
    recorded, steps = t.get("steps"), steps_summary(program)  # checks the program's steps (ProgramError)
    if recorded != steps and not (recorded is None and "steps" not in program.data):  # (older bundles: one segment)
        raise BundleError(f"{bundle.path}: manifest 'tiled.steps' does not describe the steps of {t['program']}; "
                          f"recompile the model")
    return program, np.frombuffer(words, "<u4").astype(np.uint32)


class _Named(io.BytesIO):
    """Bytes already checked against their hash, named by their file in error messages."""

    def __init__(self, data: bytes, path):
        super().__init__(data)
        self.path = path

    def __str__(self) -> str:
        return str(self.path)


def check_tiled_section(c: Checker, t, files: dict) -> None:
    """``manifest["tiled"]``: the three files listed in ``files``, the array's Tm and Tn and whether its
    engine is split (optional)."""
    c.obj(t, "tiled")
    for key, name in (("program", PROGRAM), ("arena", ARENA), ("descriptors", DESCRIPTORS)):
        if t.get(key) != name:
            c.fail(f"tiled.{key}", f"must be {name!r}")
        c.ref(t[key], f"tiled.{key}", files)
    array = c.obj(t.get("array"), "tiled.array")
    for k in ("tm", "tn"):
        c.integer(array.get(k), f"tiled.array.{k}", 1, 1024)
    if not isinstance(array.get("split", False), bool):  # the engine's form (absent: unsplit, as older bundles)
        c.fail("tiled.array.split", "must be true or false")
    c.obj(t.get("cost"), "tiled.cost")
    c.lst(t["cost"].get("layers"), "tiled.cost.layers")
