"""Reads a .hwh into an ``ip_dict`` shaped like pynq's: the register blocks the PS maps, with
type, address, range, parameters and register map. Enough for the fake ``pynq`` package; the
real pynq parses the same file with its own parsers in the real-pynq test."""
from __future__ import annotations

import xml.etree.ElementTree as ET

PS_TYPES = ("processing_system7", "zynq_ultra_ps_e")


def _num(s: str) -> int:
    return int(s, 16 if s.lower().startswith("0x") else 10)


def _props(el) -> dict:
    return {p.get("NAME"): p.get("VALUE") for p in el.findall("PROPERTY")}


def read_ip_dict(path) -> dict:
    root = ET.parse(path).getroot()
    mods = {m.get("INSTANCE"): m for m in root.iter("MODULE")}
    ps = next(m for m in mods.values() if m.get("MODTYPE") in PS_TYPES)
    out = {}
    for r in ps.iter("MEMRANGE"):
        if r.get("MEMTYPE") != "REGISTER":
            continue
        m = mods[r.get("INSTANCE")]
        base, high = _num(r.get("BASEVALUE")), _num(r.get("HIGHVALUE"))
        regs = {}
        for reg in m.iter("REGISTER"):
            p = _props(reg)
            fields = {f.get("NAME"): {"bit_offset": _num(_props(f)["BIT_OFFSET"]),
                                      "bit_width": _num(_props(f)["BIT_WIDTH"])} for f in reg.iter("FIELD")}
            regs[reg.get("NAME")] = {"address_offset": _num(p["ADDRESS_OFFSET"]), "size": _num(p["SIZE"]),
                                     "access": p.get("ACCESS"), "fields": fields}
        params = {p.get("NAME"): p.get("VALUE") for p in m.find("PARAMETERS") or []}
        name = m.get("FULLNAME").lstrip("/")
        out[name] = {"fullpath": name, "type": m.get("VLNV"), "phys_addr": base, "addr_range": high - base + 1,
                     "parameters": params, "registers": regs, "interrupts": {}, "gpio": {}, "state": None}
    return out
