"""Checks of the quantised model a bundle holds, once it is rebuilt from the manifest and weights.

The manifest's structure is checked key by key (:mod:`fpga_accel.bundle_schema`); what only the
ops know — which config keys and constants a layer needs, the shapes its rule gives — is checked
here by the ops themselves: the host graphs go through the IR verifier, the integer layers must
read each tensor after it is produced, and they run once on a zero image, each output compared
with the shape the manifest records. A model that fails is refused with a BundleError before a
backend runs it.

:func:`load_qmodel` rebuilds that model for the runtime; like the rest of the bundle it needs
the IR, the quantisation types, the ops and the emulator, never the compiler.
"""
from __future__ import annotations

import os

import numpy as np

from .bundle import Bundle, load_bundle
from .bundle_check import BundleError
from .quant.qmodel import QModel

NOT_COMPILED = "the bundle was not written as compiled — recompile the model"


def load_qmodel(bundle: Bundle | str | os.PathLike) -> QModel:
    """The :class:`~fpga_accel.quant.qmodel.QModel` a bundle holds, rebuilt from its manifest and
    weights (verified on load) and checked by :func:`check_qmodel`. ``bundle`` is a
    :class:`~fpga_accel.bundle.Bundle` or the path of a ``NAME.fpga`` directory."""
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    if "qmodel" not in bundle.manifest:
        raise BundleError(f"{bundle.path}: the manifest has no 'qmodel' section; recompile the model")
    qm = QModel.from_dict(bundle.manifest["qmodel"], bundle.weights())
    check_qmodel(bundle.path, qm)
    return qm


def check_qmodel(where, qm) -> None:
    """Raise a BundleError unless the QModel ``qm`` of the bundle at ``where`` runs as compiled."""
    from .errors import GraphError
    from .ir.verify import verify
    from .ops import lookup

    for g in (qm.host_before, qm.host_after):
        try:
            verify(g)
        except GraphError as e:
            raise BundleError(f"{where}: the manifest's host graph is not consistent ({e}); {NOT_COMPILED}") from None
    defined = {t.name for t in qm.inputs}
    for lay in qm.layers:
        if lookup(lay.op_type, lay.domain) is None:
            raise BundleError(f"{where}: layer '{lay.name}' is of op {lay.op_type!r}, which this fpga-accel does not "
                              f"know; {NOT_COMPILED}")
        early = [i for i in lay.inputs if i and i not in defined]
        again = [o for o in lay.outputs if o in defined]
        if early or again:
            raise BundleError(f"{where}: layer '{lay.name}' reads {early} before they are produced or produces "
                              f"{again} again; {NOT_COMPILED}")
        defined.update(lay.outputs)
    lost = [t.name for t in qm.outputs if t.name not in defined]
    if lost:
        raise BundleError(f"{where}: no layer produces the hardware outputs {lost}; {NOT_COMPILED}")
    _dry_run(where, qm)


def _dry_run(where, qm) -> None:
    from .emulator import run_layers

    zeros = {t.name: np.full((1, *t.shape[1:]), t.qparams.zero_point, t.qparams.qtype.dtype) for t in qm.inputs}
    try:
        got = run_layers(qm, zeros, keep=True, threads=1)
    except Exception as e:  # noqa: BLE001 - any failure here means the layers do not fit their data
        raise BundleError(f"{where}: the integer layers cannot run on the shapes and constants the bundle "
                          f"records ({type(e).__name__}: {e}); {NOT_COMPILED}") from None
    for name, t in qm.tensors.items():
        a = got.get(name)
        if a is not None and tuple(a.shape[1:]) != tuple(t.shape[1:]):
            raise BundleError(f"{where}: tensor '{name}' is recorded as {list(t.shape)}, its layer gives "
                              f"{[1, *a.shape[1:]]}; {NOT_COMPILED}")
