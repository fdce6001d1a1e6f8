"""Hostile model names (newlines with commands, ``*/``, backslash-newline, NUL, ``$(...)``, ``[exec]``,
quotes, ``<script>``, rich markup, ANSI escapes, Unicode line separators, 10k characters, keywords,
``../``) in every name slot of a model compiled for pynq-z2, alveo-u250 and aws-f1 (and aws-f2 for
the scripts' text and `fpga-accel build`):

- the build scripts parse (bash -n), run with stand-in vendor tools (the Tcl scripts in tclsh with
  the stub commands) and make exactly the calls of the same model with plain names; no injected
  command runs (its canary file never appears);
- every generated C++ and OpenCL C file has the tokens of the plain model's (identifiers renamed
  one for one, string literals aside) after trigraphs, line splicing and comments;
- the HTML report holds names as text, and the terminal output of the CLI holds no control
  character, ANSI escape or interpreted rich markup from a name.
"""
from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from hostile_util import CANARY, HOSTILE, PLAIN, c_tokens, calibration, hostile_cnn, same_structure, with_canary
from stand_ins.helpers import HERE as STAND_INS

import fpga_accel
from fpga_accel import escape
from fpga_accel.cli import main

BOARDS = ["pynq-z2", "alveo-u250", "aws-f1"]
#: boards whose generated scripts are compared line by line (aws-f2's are run in test_build_aws_f2.py)
STATIC_BOARDS = [*BOARDS, "aws-f2"]
CASES = list(HOSTILE)
SCRIPTS = ["scripts/build.sh", "scripts/vivado_bd.tcl", "scripts/link.cfg", "scripts/aws_afi.sh", "hls/run_hls.tcl",
           "scripts/aws_f2_dcp.sh", "scripts/aws_f2_afi.sh", "scripts/f2/cl_fa/design/cl_fa.sv",
           "scripts/f2/cl_fa/build/scripts/synth_cl_fa.tcl"]
SHELL_SCRIPTS = ["scripts/build.sh", "scripts/aws_afi.sh", "scripts/aws_f2_dcp.sh", "scripts/aws_f2_afi.sh"]
C_FILES = re.compile(r"^(hls/src/.*|hls/csim/.*\.cpp|opencl/.*)$")
SAFE_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

needs_tools = pytest.mark.skipif(not (shutil.which("tclsh") and shutil.which("bash")),
                                 reason="tclsh and bash are needed to run the generated scripts")


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> Path:
    """The folder of the canary files: a case's injected command would create ``canary / case``."""
    return tmp_path_factory.mktemp("canary")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, canary):
    """compile(case, board) -> the bundle of :func:`hostile_cnn` with that case's name, compiled once."""
    done: dict = {}

    def get(case: str, board: str):
        if (case, board) not in done:
            name = PLAIN if case == PLAIN else name_of(case, canary)
            dest = tmp_path_factory.mktemp("bundle") / "m.fpga"
            done[case, board] = fpga_accel.compile(hostile_cnn(name), dest, board=board, calib=calibration(),
                                                   progress=False)
        return done[case, board]
    return get


def name_of(case: str, canary: Path) -> str:
    return with_canary(HOSTILE[case], canary / case)


# --- the escaping functions against the real interpreters ----------------------------------------
@needs_tools
@pytest.mark.parametrize("case", CASES)
def test_tcl_and_shell_words_hold_the_name_exactly(case, tmp_path, canary):
    name = name_of(case, canary)
    want = tmp_path / "want.txt"
    want.write_bytes(name.encode("utf-8"))
    script = (f"set f [open {{{want}}} r]\nfconfigure $f -translation lf -encoding utf-8\n"
              f"set want [read $f]\nclose $f\n"
              f"puts [string equal $want {escape.tcl_string(name)}][string equal $want {escape.tcl_braced(name)}]"
              f"[string equal {escape.tcl_word(name)} {escape.tcl_word(name)}]\n")
    tcl = subprocess.run(["tclsh"], check=False, input=script, capture_output=True, text=True, timeout=30)
    assert tcl.stdout.strip() == "111", tcl.stdout + tcl.stderr
    sh = subprocess.run(["bash", "-c", f"printf %s {escape.shell_word(name)}"], check=False, capture_output=True,
                        timeout=30, cwd=tmp_path)
    assert sh.returncode == 0 and sh.stdout == name.replace("\0", "").encode("utf-8")
    for comment in (escape.shell_comment(name), escape.tcl_comment(name), escape.c_comment(name)):
        assert comment.isprintable() and len(comment) <= 80 and "\\" not in comment
    assert not re.search(r"\*|\?|/\*|\*/", escape.c_comment(name))
    assert not (canary / case).exists()


# --- build scripts -------------------------------------------------------------------------------
TCL_TOOL = """#!/usr/bin/env tclsh
set f [open $::env(HN_CALLS) a]; puts $f [list [file tail $::argv0] {*}$::argv]; close $f
set i [lsearch -exact $::argv -f]
if {$i < 0} { set i [lsearch -exact $::argv -source] }
set script [lindex $::argv [expr {$i + 1}]]
set j [lsearch -exact $::argv -tclargs]
set rest [expr {$j >= 0 ? [lrange $::argv [expr {$j + 1}] end] : {}}]
source {STUBS}
set ::argv $rest
set ::argc [llength $rest]
source $script
"""
SH_TOOLS = {
    "v++": 'out=""; prev=""; for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; done\n'
           'mkdir -p "$(dirname "$out")" && echo FAKE > "$out"\n',
    "create_vitis_afi.sh": "echo '{\"FpgaImageId\": \"afi-0f\", \"FpgaImageGlobalId\": \"agfi-0f\"}' > 0_afi_id.txt\n"
                           "echo FAKE > fa_kernel.awsxclbin\n",
    "aws": "echo available\n",
}


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> Path:
    """Fast stand-ins for the vendor tools: vivado and vitis_hls run their Tcl in tclsh with the stub
    commands of tests/stand_ins; v++, create_vitis_afi.sh and aws write FAKE outputs. Each call is
    appended to $HN_CALLS."""
    bindir = tmp_path_factory.mktemp("tools")
    texts = {"vivado": TCL_TOOL.replace("{STUBS}", "{" + str(STAND_INS / "vivado_stubs.tcl") + "}"),
             "vitis_hls": TCL_TOOL.replace("{STUBS}", "{" + str(STAND_INS / "hls_stubs.tcl") + "}")}
    texts.update({t: f'#!/bin/sh\necho "{t} $*" >> "$HN_CALLS"\n{body}' for t, body in SH_TOOLS.items()})
    for tool, text in texts.items():
        (bindir / tool).write_text(text)
        os.chmod(bindir / tool, 0o755 | stat.S_IXUSR)
    return bindir


def run_build_sh(bundle, tools: Path, tmp: Path, name: str = PLAIN, check: bool = True) -> tuple[list[str], list[str]]:
    """Run the bundle's scripts/build.sh on a copy; (tool calls, Tcl command calls), with the copy's
    path replaced by $B and the S3 prefix made of the model ``name`` by that of the plain name."""
    root = tmp / "b.fpga"
    shutil.copytree(bundle.path, root)
    calls, record = tmp / "calls.txt", tmp / "tcl.txt"
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "HN_CALLS": str(calls),
           "FA_TCL_RECORD": str(record), "FA_STANDIN_KERNEL_ARGS": "in0 out0 n_images", "FA_S3_BUCKET": "bucket",
           "FA_AFI_POLL_SECONDS": "0", "FA_HLS_TOOL": "vitis_hls"}  # the tool choice is tested elsewhere
    for var in ("FA_PLATFORM", "AWS_PLATFORM", "XILINX_VIVADO", "XILINX_HLS", "VITIS_DIR", "CREATE_VITIS_AFI"):
        env.pop(var, None)
    proc = subprocess.run(["bash", str(root / "scripts/build.sh"), "1"], check=False, cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 or not check, proc.stdout[-2000:] + proc.stderr[-2000:]

    def lines(p: Path) -> list[str]:
        if not p.exists():
            return []
        text = p.read_text().replace(str(root), "$B")
        return text.replace(f"fpga-accel/{escape.file_stem(name)}/", f"fpga-accel/{PLAIN}/").splitlines()
    return lines(calls), lines(record)


@pytest.fixture(scope="module")
def plain_runs(bundles, tools, tmp_path_factory):
    done: dict = {}

    def get(board: str):
        if board not in done:
            done[board] = run_build_sh(bundles(PLAIN, board), tools, tmp_path_factory.mktemp("plain"))
        return done[board]
    return get


@needs_tools
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("board", STATIC_BOARDS)
def test_build_scripts_hold_names_in_comment_lines_only(board, case, bundles, canary):
    bundle, plain = bundles(case, board), bundles(PLAIN, board)
    for rel in [r for r in SHELL_SCRIPTS if (bundle.path / r).exists()]:
        syntax = subprocess.run(["bash", "-n", str(bundle.path / rel)], check=False, capture_output=True, text=True)
        assert syntax.returncode == 0, syntax.stderr
    stem = f"fpga-accel/{escape.file_stem(name_of(case, canary))}"  # the AFI's S3 prefix: a file name
    assert re.fullmatch(r"fpga-accel/[A-Za-z0-9_][A-Za-z0-9_.-]*", stem)
    for rel in SCRIPTS:
        if not (plain.path / rel).exists():
            assert not (bundle.path / rel).exists()
            continue
        ours = (bundle.path / rel).read_text().replace(stem, "fpga-accel/plain").split("\n")
        theirs = (plain.path / rel).read_text().split("\n")
        assert len(ours) == len(theirs), rel
        changed = [(a, b) for a, b in zip(ours, theirs) if a != b]
        mark = "//" if rel.endswith(".sv") else "#"
        assert all(a.startswith(mark) and b.startswith(mark) for a, b in changed), (rel, changed)
        assert all(a.isprintable() and not a.endswith("\\") for a, _ in changed), (rel, changed)


@needs_tools
@pytest.mark.parametrize("case", [c for c in CASES if CANARY in HOSTILE[c]])
@pytest.mark.parametrize("board", BOARDS)
def test_build_scripts_run_no_injected_command(board, case, bundles, plain_runs, tools, tmp_path, canary):
    got = run_build_sh(bundles(case, board), tools, tmp_path, name_of(case, canary))
    assert got == plain_runs(board)
    assert len(got[0]) == {"pynq-z2": 2, "alveo-u250": 2, "aws-f1": 4}[board] and len(got[1]) >= 10
    assert not (canary / case).exists()


@needs_tools
@pytest.mark.parametrize("script", ["build.sh", "vivado_bd.tcl"])
def test_the_run_check_sees_an_injected_command(script, tools, tmp_path, monkeypatch):
    """Proof that the run above would fail: with the comment escaping left out, the name's command runs."""
    from fpga_accel.flow import scripts, vivado_tcl

    if script == "build.sh":
        monkeypatch.setattr(scripts, "shell_comment", lambda text: text)
    else:
        monkeypatch.setattr(vivado_tcl, "tcl_comment", lambda text: text)
    canary = tmp_path / "pwned"
    bundle = fpga_accel.compile(hostile_cnn(with_canary(HOSTILE["newline-exec"], canary)), tmp_path / "m.fpga",
                                board="pynq-z2", calib=calibration(), progress=False)
    (tmp_path / "run").mkdir()
    run_build_sh(bundle, tools, tmp_path / "run", check=False)
    assert canary.exists()


@needs_tools
@pytest.mark.parametrize("board", ["pynq-z2", "aws-f1", "aws-f2"])
def test_fpga_accel_build_runs_no_injected_command(board, bundles, tmp_path, canary, monkeypatch):
    from stand_ins.helpers import calls, fake_hdk, use_stand_ins

    from fpga_accel.flow import build

    root = tmp_path / "b.fpga"
    shutil.copytree(bundles("newline-exec", board).path, root)
    record = use_stand_ins(monkeypatch, tmp_path, kernel_args=["in0", "out0", "n_images"])
    monkeypatch.setenv("FA_S3_BUCKET", "bucket")
    monkeypatch.setenv("FA_HLS_TOOL", "vitis_hls")
    fake_hdk(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    build(root, registry=False, echo=lambda s: None)
    want = {"pynq-z2": ["vitis_hls", "vivado"], "aws-f1": ["vitis_hls", "v++", "create_vitis_afi.sh", "aws", "aws"],
            "aws-f2": ["vitis_hls", "aws_build_dcp_from_cl.py", "aws", "aws", "aws", "aws"]}[board]
    assert [c["tool"] for c in calls(record)] == want
    assert not (canary / "newline-exec").exists()


# --- C++ and OpenCL C ----------------------------------------------------------------------------
def c_sources(root: Path) -> dict[str, str]:
    """Generated C/C++/OpenCL files by path; a parameter file keyed by its layer index only."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and C_FILES.match(rel):
            out[re.sub(r"/(L\d\d)[^/]*\.h$", r"/\1.h", rel)] = p.read_text(encoding="utf-8")
    return out


@pytest.mark.parametrize("case", CASES)
def test_c_and_opencl_sources_have_the_plain_structure(case, bundles):
    bundle, plain = bundles(case, "pynq-z2"), bundles(PLAIN, "pynq-z2")
    ours, theirs = c_sources(bundle.path), c_sources(plain.path)
    assert ours.keys() == theirs.keys() and "opencl/fa_kernel.cl" in ours and "hls/src/fa_top.cpp" in ours
    for rel, text in ours.items():
        assert same_structure(theirs[rel], text) is None, (rel, same_structure(theirs[rel], text))
        assert "\0" not in text and "\r" not in text
    # every file the bundle holds is named by plain words and stays inside it
    for p in bundle.path.rglob("*"):
        parts = p.relative_to(bundle.path).parts
        assert all(SAFE_PATH_PART.match(part) for part in parts), parts
        assert p.resolve().is_relative_to(bundle.path.resolve())


def test_the_structure_check_sees_a_comment_closed_by_a_name(bundles, monkeypatch):
    """Proof that the check above would fail: the OpenCL comment escaping this project had before
    (``*/`` only) lets a spliced ``*\\<newline>/`` close the comment and define code."""
    from fpga_accel.bundle_kernel import kernel_interface
    from fpga_accel.codegen.opencl import kernel
    from fpga_accel.compiler import load_qmodel

    def old_comment(text, limit=60):
        return text.replace("*/", "* /")

    qm_plain = load_qmodel(bundles(PLAIN, "pynq-z2"))
    qm = load_qmodel(bundles("spliced-star-slash", "pynq-z2"))
    monkeypatch.setattr(kernel, "c_comment", old_comment)
    src = kernel.kernel_source(qm, kernel_interface(qm)["args"])
    plain = kernel.kernel_source(qm_plain, kernel_interface(qm_plain)["args"])
    assert same_structure(plain, src) is not None
    assert ("ident", "fa_requantize") in c_tokens(src)[c_tokens(src).index(("punct", "}")):]


# --- HTML and the terminal -----------------------------------------------------------------------
class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("case", CASES)
def test_html_report_holds_names_as_text(case, bundles, canary):
    from fpga_accel.fold.report_html import render_html

    page = render_html(bundles(case, "pynq-z2").manifest)
    plain = _Page()
    plain.feed(render_html(bundles(PLAIN, "pynq-z2").manifest))
    parsed = _Page()
    parsed.feed(page)
    assert parsed.tags == plain.tags  # no element or script from a name
    assert all(c.isprintable() or c == "\n" for c in page)
    text = "".join(parsed.text)
    shown = escape.visible(name_of(case, canary))
    assert shown in text  # the graph name in the title, as the reader should see it


def saved_model(case: str, canary: Path, tmp: Path) -> Path:
    path = tmp / "m.onnx"
    onnx.save(hostile_cnn(name_of(case, canary)), str(path))
    np.save(tmp / "calib.npy", calibration())
    np.save(tmp / "x.npy", calibration()[:3])
    return path


def cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out + err


def assert_inert(text: str) -> None:
    bad = sorted({c for c in text if not c.isprintable() and c != "\n"})
    assert not bad, f"control or invisible characters reached the terminal: {bad}"


@pytest.mark.parametrize("case", CASES)
def test_terminal_output_holds_no_escape_or_markup(case, tmp_path, capsys, canary):
    model = saved_model(case, canary, tmp_path)
    shown = escape.visible(name_of(case, canary))
    code, inspect = cli(capsys, "inspect", model)
    assert code == 0, inspect
    code, compiled = cli(capsys, "compile", model, "-o", tmp_path / "b.fpga", "--calib", tmp_path / "calib.npy")
    assert code == 0, compiled
    code, report = cli(capsys, "report", tmp_path / "b.fpga", "--html", tmp_path / "r.html")
    assert code == 0, report
    code, ran = cli(capsys, "run", tmp_path / "b.fpga", "--input", tmp_path / "x.npy")
    assert code == 0, ran
    np.savez(tmp_path / "wrong.npz", other=calibration()[:1])
    code, error = cli(capsys, "run", tmp_path / "b.fpga", "--input", tmp_path / "wrong.npz")
    assert code == 2 and error.startswith("error: ")
    for text in (inspect, compiled, report, ran, error):
        assert_inert(text)
    if len(shown) < 200:  # printed whole: as text, markup and all
        assert shown in inspect and shown in compiled
    assert not (canary / case).exists()


def test_warnings_show_names_inert(tmp_path):
    """A warning that quotes a tensor name (all-zero calibration data), printed by the CLI's own
    warning display in a fresh process."""
    name = "\x1b[2J\x1b]0;t\x07\x9b31m[bold red]x\u2028\r"
    onnx.save(hostile_cnn(name), str(tmp_path / "m.onnx"))
    np.save(tmp_path / "zeros.npy", np.zeros((4, 2, 5, 5), np.float32))
    proc = subprocess.run([sys.executable, "-m", "fpga_accel.cli", "compile", str(tmp_path / "m.onnx"), "-o",
                           str(tmp_path / "b.fpga"), "--calib", str(tmp_path / "zeros.npy")],
                          check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "always"})
    assert proc.returncode == 0, proc.stderr
    assert "calibration range" in proc.stderr and escape.visible(name) in proc.stderr
    assert_inert(proc.stdout + proc.stderr)


def test_manifest_keeps_names_exactly(bundles, canary):
    """JSON needs no escaping of its own: the manifest holds the name as given."""
    m = json.loads((bundles("newline-exec", "pynq-z2").path / "manifest.json").read_text())
    assert m["model"]["name"] == name_of("newline-exec", canary)
    assert CANARY not in m["model"]["name"]
