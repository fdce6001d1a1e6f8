"""Faults leave nothing behind: Ctrl-C, SIGTERM or a timeout during any build step ends the tool
and every process it started and removes the step's partial outputs, and the next build redoes
that step; a full disk or a kill while writing leaves the old file or none, never a part of one.

The vendor tools are the recording stand-ins of tests/stand_ins, except the tool of the step under
test, which writes partial outputs, starts a child process and sleeps.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from stand_ins.helpers import calls, compile_bundle, use_stand_ins

from fpga_accel import safe_fs
from fpga_accel.bundle_bitstream import RECORD
from fpga_accel.cli import main
from fpga_accel.flow import BuildError, ToolFailedError, build
from fpga_accel.flow import bitstream_registry as reg

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")

SLOW_TOOL = r'''
import os, subprocess, sys, time
from pathlib import Path
bundle = Path(os.environ["FA_SLOW_BUNDLE"])
for rel in os.environ["FA_SLOW_PARTIAL"].split(":"):
    (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
    (bundle / rel).write_text("PARTIAL")
Path("partial-project-file").write_text("PARTIAL")
child = subprocess.Popen(["sleep", "300"])
pids = Path(os.environ["FA_SLOW_PIDS"])
pids.with_suffix(".tmp").write_text(f"{os.getpid()} {child.pid} {os.getpgid(0)}")
os.replace(pids.with_suffix(".tmp"), pids)
time.sleep(300)
'''

# (board, step, the tool the step starts, files the slow tool leaves half-written, the step's tools before it)
STEPS = {
    "zynq-hls": ("pynq-z2", "hls", "vitis_hls", ["build/hls/sol/syn/report/csynth.xml"], []),
    "zynq-vivado": ("pynq-z2", "vivado", "vivado", ["bitstream/fa_overlay.bit", "build/vivado/reports/utilization.rpt"],
                    ["vitis_hls"]),
    "vitis-hls": ("alveo-u50", "hls", "vitis_hls", ["build/hls/sol/fa_kernel.xo"], []),
    "vitis-link": ("alveo-u50", "link", "v++", ["bitstream/fa_kernel.xclbin"], ["vitis_hls"]),
    "f1-afi": ("aws-f1", "afi", "create_vitis_afi.sh", ["bitstream/fa_kernel.awsxclbin", "bitstream/afi.json"],
               ["vitis_hls", "v++"]),
}
FINAL = {"pynq-z2": "bitstream/fa_overlay.bit", "alveo-u50": "bitstream/fa_kernel.xclbin",
         "aws-f1": "bitstream/fa_kernel.awsxclbin"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """One compiled bundle per board, copied by each test (compiling is the slow part)."""
    made = {}

    def get(board):
        if board not in made:
            made[board] = compile_bundle(tmp_path_factory.mktemp(board) / "m.fpga", board).path
        return made[board]
    return get


def fresh_bundle(compiled, board, tmp_path) -> Path:
    dest = tmp_path / "m.fpga"
    shutil.copytree(compiled(board), dest)
    return dest


def slow_tool(tmp_path, tool, bundle, partial) -> tuple[Path, dict]:
    """A PATH directory whose ``tool`` is the slow one, and the environment it reads."""
    bindir = tmp_path / "slow_bin"
    bindir.mkdir()
    (tmp_path / "slow_tool.py").write_text(SLOW_TOOL)
    wrapper = bindir / tool
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{tmp_path / "slow_tool.py"}"\n')
    wrapper.chmod(0o755)
    env = {"FA_SLOW_BUNDLE": str(bundle), "FA_SLOW_PARTIAL": ":".join(partial), "FA_SLOW_PIDS": str(tmp_path / "pids")}
    return bindir, env


def wait_for(path: Path, proc: subprocess.Popen | None = None, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the build ended ({proc.returncode}) before the slow tool started:\n"
                                 f"{proc.stdout.read() if proc.stdout else ''}")
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)
    return path.read_text()


def alive_in_group(pgid: int) -> list[int]:
    """Processes (zombies aside) of process group ``pgid``."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
            if fields[0] != "Z" and int(fields[2]) == pgid:
                out.append(int(d.name))
    return out


def assert_group_gone(pids: str) -> None:
    tool, child, pgid = map(int, pids.split())
    deadline = time.monotonic() + 10
    while alive_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive_in_group(pgid) == [], f"processes of the tool's group {pgid} survived (tool {tool}, child {child})"


def assert_step_cleared(bundle: Path, step: str, cwd: str, partial: list[str]) -> None:
    assert not (bundle / cwd).exists(), f"{cwd} of the interrupted step is left"
    left = [p for p in partial if (bundle / p).exists()]
    assert left == [], f"partial outputs left: {left}"
    state = json.loads((bundle / "build/state.json").read_text())
    assert state["steps"][step]["status"] == "interrupted"
    assert not list(bundle.rglob("*.tmp")), "a temporary file is left"


def resume_completes(bundle: Path, board: str, before: list[str], tool: str, record: Path, monkeypatch) -> None:
    """A second build runs the interrupted step (not the ones finished before it) and finishes."""
    if board == "aws-f1":
        monkeypatch.setenv("FA_S3_BUCKET", "fa-test-bucket")
    done = len(calls(record))
    build(bundle, registry=False, echo=lambda s: None)
    rerun = [c["tool"] for c in calls(record)[done:]]
    assert rerun[0] == tool and not set(before) & set(rerun), f"not resumed at the interrupted step: {rerun}"
    assert (bundle / FINAL[board]).is_file()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("case", list(STEPS))
def test_signal_during_a_step_kills_the_tool_group_and_removes_partial_outputs(case, sig, compiled, tmp_path,
                                                                               monkeypatch):
    board, step, tool, partial, before = STEPS[case]
    bundle = fresh_bundle(compiled, board, tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    monkeypatch.setenv("FA_HLS_TOOL", "vitis_hls")  # no version query: only the step may start the slow tool
    bindir, slow_env = slow_tool(tmp_path, tool, bundle, partial)
    env = {**os.environ, **slow_env, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
           "FA_S3_BUCKET": "fa-test-bucket"}
    proc = subprocess.Popen([sys.executable, "-m", "fpga_accel.cli", "build", str(bundle), "--no-registry"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        pids = wait_for(tmp_path / "pids", proc)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (130 if sig == signal.SIGINT else 143), out
    assert ("interrupted" if sig == signal.SIGINT else "terminated") in out and "internal error" not in out
    assert_group_gone(pids)
    assert_step_cleared(bundle, step, f"build/{step}", partial)
    assert "interrupted; the step's partial outputs were removed" in (bundle / f"build/logs/{step}.log").read_text()
    resume_completes(bundle, board, before, tool, record, monkeypatch)


@pytest.mark.parametrize("case", ["zynq-vivado", "vitis-link"])
def test_a_step_past_its_timeout_is_stopped_with_its_children(case, compiled, tmp_path, monkeypatch):
    board, step, tool, partial, before = STEPS[case]
    bundle = fresh_bundle(compiled, board, tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    monkeypatch.setenv("FA_HLS_TOOL", "vitis_hls")  # no version query: only the step may start the slow tool
    bindir, slow_env = slow_tool(tmp_path, tool, bundle, partial)
    for k, v in slow_env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ToolFailedError, match=r"did not finish within the timeout of 4 s") as err:
        build(bundle, registry=False, echo=lambda s: None, timeout=4)
    assert err.value.step == step and err.value.status is None
    assert_group_gone((tmp_path / "pids").read_text())
    assert not (bundle / f"build/{step}").exists() and not [p for p in partial if (bundle / p).exists()]
    assert json.loads((bundle / "build/state.json").read_text())["steps"][step]["status"] == "failed"
    monkeypatch.setenv("PATH", os.environ["PATH"].split(os.pathsep, 1)[1])
    resume_completes(bundle, board, before, tool, record, monkeypatch)


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 0, -5, "10", True], ids=repr)
def test_a_timeout_that_is_no_duration_is_refused(bad, compiled, tmp_path):
    with pytest.raises(BuildError, match="positive, finite number of seconds"):
        build(compiled("pynq-z2"), timeout=bad, registry=False)


# --- a full disk -------------------------------------------------------------------------------

@pytest.fixture
def full_disk(tmp_path):
    """A directory on a 64 KiB tmpfs and the function that fills it up (skipped where mounting is not permitted)."""
    where = tmp_path / "small"
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                                           capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount permission)")

    def fill():
        try:
            with open(where / "filler", "wb") as f:
                f.write(b"\0" * 65536)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    yield where, fill
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture(scope="module")
def runnable(compiled, tmp_path_factory):
    """A bundle and a .npy of 64 inputs for `fpga-accel run`."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    import data

    x = tmp_path_factory.mktemp("inputs") / "x.npy"
    np.save(x, np.asarray(data.load_calib("mnist_cnn"))[:64].astype(np.float32))
    return compiled("pynq-z2"), x


@pytest.mark.parametrize("name,old", [("y.npy", None), ("y.npz", None), ("y.npy", b"OLD CONTENT")],
                         ids=["npy", "npz", "npy-over-an-old-file"])
def test_run_output_on_a_full_disk_leaves_the_old_file_or_none(name, old, runnable, full_disk, capsys):
    bundle, x = runnable
    where, fill = full_disk
    if old is not None:
        (where / name).write_bytes(old)
    fill()
    assert main(["run", str(bundle), "--input", str(x), "-o", str(where / name)]) == 2
    assert "cannot write the outputs" in capsys.readouterr().err
    assert sorted(p.name for p in where.iterdir()) == sorted(["filler"] + ([name] if old else []))
    if old is not None:
        assert (where / name).read_bytes() == old
    (where / "filler").unlink()
    assert main(["run", str(bundle), "--input", str(x), "-o", str(where / name)]) == 0
    assert np.load(where / name).shape[0] == 64 if name.endswith(".npy") else len(np.load(where / name).files) == 1


def test_html_report_on_a_full_disk_is_a_clear_error_and_no_file(runnable, full_disk, capsys):
    bundle, _x = runnable
    where, fill = full_disk
    fill()
    assert main(["report", str(bundle), "--html", str(where / "r.html")]) == 2
    assert "cannot write the HTML report" in capsys.readouterr().err
    assert [p.name for p in where.iterdir()] == ["filler"]


def test_registry_on_a_full_disk_keeps_its_index_and_leaves_no_partial_entry(compiled, tmp_path, full_disk,
                                                                              monkeypatch):
    where, fill = full_disk
    bundle = fresh_bundle(compiled, "pynq-z2", tmp_path)
    use_stand_ins(monkeypatch, tmp_path)
    build(bundle, registry=False, echo=lambda s: None)
    fill()
    with pytest.raises(BuildError, match="registry"):
        build(bundle, registry=where, echo=lambda s: None)
    assert [p.name for p in where.iterdir() if p.name != ".index.lock"] == ["filler"]
    (where / "filler").unlink()
    build(bundle, registry=where, echo=lambda s: None)
    assert len(reg.read_index(where)["bitstreams"]) == 1


def no_space_for(target: str, monkeypatch) -> None:
    """Make the atomic writer run out of space once the data of a file named ``target`` is written
    (as a full disk shows at the flush before the rename)."""
    real = safe_fs.atomic_output

    @contextmanager
    def atomic_output(path, mode=0o644):
        with real(path, mode) as tmp:
            yield tmp
            if Path(path).name == target:
                raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(safe_fs, "atomic_output", atomic_output)


@pytest.mark.parametrize("target,rel", [("state.json", "build/state.json"), ("bitstream.json", RECORD),
                                        ("index.json", "../reg/index.json"), ("manifest.json", "manifest.json")],
                         ids=["state", "bitstream-record", "index", "manifest"])
def test_a_build_writer_out_of_space_keeps_the_old_file(target, rel, compiled, tmp_path, monkeypatch):
    bundle = fresh_bundle(compiled, "pynq-z2", tmp_path)
    use_stand_ins(monkeypatch, tmp_path)
    build(bundle, registry=tmp_path / "reg", echo=lambda s: None)
    (bundle / "bitstream/fa_overlay.bit").write_text("changed")  # the vivado step runs again
    before = (bundle / rel).read_bytes()
    with monkeypatch.context() as m:
        no_space_for(target, m)
        with pytest.raises(BuildError, match="cannot write.*No space left"):
            build(bundle, registry=tmp_path / "reg", echo=lambda s: None)
    assert (bundle / rel).read_bytes() == before
    assert not list(tmp_path.rglob(f".{target}.*")), "a temporary file is left"
    build(bundle, registry=tmp_path / "reg", echo=lambda s: None)
    assert (bundle / "bitstream/fa_overlay.bit").read_text() != "changed"


def test_registry_copy_out_of_space_leaves_no_partial_entry(compiled, tmp_path, monkeypatch):
    bundle = fresh_bundle(compiled, "pynq-z2", tmp_path)
    use_stand_ins(monkeypatch, tmp_path)
    build(bundle, registry=False, echo=lambda s: None)
    real, copied = shutil.copyfile, []

    def copyfile(src, dst, **kw):  # the second file of the entry does not fit
        if copied:
            raise OSError(errno.ENOSPC, "No space left on device")
        copied.append(src)
        return real(src, dst, **kw)
    with monkeypatch.context() as m:
        m.setattr(shutil, "copyfile", copyfile)
        with pytest.raises(BuildError, match="cannot copy .* into the registry"):
            build(bundle, registry=tmp_path / "reg", echo=lambda s: None)
    assert [p.name for p in (tmp_path / "reg").iterdir() if p.name != ".index.lock"] == []
    build(bundle, registry=tmp_path / "reg", echo=lambda s: None)
    (entry,) = reg.read_index(tmp_path / "reg")["bitstreams"]
    assert (tmp_path / "reg" / entry["id"] / "fa_overlay.bit").is_file()


# --- killed while writing ----------------------------------------------------------------------

SLOW_SAVE = r'''
import sys, time
from pathlib import Path
import numpy as np
def slow_save(f, a, **kw):
    f.write(b"\x93NUMPY" + b"x" * 4096)
    f.flush()
    Path(sys.argv[1]).write_text("writing")
    time.sleep(60)
np.save = slow_save
from fpga_accel.cli import main
sys.exit(main(sys.argv[2:]))
'''


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_killed_while_writing_the_outputs_leaves_no_partial_file(sig, code, runnable, tmp_path):
    bundle, x = runnable
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "slow_save.py").write_text(SLOW_SAVE)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "slow_save.py"), str(tmp_path / "writing"), "run",
                             str(bundle), "--input", str(x), "-o", str(out / "y.npy")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(tmp_path / "writing", proc)
        proc.send_signal(sig)
        text, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, text
    assert not (out / "y.npy").exists()
    left = [p.name for p in out.iterdir()]
    # even SIGKILL, which cannot be caught: the data was in a nameless file until complete
    assert left == []
