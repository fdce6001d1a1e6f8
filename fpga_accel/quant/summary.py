"""One line saying how a bundle is quantised, from its manifest: the bit widths the layers really
use (not the defaults a QONNX or QDQ model overrides) and where the scales came from."""
from __future__ import annotations

from collections.abc import Iterable

from .qtype import parse_qtype


def bits_text(bits: Iterable[int]) -> str:
    """``"8-bit"`` when every width is 8, ``"mixed 2–8-bit"`` when they differ, ``"no"`` when none."""
    b = sorted({int(x) for x in bits})
    if not b:
        return "no"
    return f"{b[0]}-bit" if len(b) == 1 else f"mixed {b[0]}–{b[-1]}-bit"


def weight_bits(manifest: dict) -> list[int]:
    """The weight width of every layer that has weights."""
    return [r["weight_bits"] for r in manifest["layers"] if r.get("weight_bits") is not None]


def activation_bits(manifest: dict) -> list[int]:
    """The width of every hardware input and of every layer's output."""
    ins = [parse_qtype(t["qtype"]).bits for t in manifest["hardware"]["inputs"]]
    return ins + [r["act_bits"] for r in manifest["layers"] if r.get("act_bits") is not None]


def scales_source(q: dict) -> str:
    """Where the scales and zero points came from: calibration, the model itself, or both."""
    cal = q.get("calibration") or {}
    given = q.get("given_params") or 0
    if cal.get("samples"):
        text = f"{q['observer']} observer over {cal['samples']} calibration samples"
        if given:
            text += f", {given} tensor(s) with parameters from the model"
        return text
    return "the model's own quantisation (QDQ / QONNX), no calibration"


def quantisation_text(manifest: dict) -> str:
    """E.g. ``"2-bit weights, mixed 2–8-bit activations, the model's own quantisation ..."``."""
    q = manifest["quantization"]
    text = (f"{bits_text(weight_bits(manifest))} weights, {bits_text(activation_bits(manifest))} activations, "
            f"{scales_source(q)}")
    if q.get("layers"):
        text += f", {len(q['layers'])} layer override(s)"
    return text
