"""Finding the accelerator in an overlay's ``ip_dict`` and checking it against the manifest.

The block design (scripts of the bundle, and the .hwh a Vivado build hands off) names the
instances: the IP ``fa_axis_0`` and one AXI DMA per stream, ``dma_<stream>`` (``dma_in0``,
``dma_out0``, ...). Instances may sit inside a hierarchy; the last path component decides.
"""
from __future__ import annotations

from ..errors import SessionError

IP_INSTANCE = "fa_axis_0"
DMA_VLNV = "xilinx.com:ip:axi_dma"
CTRL_FIELDS = {"AP_START": 0, "AP_DONE": 1, "AP_IDLE": 2}


class RegisterMapError(SessionError):
    """The bitstream's IP does not have the register map the bundle's manifest describes."""


class OverlayMismatch(SessionError):
    """The overlay lacks an instance the bundle needs, or has one of the wrong kind."""


def dma_instance(stream_name: str) -> str:
    """Instance name of the AXI DMA serving stream ``stream_name`` (``in0`` → ``dma_in0``)."""
    return f"dma_{stream_name}"


def find_instance(ip_dict: dict, name: str, where: str, design: str = "") -> str:
    """The ``ip_dict`` key of instance ``name`` (exact, or unique last path component); ``design`` names
    the IP in the message when it is not the streaming IP."""
    if name in ip_dict:
        return name
    hits = [k for k in ip_dict if k.rsplit("/", 1)[-1] == name]
    if len(hits) == 1:
        return hits[0]
    known = ", ".join(sorted(ip_dict)) or "none"
    why = f"several instances called '{name}': {hits}" if hits else f"no instance called '{name}'"
    if design:
        raise OverlayMismatch(f"{where}: {why} (instances: {known}); the block design must name {design} '{name}': "
                              "use the bitstream built from this bundle's scripts")
    raise OverlayMismatch(f"{where}: {why} (instances: {known}); the block design must name the streaming IP "
                          f"'{IP_INSTANCE}' and its DMAs 'dma_in0', 'dma_out0', ...")


def check_dma(desc: dict, key: str, where: str) -> None:
    vlnv = str(desc.get("type", ""))
    if not vlnv.startswith(DMA_VLNV + ":"):
        raise OverlayMismatch(f"{where}: instance '{key}' is {vlnv or 'of unknown type'}, expected an AXI DMA "
                              f"({DMA_VLNV})")


def check_register_map(desc: dict, key: str, axis: dict, where: str) -> None:
    """Refuse an IP whose VLNV name or register offsets differ from ``manifest["kernel"]["axis"]``."""
    vlnv = str(desc.get("type", ""))
    parts = vlnv.split(":")
    if len(parts) != 4 or parts[2] != axis["name"]:
        raise RegisterMapError(f"{where}: instance '{key}' is '{vlnv}', not the bundle's IP '{axis['name']}'; "
                               "the bitstream was built from another design")
    regs = {str(k).lower(): v for k, v in (desc.get("registers") or {}).items()}  # HLS keeps the C names
    if not regs:
        raise RegisterMapError(f"{where}: the .hwh carries no register map for '{key}' ({vlnv}), so the offsets "
                               "of the manifest cannot be checked; use the .hwh Vivado wrote for this bitstream")
    want = {"CTRL": 0, **{str(k): int(v) for k, v in axis.get("registers", {}).items()}}
    problems = []
    for name, off in want.items():
        reg = regs.get(name.lower())
        if reg is None:
            problems.append(f"register '{name}' (manifest offset {off:#x}) is missing")
        elif int(reg["address_offset"]) != off:
            problems.append(f"'{name}' is at {int(reg['address_offset']):#x} in the .hwh but at {off:#x} in the "
                            "manifest")
    fields = (regs.get("ctrl") or {}).get("fields") or {}
    for name, bit in CTRL_FIELDS.items():
        f = fields.get(name)
        if f is not None and int(f["bit_offset"]) != bit:
            problems.append(f"CTRL.{name} is bit {int(f['bit_offset'])}, expected {bit} (ap_ctrl_hs)")
    if problems:
        raise RegisterMapError(f"{where}: the register map of '{key}' does not match the bundle's manifest: "
                               + "; ".join(problems) + ". The bitstream was built from a different bundle: rebuild "
                               "it from this one (or recompile the bundle the bitstream came from)")
