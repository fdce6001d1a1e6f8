"""Overlay packages: a bundle, its bitstream and a driver module as one pip-installable wheel.

``fpga-accel package NAME.fpga -o DIR`` writes ``DIR/NAME-VERSION-py3-none-any.whl``, as PYNQ
users install overlays: ``pip install`` it on the board, then ``import NAME; NAME.Session()``
opens the packaged bundle on the FPGA, and ``pynq get-notebooks --from-package NAME`` delivers its
example notebook (registered under the ``pynq.notebooks`` entry point, as pynq looks them up).

The wheel is written directly as a zip (PEP 427: ``.dist-info`` with METADATA, WHEEL,
entry_points.txt and a RECORD of sha256 digests), deterministic: sorted entries, fixed times. The
bundle is verified (seal, every file's sha256, the bitstream record) before anything is written,
and only what the runtime reads is packed: the manifest, the compiled files it lists and the
built binaries of ``bitstream/`` (``.bit`` + ``.hwh``, or ``.xclbin``), never a build tree.
"""
from __future__ import annotations

import base64
import hashlib
import keyword
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..bundle import load_bundle
from ..bundle_bitstream import BINARY_SUFFIXES, RECORD
from ..errors import FpgaAccelError
from ..escape import file_stem
from .templates import driver_module, notebook

MANIFEST = "manifest.json"
#: import names a package must not take: they would shadow what its driver imports
TAKEN = {"fpga_accel", "numpy", "pynq", "pynqmetadata", "pynqutils", "tests", "test", "setuptools", "pip"}
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
_VERSION = re.compile(r"\d+(\.\d+){0,3}\Z")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(FpgaAccelError):
    """The bundle cannot be packaged as asked (bad name or version, a bitstream that does not belong)."""


@dataclass(frozen=True)
class Package:
    wheel: Path
    name: str  # import and distribution name
    version: str
    backend: str  # what NAME.Session() opens by default
    files: tuple[str, ...]  # bundle files packed, relative to the bundle


def import_name(bundle_path: Path, name: str | None = None) -> str:
    """The package's import name: ``name`` if given (checked), else the bundle folder's stem reduced
    to a lower-case identifier (model names and folder names are not trusted as Python code)."""
    if name is not None:
        if not _NAME.match(name) or keyword.iskeyword(name) or name in TAKEN or name in _stdlib():
            raise PackageError(f"--name {name!r} is not usable as the package's import name: it must match "
                               "[a-z][a-z0-9_]* (at most 40 characters) and not be a keyword, a standard-library "
                               f"module or one of {sorted(TAKEN)}")
        return name
    stem = bundle_path.name.removesuffix(".fpga")
    base = re.sub(r"[^a-z0-9]+", "_", file_stem(stem).lower()).strip("_")[:32] or "model"
    if not base[0].isalpha():
        base = "m_" + base
    if keyword.iskeyword(base) or base in TAKEN or base in _stdlib():
        base += "_overlay"
    return base


def _stdlib() -> frozenset:
    return getattr(sys, "stdlib_module_names", frozenset())


def packed_files(bundle) -> tuple[list[str], str]:
    """(bundle-relative files to pack, default backend) after verifying the bundle and its bitstream."""
    from ..runtime.backends.base import bitstream_mismatch

    files = [MANIFEST, *sorted(bundle.manifest.get("files") or {})]
    bdir = bundle.path / "bitstream"
    binaries = sorted(p.name for p in bdir.iterdir() if p.is_file() and p.suffix in BINARY_SUFFIXES) \
        if bdir.is_dir() else []
    if binaries:
        why = bitstream_mismatch(bundle)
        if why:
            raise PackageError(f"{why} (nothing was packaged)")
        files += [f"bitstream/{n}" for n in binaries]
        if (bundle.path / RECORD).is_file():
            files.append(RECORD)
    bits = [n for n in binaries if n.endswith(".bit")]
    if bits and all(n[:-4] + ".hwh" in binaries for n in bits):
        backend = "pynq"
    elif any(n.endswith((".xclbin", ".awsxclbin")) for n in binaries):
        backend = "opencl"
    else:
        backend = "emulator"
    return files, backend


def build_wheel(bundle_path, out_dir, name: str | None = None, version: str = "1.0.0") -> Package:
    """Write the overlay wheel of the bundle at ``bundle_path`` into ``out_dir``."""
    from .. import __version__

    if not _VERSION.match(version):
        raise PackageError(f"version {version!r} is not a release number like 1.0.0")
    bundle = load_bundle(bundle_path, verify=True)
    pkg = import_name(Path(bundle.path).resolve(), name)
    files, backend = packed_files(bundle)
    model = str((bundle.manifest.get("model") or {}).get("name") or pkg)
    board = str((bundle.manifest.get("board") or {}).get("name") or "")
    dist_info = f"{pkg}-{version}.dist-info"
    entries: list[tuple[str, bytes]] = [(f"{pkg}/{pkg}.fpga/{rel}", (bundle.path / rel).read_bytes()) for rel in files]
    entries += [
        (f"{pkg}/__init__.py", driver_module(pkg, model, board, backend).encode()),
        (f"{pkg}/notebooks/__init__.py", b""),
        (f"{pkg}/notebooks/{pkg}.ipynb", notebook(pkg, model, board, backend).encode()),
        (f"{dist_info}/METADATA", _metadata(pkg, version, model, __version__).encode()),
        (f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: fpga-accel " + __version__.encode()
         + b"\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{dist_info}/entry_points.txt", f"[pynq.notebooks]\n{pkg} = {pkg}.notebooks\n".encode()),
        (f"{dist_info}/top_level.txt", f"{pkg}\n".encode()),
    ]
    record = "".join(f"{path},sha256={_digest(data)},{len(data)}\n" for path, data in entries)
    entries.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{pkg}-{version}-py3-none-any.whl"
    tmp = wheel.with_name(wheel.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in entries:  # dist-info last, RECORD at the very end, as PEP 427 recommends
            info = zipfile.ZipInfo(path, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    tmp.replace(wheel)
    return Package(wheel=wheel, name=pkg, version=version, backend=backend, files=tuple(files))


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _metadata(pkg: str, version: str, model: str, fa_version: str) -> str:
    summary = re.sub(r"[^A-Za-z0-9_.,:() -]+", "_", f"FPGA accelerator of model {model} (fpga-accel overlay)")[:200]
    return (f"Metadata-Version: 2.1\nName: {pkg}\nVersion: {version}\nSummary: {summary}\n"
            f"Requires-Python: >=3.10\nRequires-Dist: fpga-accel>={fa_version}\n")
