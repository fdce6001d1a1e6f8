"""safe_fs: whole-or-nothing writes (nameless file on Linux, hidden sibling elsewhere), private
directories, lock files and paths that stay inside their folder."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from fpga_accel import safe_fs
from fpga_accel.safe_fs import (UnsafePathError, atomic_output, atomic_write_bytes, inside, open_lock_file,
                                private_dir)


@pytest.fixture(params=["nameless", "sibling"])
def writer(request, monkeypatch):
    if request.param == "sibling":
        monkeypatch.setattr(safe_fs, "_nameless_file", lambda folder: None)
    elif safe_fs._nameless_file(os.getcwd()) is None:  # noqa: SLF001
        pytest.skip("no O_TMPFILE here")
    return request.param


def test_a_write_lands_whole_with_its_mode(writer, tmp_path):
    dest = tmp_path / "out.bin"
    atomic_write_bytes(dest, b"first")
    atomic_write_bytes(dest, b"second", mode=0o600)
    assert dest.read_bytes() == b"second"
    assert oct(dest.stat().st_mode & 0o777) == oct(0o600)
    assert os.listdir(tmp_path) == ["out.bin"]


def test_an_error_while_writing_keeps_the_old_file(writer, tmp_path):
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert dest.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


KILLED_WRITER = """
import os, sys, time
from fpga_accel.safe_fs import atomic_output
with atomic_output(sys.argv[1]) as tmp, open(tmp, "wb") as f:
    f.write(b"x" * 4096)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_sigkill_while_writing_leaves_nothing(tmp_path):
    if safe_fs._nameless_file(tmp_path) is None:  # noqa: SLF001
        pytest.skip("no O_TMPFILE here: a killed writer leaves its hidden sibling")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "y.npy")], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert os.listdir(tmp_path) == []


def test_private_dir_refuses_what_others_could_plant(tmp_path):
    made = private_dir("fa", base=tmp_path)
    assert oct(made.stat().st_mode & 0o777) == oct(0o700)
    assert private_dir("fa", base=tmp_path) == made
    (tmp_path / f"link-{os.getuid()}").symlink_to(made)
    with pytest.raises(UnsafePathError, match="not a directory"):
        private_dir("link", base=tmp_path)
    open_dir = tmp_path / f"open-{os.getuid()}"
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o777)
    with pytest.raises(UnsafePathError, match="open to others"):
        private_dir("open", base=tmp_path)


def test_lock_files_follow_no_symlink_and_keep_their_target(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "0.lock").symlink_to(victim)
    with pytest.raises(UnsafePathError, match="lock file"):
        open_lock_file(tmp_path / "0.lock")
    assert victim.read_text() == "precious"
    with open_lock_file(tmp_path / "1.lock") as f:
        assert f.writable()
    assert oct((tmp_path / "1.lock").stat().st_mode & 0o777) == oct(0o600)


@pytest.mark.parametrize("rel", ["../x", "/etc/passwd", "a/../../x", "", "~/x", "a\0b"])
def test_inside_refuses_paths_that_leave(tmp_path, rel):
    with pytest.raises(UnsafePathError):
        inside(tmp_path, rel)


def test_inside_refuses_a_symlink_out_and_keeps_plain_paths(tmp_path):
    (tmp_path / "out").symlink_to("/etc")
    with pytest.raises(UnsafePathError, match="symlink"):
        inside(tmp_path, "out/passwd")
    assert inside(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt"


def test_a_missing_folder_is_the_callers_oserror(writer, tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "no" / "out.bin", b"x")
    assert os.listdir(tmp_path) == []
