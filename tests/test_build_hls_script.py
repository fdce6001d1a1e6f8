"""run_hls.tcl under tclsh with stub procs: sources and include folders taken from the script's own
folder (so it runs from any directory), the testbench compiled without the g++ stand-in of
ap_axi_sdata.h, and C simulation given the file names the testbench reads."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest
from stand_ins.helpers import compile_bundle

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")

# every Vitis HLS command the script calls, recorded one per line as a Tcl list
STUBS = r"""
set ::rec [open $::env(REC) w]
foreach cmd {open_project set_top add_files open_solution set_part create_clock csynth_design export_design
             csim_design} {
    proc $cmd {args} "puts \$::rec \[list $cmd {*}\$args\]; flush \$::rec"
}
rename exit tcl_exit
proc exit {{code 0}} { close $::rec; tcl_exit $code }
source $::env(SCRIPT)
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return compile_bundle(tmp_path_factory.mktemp("hs") / "m.fpga", "pynq-z2")


def run_script(script, cwd, tmp_path, **env):
    stub = tmp_path / "stubs.tcl"
    stub.write_text(STUBS)
    rec = tmp_path / "calls.tcl"
    proc = subprocess.run(["tclsh", str(stub)], cwd=cwd, capture_output=True, text=True, check=False, timeout=60,
                          env={"PATH": os.environ["PATH"], "REC": str(rec), "SCRIPT": str(script), **env})
    calls = []
    if rec.exists():  # each line a Tcl list: read it back through tclsh's own list parser
        out = subprocess.run(["tclsh"], input=f'set f [open {{{rec}}}]\nwhile {{[gets $f line] >= 0}} '
                             '{ puts [join $line "\\x1f"] }\n', capture_output=True, text=True, check=True)
        calls = [line.split("\x1f") for line in out.stdout.splitlines()]
    return proc, calls


def cflags_of(call):
    return shlex.split(call[call.index("-cflags") + 1])


def test_paths_resolve_from_another_directory(bundle, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    hls = bundle.path / "hls"
    # a relative script path from an unrelated working directory, as `vitis_hls -f ../x/run_hls.tcl` gives it
    rel = os.path.relpath(hls / "run_hls.tcl", elsewhere)
    proc, calls = run_script(rel, elsewhere, tmp_path)
    assert proc.returncode == 0, proc.stderr
    adds = [c for c in calls if c[0] == "add_files"]
    assert [c[-3] for c in adds] == [str(hls / "src/fa_top.cpp"), str(hls / "csim/fa_csim.cpp"),
                                     str(hls / "csim/tb_main.cpp")]
    assert [c[1] == "-tb" for c in adds] == [False, True, True]
    for c in adds:
        assert os.path.isfile(c[-3])
        incs = [f[2:] for f in cflags_of(c) if f.startswith("-I")]
        assert incs == [str(hls / "include"), str(hls / "src")]
        assert all(os.path.isabs(d) and os.path.isdir(d) for d in incs)
    # kernel and testbench compiled with the same flags: both see the tool's ap_axi_sdata.h, never sim/
    assert len({c[-1] for c in adds}) == 1 and "sim" not in adds[0][-1].split("/")
    # the project lands where the tool runs, not in the bundle
    assert ["open_project", "-reset", "fa_hls_fa_axis"] in calls


def test_csim_argv_names_the_testbench_files(bundle, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in0.bin").write_bytes(b"\0" * 784 * 3)
    proc, calls = run_script(bundle.path / "hls/run_hls.tcl", tmp_path, tmp_path, FA_CSIM="3", FA_CSIM_DATA=str(data))
    assert proc.returncode == 0, proc.stderr
    (csim,) = [c for c in calls if c[0] == "csim_design"]
    # tb_main [--axis] N_IMAGES IN0 ... OUT0 ...: the fa_axis top is simulated through its stream path
    assert csim[1] == "-argv" and csim[2].split() == ["--axis", "3", str(data / "in0.bin"), str(data / "out0.bin")]
    order = [c[0] for c in calls]
    assert order.index("csim_design") < order.index("csynth_design")
    # the kernel top: no --axis
    proc, calls = run_script(bundle.path / "hls/run_hls.tcl", tmp_path, tmp_path, FA_CSIM="3",
                             FA_CSIM_DATA=str(data), FA_TOP="fa_kernel")
    (csim,) = [c for c in calls if c[0] == "csim_design"]
    assert csim[2].split()[:2] == ["3", str(data / "in0.bin")]


def test_csim_refuses_a_missing_input_or_a_bad_count(bundle, tmp_path):
    proc, calls = run_script(bundle.path / "hls/run_hls.tcl", tmp_path, tmp_path, FA_CSIM="2",
                             FA_CSIM_DATA=str(tmp_path / "none"))
    assert proc.returncode != 0 and "no input file" in proc.stderr and "in0.bin" in proc.stderr
    assert not any(c[0] in ("csim_design", "csynth_design") for c in calls)
    proc, calls = run_script(bundle.path / "hls/run_hls.tcl", tmp_path, tmp_path, FA_CSIM="1; exec id")
    assert proc.returncode != 0 and "FA_CSIM must be the number of images" in proc.stderr


def test_testbench_files_match_the_script(bundle):
    """The testbench reads one file per input and writes one per output, as the script passes them."""
    tb = (bundle.path / "hls/csim/tb_main.cpp").read_text()
    streams = bundle.manifest["kernel"]["axis"]["streams"]
    n_in, n_out = (sum(s["direction"] == d for s in streams) for d in ("in", "out"))
    assert f"argc != a + 1 + {n_in} + {n_out}" in tb
    script = (bundle.path / "hls/run_hls.tcl").read_text()
    ins, outs = (" ".join(f"{p}{i}.bin" for i in range(n)) for p, n in (("in", n_in), ("out", n_out)))
    assert f"foreach f {{{ins}}}" in script and f"foreach f {{{outs}}}" in script
