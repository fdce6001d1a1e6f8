"""Runs the pynq backend on the REAL pynq package, inside the venv of ``.ci/pynq_env.sh``.

    python tests/pynq_real_check.py WORK_DIR

WORK_DIR holds bundles ``*.fpga`` (each with ``bitstream/fa_design.{bit,hwh}``) and, per
bundle, ``<name>.ref.npz`` with raw hardware inputs ``in:<tensor>`` and the emulator's outputs
``out:<tensor>`` computed outside the venv. Prints one JSON report on stdout; exits non-zero on
any mismatch. The repository root must be on PYTHONPATH (``tests/`` is the script's own directory).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pynq
import pynq.ps
from fakes.pynq_device import EmulatedZynq, PsClocks  # registers the device through _probe_
from pynq.lib.dma import DMA
from pynq.pl_server.device import Device


def check_bundle(bundle_dir: Path, report: dict) -> None:
    from fpga_accel import Session
    from fpga_accel.runtime.pynq_driver import RegisterMapError

    ref = np.load(bundle_dir.with_suffix(".ref.npz"))
    feeds = {k[3:]: ref[k] for k in ref.files if k.startswith("in:")}
    want = {k[4:]: ref[k] for k in ref.files if k.startswith("out:")}
    dev = Device.active_device
    with Session(str(bundle_dir), backend="pynq", timeout=60) as s:
        got = s.run(feeds, raw=True)
        ol = s.backend.overlay
        entry = {
            "images": int(next(iter(feeds.values())).shape[0]),
            "bit_exact": all(np.array_equal(got[k], want[k]) for k in want),
            "overlay": f"{type(ol).__module__}.{type(ol).__qualname__}",
            "ip_driver": f"{type(ol.fa_axis_0).__module__}.{type(ol.fa_axis_0).__qualname__}",
            "dma_driver": f"{type(ol.dma_in0).__module__}.{type(ol.dma_in0).__qualname__}",
            "buffer": f"{type(s.backend.runner.buffers['in0']).__module__}."
                      f"{type(s.backend.runner.buffers['in0']).__qualname__}",
            "parser": type(dev.parser).__module__ + "." + type(dev.parser).__qualname__,
            "violations": list(dev.board.violations),
            "flushes": dev.board.memory.flushes,
            "invalidates": dev.board.memory.invalidates,
            "ap_starts": list(dev.board.started_with),
        }
        assert isinstance(ol.dma_in0, DMA)
    entry["pl_clock_mhz"] = round(pynq.ps.Clocks._real_instance.get_pl_clk(0), 6)
    # pynq's own DMA driver against the same model: one image, the documented call order
    ol = pynq.Overlay(str(bundle_dir / "bitstream" / "fa_design.bit"))
    name_in, name_out = next(iter(feeds)), next(iter(want))
    src = pynq.allocate(feeds[name_in][0].nbytes, np.uint8)
    dst = pynq.allocate(want[name_out][0].nbytes, np.uint8)
    src[:] = feeds[name_in][:1].reshape(-1).view(np.uint8)
    ol.fa_axis_0.write(0x10, 1)
    ol.dma_out0.recvchannel.transfer(dst)
    ol.dma_in0.sendchannel.transfer(src)
    ol.fa_axis_0.write(0x00, 1)
    ol.dma_in0.sendchannel.wait()
    ol.dma_out0.recvchannel.wait()
    entry["pynq_dma_api_bit_exact"] = bool(np.array_equal(np.asarray(dst).view(want[name_out].dtype),
                                                          want[name_out][0].reshape(-1)))
    entry["pynq_dma_transferred"] = int(ol.dma_out0.recvchannel.transferred)
    entry["register_map"] = {k: v["address_offset"] for k, v in ol.ip_dict["fa_axis_0"]["registers"].items()}
    # the legacy HWH parser of pynq reads the same file to the same instances and offsets
    from pynq.pl_server.hwh_parser import _HWHUltrascale, _HWHZynq

    hwh_file = bundle_dir / "bitstream" / "fa_design.hwh"
    legacy = (_HWHUltrascale if "zynq_ultra_ps_e" in hwh_file.read_text() else _HWHZynq)(str(hwh_file))
    entry["legacy_parser_agrees"] = all(
        legacy.ip_dict[k]["phys_addr"] == ol.ip_dict[k]["phys_addr"]
        and {r: x["address_offset"] for r, x in legacy.ip_dict[k]["registers"].items()}
        == {r: x["address_offset"] for r, x in ol.ip_dict[k]["registers"].items()}
        for k in ("fa_axis_0", "dma_in0", "dma_out0"))
    # a handoff whose register map disagrees with the manifest is refused
    from fpga_accel.bundle import load_bundle
    from fpga_accel.codegen.hwh import write_hwh

    b = load_bundle(bundle_dir)
    hwh = bundle_dir / "bitstream" / "fa_design.hwh"
    good = hwh.read_text()
    write_hwh(hwh, b.manifest, registers={"n_images": 0x18})
    try:
        Session(str(bundle_dir), backend="pynq")
        entry["mismatch_refused"] = False
    except RegisterMapError as e:
        entry["mismatch_refused"] = "0x18" in str(e)
    finally:
        hwh.write_text(good)
    report[bundle_dir.name] = entry


def check_zynqmp_handoff(bundle_dir: Path) -> dict:
    """The handoff of a ZynqMP board (KV260) read by both of pynq's parsers."""
    from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
    from pynq.pl_server.hwh_parser import _HWHUltrascale
    from pynqmetadata.frontends import Metadata

    from fpga_accel.bundle import load_bundle
    from fpga_accel.codegen.hwh import write_hwh

    manifest = dict(load_bundle(bundle_dir).manifest)
    manifest["board"] = {"name": "kv260", "clock_mhz": 100.0}
    hwh = write_hwh(bundle_dir.parent / "zynqmp" / "fa_design.hwh", manifest)
    parser = RuntimeMetadataParser(Metadata(input=hwh))
    legacy = _HWHUltrascale(str(hwh))
    ip = parser.ip_dict["fa_axis_0"]
    return {"fa_axis_0_addr": hex(ip["phys_addr"]),
            "n_images": ip["registers"]["n_images"]["address_offset"],
            "pl0_clock": {k: v for k, v in parser.clock_dict[0].items() if k in ("enable", "divisor0", "divisor1")},
            "legacy_parser_agrees": legacy.ip_dict["fa_axis_0"]["phys_addr"] == ip["phys_addr"]
            and all(legacy.clock_dict[0][k] == v for k, v in parser.clock_dict[0].items() if k in legacy.clock_dict[0])}


def main() -> int:
    work = Path(sys.argv[1])
    import pynqmetadata

    pynq.ps.Clocks._real_instance = PsClocks(1000.0)  # the Zynq-7000 IO PLL the .hwh divides
    dev = Device.active_device
    report = {"pynq": pynq.__version__, "numpy": np.__version__,
              "pynqmetadata": getattr(pynqmetadata, "__version__", "?"),
              "device": f"{type(dev).__name__} (priority {type(dev)._probe_priority_})",
              "bundles": {}}
    assert isinstance(dev, EmulatedZynq), f"active device is {dev!r}, not the emulated board"
    for d in sorted(work.glob("*.fpga")):
        check_bundle(d, report["bundles"])
    report["zynqmp_handoff"] = check_zynqmp_handoff(min(work.glob("*.fpga")))
    print(json.dumps(report, indent=1, sort_keys=True))
    ok = all(e["bit_exact"] and e["pynq_dma_api_bit_exact"] and e["mismatch_refused"] and e["legacy_parser_agrees"]
             and not e["violations"] for e in report["bundles"].values()) and report["bundles"] \
        and report["zynqmp_handoff"]["legacy_parser_agrees"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
