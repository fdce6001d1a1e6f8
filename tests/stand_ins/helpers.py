"""Test helpers for the build flow: bundles of models/mnist_cnn for a given board, and a PATH
directory of recording stand-ins for the vendor tools (see standin.py)."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOOLS = ("vitis_hls", "vivado", "v++", "create_vitis_afi.sh", "aws", "aws_build_dcp_from_cl.py")
#: the scripts of the AWS F2 HDK a CL folder links to, and the synthesis header/footer it sources
HDK_SCRIPTS = ("build_all.tcl", "build_level_1_cl.tcl", "encrypt.tcl", "synth_cl_header.tcl", "synth_cl_footer.tcl")

# board fields the build reads, for tests that run before the board data files exist; when the
# board data is present, compile fills these in itself and these values are not used
BOARD_FIELDS = {
    "pynq-z2": {"family": "zynq", "part": "xc7z020clg400-1"},
    "zcu104": {"family": "zynqmp", "part": "xczu7ev-ffvc1156-2-e"},
    "alveo-u50": {"family": "vitis", "part": "xcu50-fsvh2104-2-e", "platform": "xilinx_u50_gen3x16_xdma_5_202210_1",
                  "memory": [{"name": "HBM", "banks": 32}]},
    "alveo-u250": {"family": "vitis", "part": "xcu250-figd2104-2L-e", "platform": "xilinx_u250_gen3x16_xdma_4_1_202210_1",
                   "memory": [{"name": f"DDR[{i}]", "banks": 1} for i in range(4)]},
    "aws-f2": {"family": "hdk", "part": "xcvu47p-fsvh2892-2-e"},
    "aws-f1": {"family": "vitis", "part": "xcvu9p-flgb2104-2-i", "platform": "xilinx_aws-vu9p-f1_shell-v04261818_201920_3",
               "memory": [{"name": f"DDR[{i}]", "banks": 1} for i in range(4)]},
}


def hls_generator_available() -> bool:
    return importlib.util.find_spec("fpga_accel.codegen.hls_project") is not None


def placeholder_hls(stage: Path, qmodel, manifest: dict) -> None:
    """A minimal run_hls.tcl (exporting fa_axis or fa_kernel), for trees without the HLS generator."""
    board = manifest["board"]
    fmt = "ip_catalog" if board.get("family") in ("zynq", "zynqmp") else "xo -output fa_kernel.xo"
    (stage / "hls").mkdir(exist_ok=True)
    (stage / "hls" / "run_hls.tcl").write_text(
        "# placeholder HLS script of the build tests (the HLS project generator is not in this tree)\n"
        "set top [expr {[info exists ::env(FA_TOP)] ? $::env(FA_TOP) : \"fa_axis\"}]\n"
        "open_project fa_hls\nset_top $top\nopen_solution sol\n"
        f"set_part {{{board.get('part')}}}\ncreate_clock -period {1000.0 / board['clock_mhz']:g}\n"
        f"csynth_design\nexport_design -format {fmt}\n")


def drop_hls_script(stage: Path, qmodel, manifest: dict) -> None:
    """Leaves the HLS sources but not run_hls.tcl (a Vitis build then compiles them with v++ -c)."""
    (stage / "hls" / "run_hls.tcl").unlink()


def compile_bundle(dest: Path, board: str = "pynq-z2", clock_mhz: float | None = None, bits: int | None = None,
                   extra=None, hls: str = "auto"):
    """models/mnist_cnn compiled for ``board`` with the HLS project (or, when the generator is absent
    or ``hls="placeholder"``, a placeholder run_hls.tcl) and the scripts."""
    sys.path.insert(0, str(ROOT / "models"))
    import data

    import fpga_accel
    from fpga_accel.flow import generate_scripts

    def board_fields(stage, qmodel, manifest):
        b = manifest["board"]
        for k, v in BOARD_FIELDS[board].items():
            if b.get(k) is None:
                b[k] = v
        if clock_mhz is not None:
            b["clock_mhz"] = clock_mhz

    gens = [board_fields]
    if hls_generator_available() and hls != "placeholder":
        from fpga_accel.codegen.hls_project import generate_hls
        gens.append(generate_hls)
    else:
        gens.append(placeholder_hls)
    gens += list(extra or []) + [generate_scripts]
    return fpga_accel.compile(data.model_path("mnist_cnn"), dest, board=board, calib=data.load_calib("mnist_cnn"),
                              bits=bits, progress=False, generators=gens)


def fresh_copy(bundle, tmp: Path) -> Path:
    """A copy of a compiled bundle under ``tmp`` for one test to build in (the module's bundle stays clean)."""
    dest = tmp / "b.fpga"
    shutil.copytree(bundle.path, dest)
    return dest


def stand_in_path(tmp: Path, skip=()) -> Path:
    """A directory with wrapper executables for every tool but ``skip``."""
    bindir = tmp / "stand_in_bin"
    bindir.mkdir(exist_ok=True)
    for tool in TOOLS:
        if tool in skip:
            continue
        w = bindir / tool
        if tool.endswith(".py"):  # run as `python3 TOOL`, as the HDK's scripts are
            w.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.argv = [{str(HERE / 'standin.py')!r}, {tool!r}, "
                         f"*sys.argv[1:]]\nsys.path.insert(0, {str(HERE)!r})\nrunpy.run_path(sys.argv[0], "
                         "run_name='__main__')\n")
        else:
            w.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "standin.py"}" "{tool}" "$@"\n')
        os.chmod(w, w.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bindir


def use_stand_ins(monkeypatch, tmp: Path, skip=(), kernel_args=None) -> Path:
    """Put the stand-ins first on PATH (the system's tools stay after them) and record calls."""
    bindir = stand_in_path(tmp, skip)
    for var in ("XILINX_VIVADO", "XILINX_HLS", "XILINX_VITIS", "VITIS_DIR", "FA_PLATFORM", "AWS_PLATFORM", "FA_S3_BUCKET",
                "HDK_SHELL_DIR", "AWS_BUILD_DCP"):
        monkeypatch.delenv(var, raising=False)
    clean = [p for p in os.environ.get("PATH", "").split(os.pathsep)
             if p and not any((Path(p) / t).exists() for t in TOOLS)]
    monkeypatch.setenv("PATH", os.pathsep.join([str(bindir), *clean]))
    calls = tmp / "calls.jsonl"
    monkeypatch.setenv("FA_STANDIN_CALLS", str(calls))
    monkeypatch.setenv("FA_STANDIN_KERNEL_ARGS", " ".join(kernel_args or []))
    monkeypatch.setenv("FA_AFI_POLL_SECONDS", "0")
    return calls


def calls(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def read_tcl_record(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()] if path.exists() else []


def fake_hdk(monkeypatch, tmp: Path) -> Path:
    """A stand-in aws-fpga HDK folder (HDK_SHELL_DIR): its common build scripts as empty Tcl files."""
    hdk = tmp / "hdk_shell"
    (hdk / "build" / "scripts").mkdir(parents=True, exist_ok=True)
    for name in HDK_SCRIPTS:
        (hdk / "build" / "scripts" / name).write_text("# stand-in for the AWS HDK script of this name\n")
    monkeypatch.setenv("HDK_SHELL_DIR", str(hdk))
    return hdk
