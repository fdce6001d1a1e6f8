"""HLS code generation: determinism, name sanitisation, errors for layers without a PE and for bad
foldings, the manifest sections, residual FIFO depths and the vitis_hls Tcl (run under tclsh with
recording stand-ins for the vitis_hls commands)."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from codegen_util import Csim, make_model, need_toolchain, quantise
from onnx import helper

from fpga_accel.codegen.csim_harness import RUN_CSIM_SH
from fpga_accel.codegen.hls_project import generate_hls
from fpga_accel.errors import InputError, UnsupportedModelError
from fpga_accel.escape import c_string, ident

HOSTILE = 'x"); system("rm -rf /"); //'
NASTY = [HOSTILE, "a\nb{c}*/ /*", "$(reboot) [exec rm] ;`id`", "名前 ünïcode", "1starts_with_digit"]


def small_cnn(names=("conv", "relu", "flat", "gemm"), tensors=("x", "c", "r", "f", "y")):
    """Conv 3x3 -> Relu -> Flatten -> Gemm with the given node and tensor names."""
    r = np.random.default_rng(0)
    x, c, rr, f, y = tensors
    nodes = [helper.make_node("Conv", [x, "Wc"], [c], name=names[0], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", [c], [rr], name=names[1]),
             helper.make_node("Flatten", [rr], [f], name=names[2]),
             helper.make_node("Gemm", [f, "Wg"], [y], name=names[3], transB=1)]
    inits = {"Wc": r.standard_normal((4, 2, 3, 3)).astype(np.float32),
             "Wg": r.standard_normal((3, 4 * 5 * 5)).astype(np.float32)}
    return make_model(nodes, {x: [2, 5, 5]}, inits)


def residual():
    """x -> Conv 1x1 -> t; Add(t, Conv 3x3 (pad 1) of t): t forks into a line-buffered branch and a bypass."""
    r = np.random.default_rng(1)
    nodes = [helper.make_node("Conv", ["x", "W0"], ["t"], name="stem", kernel_shape=[1, 1]),
             helper.make_node("Conv", ["t", "W"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["t", "c"], ["y"], name="add")]
    return make_model(nodes, {"x": [4, 6, 7]}, {"W0": r.standard_normal((4, 4, 1, 1)).astype(np.float32),
                                               "W": r.standard_normal((4, 4, 3, 3)).astype(np.float32)})


def files_of(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generation_is_deterministic(tmp_path):
    qm = quantise(residual())
    m1, m2 = {"layers": []}, {"layers": []}
    generate_hls(tmp_path / "a", qm, m1)
    generate_hls(tmp_path / "b", qm, m2)
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert a == b and len(a) > 15
    assert json.dumps(m1, sort_keys=True) == json.dumps(m2, sort_keys=True)


def test_hostile_names_compile_and_appear_nowhere(tmp_path):
    need_toolchain()
    qm = quantise(small_cnn(names=NASTY[:4], tensors=(NASTY[4], *NASTY[:4])))
    cs = Csim(qm, tmp_path)
    cs.check(cs.inputs(4, np.random.default_rng(0)))
    texts = {k: v.decode("utf-8") for k, v in files_of(tmp_path / "hls").items()}
    assert texts.pop("csim/run_csim.sh") == RUN_CSIM_SH  # fixed text, no name (it cleans up with rm -rf)
    for name, text in texts.items():
        for bad in ('system("', "rm -rf", "\nb{c}", "*/ /*", "$(reboot)", "[exec", "`id`"):
            assert bad not in text, (name, bad)
    # the stage names keep the original text, escaped: the library hands it back unchanged
    assert f"{HOSTILE}/mvau" in cs.lib.stage_cycles()
    assert "名前 ünïcode/mvau" in cs.lib.stage_cycles()  # the Gemm (the Relu fused, the Flatten a rename)


def test_names_helpers():
    assert ident(HOSTILE, 3) == "L03_x_system_rm_rf"
    assert ident("", 0) == "L00" and ident("9a") == "_9a"
    s = c_string(HOSTILE)
    assert s.startswith('"') and s.endswith('"') and '"' not in s[1:-1] and "//" not in s


def test_layers_without_a_pe_are_all_listed(tmp_path):
    r = np.random.default_rng(2)
    nodes = [helper.make_node("Mul", ["a", "k"], ["m"], name="scale_by_const"),  # varies along H (NCHW)
             helper.make_node("Sum", ["m", "b", "c"], ["s"], name="three_way_sum"),
             helper.make_node("Relu", ["s"], ["y"], name="fine")]
    model = make_model(nodes, {"a": [3, 4], "b": [3, 4], "c": [3, 4]},
                       {"k": r.uniform(0.5, 2, (3, 1)).astype(np.float32)})
    qm = quantise(model)
    with pytest.raises(UnsupportedModelError) as e:
        generate_hls(tmp_path, qm, {"layers": []})
    msg = str(e.value)
    assert "2 unsupported node(s)" in msg and "fine" not in msg
    assert "'scale_by_const' (Mul): the constant varies along an axis other than the channels" in msg
    assert "'three_way_sum' (Sum): 3 computed inputs; the add PE takes exactly two" in msg
    assert not (tmp_path / "hls").exists()


def test_bad_folding_names_the_layer(tmp_path):
    qm = quantise(small_cnn())
    layers = [{"name": "conv", "folding": {"pe": 3, "simd": 2}}, {"name": "gemm", "folding": {"pe": 1, "simd": 7}}]
    with pytest.raises(InputError) as e:
        generate_hls(tmp_path, qm, {"layers": layers})
    msg = str(e.value)
    assert "2 layer(s) have a folding that does not fit" in msg
    assert "'conv' (Conv): PE=3 does not divide the output channels (4); use one of [1, 2, 4]" in msg
    assert "'gemm' (Gemm): SIMD=7 does not divide the input features (100)" in msg
    for bad in ({"pe": 0}, {"pe": "2"}, {"simd": True}):
        with pytest.raises(InputError, match="must be a positive integer"):
            generate_hls(tmp_path, qm, {"layers": [{"name": "conv", "folding": bad}]})


def test_manifest_sections(tmp_path):
    qm = quantise(small_cnn())
    layers = [{"name": "conv", "folding": {"pe": 2, "simd": 2}}, {"name": "relu", "folding": {}},
              {"name": "gemm", "folding": {"pe": 3, "simd": 4}}]
    manifest = {"layers": layers}
    generate_hls(tmp_path, qm, manifest)
    k = manifest["kernel"]
    assert [a["name"] for a in k["args"]] == ["in0", "out0", "n_images"]
    assert k["axis"]["streams"][0]["lanes"] == 2 and k["axis"]["streams"][1]["lanes"] == 3
    by = {lay["name"]: lay for lay in manifest["hls"]["layers"]}
    assert [s["kind"] for s in by["conv"]["stages"]] == ["sliding_window", "mvau"]
    mv = by["conv"]["stages"][1]
    assert mv["folding"] == {"pe": 2, "simd": 2} and mv["params"]["MW"] == 18 and mv["params"]["N_VECTORS"] == 25
    assert mv["in_bits"] == [2 * qm.tensors[qm.layers[0].inputs[0]].qparams.qtype.bits]
    assert [layer["stages"] for layer in manifest["hls"]["layers"] if layer["op"] == "Flatten"] == [[]]
    names = manifest["hls"]["stage_names"]
    assert names[0].endswith("/input") and names[-1].endswith("/output") and "conv/mvau" in names
    # the gemm wants 4 lanes, the conv delivers 2: one width converter in front of the gemm
    assert [p["kind"] for p in manifest["hls"]["plumbing"]] == ["width_convert"]


def test_residual_fork_depth(tmp_path):
    need_toolchain()
    qm = quantise(residual())
    cs = Csim(qm, tmp_path)
    cs.check(cs.inputs(3, np.random.default_rng(3)))
    streams = {s["name"]: s for s in cs.manifest["hls"]["streams"]}
    depths = sorted(s["depth"] for s in streams.values() if s["tensor"] == "t_nhwc" and s["depth"] > 2)
    # bypass branch: the conv's window reads 2 rows (pad 1) + 1 (stride) of 7 pixels x 4 channels
    # (1 lane) before its first output reaches the add; the conv branch waits for the add's pixel only
    assert len(depths) == 2 and depths[0] < 3 * 7 * 4 <= depths[1]
    assert "line buffers fill first" in (tmp_path / "hls" / "src" / "fa_top.cpp").read_text()


TCL_STUBS = r"""
set rec [open $::env(REC) w]
foreach cmd {open_project set_top add_files open_solution set_part create_clock csynth_design export_design
             csim_design} {
    proc $cmd {args} "puts \$::rec \"$cmd \$args\""
}
rename exit tcl_exit
proc exit {{code 0}} { close $::rec; tcl_exit $code }
cd $::env(HLS)
source run_hls.tcl
"""


def run_tcl(tmp_path, board, env_extra=None):
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed")
    qm = quantise(small_cnn())
    out = tmp_path / board.get("name", "b")
    generate_hls(out, qm, {"layers": [], "board": board})
    stub = tmp_path / "stub.tcl"
    stub.write_text(TCL_STUBS)
    rec = tmp_path / "calls.txt"
    env = {"REC": str(rec), "HLS": str(out / "hls"), "PATH": "/usr/bin:/bin", **(env_extra or {})}
    res = subprocess.run(check=False, args=["tclsh", str(stub)], env=env, capture_output=True, text=True, timeout=60)
    calls = rec.read_text().splitlines() if rec.exists() else []
    return res, calls


def test_tcl_zynq(tmp_path):
    res, calls = run_tcl(tmp_path, {"name": "pynq-z2", "part": "xc7z020clg400-1", "family": "zynq",
                                    "clock_mhz": 125.0})
    assert res.returncode == 0, res.stderr
    assert "set_top fa_axis" in calls and "set_part xc7z020clg400-1" in calls
    assert "create_clock -period 8.000 -name default" in calls
    assert "open_solution -reset sol -flow_target vivado" in calls
    assert any(c.startswith("export_design -format ip_catalog") for c in calls)
    assert any(c.startswith("add_files " + str(tmp_path / "pynq-z2/hls/src/fa_top.cpp")) for c in calls)
    assert "csynth_design " in calls


def test_tcl_vitis_and_override(tmp_path):
    board = {"name": "alveo-u50", "part": "xcu50-fsvh2104-2-e", "family": "vitis", "clock_mhz": 300.0}
    res, calls = run_tcl(tmp_path, board)
    assert res.returncode == 0, res.stderr
    assert "set_top fa_kernel" in calls and "create_clock -period 3.333 -name default" in calls
    assert "export_design -format xo -output fa_kernel.xo" in calls
    res, calls = run_tcl(tmp_path, board, {"FA_TOP": "fa_axis"})
    assert "set_top fa_axis" in calls
    res, calls = run_tcl(tmp_path, board, {"FA_TOP": "bogus"})
    assert res.returncode != 0 and "FA_TOP must be fa_axis or fa_kernel" in res.stderr


def test_tcl_without_part_stops_with_a_message(tmp_path):
    res, calls = run_tcl(tmp_path, {"name": "pynq-z2", "clock_mhz": 100.0})
    assert res.returncode != 0
    assert "board pynq-z2: no FPGA part is known" in res.stderr
    assert calls == []


def test_three_way_fork_and_output_read_inside(tmp_path):
    """t is a model output and feeds two layers: two chained duplicates, one branch to out0."""
    need_toolchain()
    r = np.random.default_rng(4)
    nodes = [helper.make_node("Gemm", ["x", "W"], ["t"], name="stem", transB=1),
             helper.make_node("Sigmoid", ["t"], ["s"], name="sig"),
             helper.make_node("Add", ["t", "s"], ["y"], name="add")]
    model = make_model(nodes, {"x": [5]}, {"W": r.standard_normal((6, 5)).astype(np.float32)}, outputs=["t", "y"])
    qm = quantise(model)
    cs = Csim(qm, tmp_path, [{"name": "stem", "folding": {"pe": 3, "simd": 1}},
                             {"name": "sig", "folding": {"pe": 2}}, {"name": "add", "folding": {"pe": 6}}])
    ins = cs.inputs(4, np.random.default_rng(5))
    cs.check(ins, what="fa_kernel")
    cs.check(ins, axis=True, what="fa_axis")
    kinds = [p["kind"] for p in cs.manifest["hls"]["plumbing"]]
    assert kinds.count("duplicate") == 2 and kinds.count("width_convert") == 3  # t to sig and add, s to add
