"""Hostile caches and compilers: a cached binary is loaded only when it matches its record, else
rebuilt; a hanging compiler is killed with its children; Ctrl-C and SIGTERM leave nothing behind;
bad environment values give clear errors or documented warnings.

One real C-simulation build of digits_cnn gives the good library. Rebuilds then run a stand-in
compiler that copies it to its ``-o`` (and counts its calls), so every case can rebuild in
milliseconds; each case still loads what the cache holds and compares every output integer with
the emulator's.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import fpga_accel
from fpga_accel import cache as fcache
from fpga_accel.cache import CacheError, CacheWarning, entry_problem, record_path
from fpga_accel.emulator import csim_library as csim
from fpga_accel.emulator import fastconv
from fpga_accel.emulator.csim_library import CsimBuildError, CsimError, build_csim
from models import data

pytestmark = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("cc") is None,
                                reason="needs g++ and cc")
ROOT = Path(__file__).resolve().parents[1]
ROOT_USER = hasattr(os, "getuid") and os.getuid() == 0


def script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def copy_compiler(path: Path, good: Path) -> str:
    """A compiler that copies ``good`` to its ``-o`` argument and counts the libraries it made (not
    the objects of a parallel build) in ``path.calls``."""
    return script(path, f"""if [ "$1" = "--version" ]; then echo "copy-compiler 1"; exit 0; fi
out=""; prev=""
for a; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
case "$out" in *.so.tmp) echo x >> "{path}.calls";; esac
cp "{good}" "$out"
""")


def compiles(compiler: str) -> int:
    calls = Path(compiler + ".calls")
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def hanging_compiler(path: Path, pids: Path, version_hangs: bool = False) -> str:
    """A compiler that never finishes and leaves a sleeping child; writes both pids to ``pids``."""
    version = "" if version_hangs else 'if [ "$1" = "--version" ]; then echo "hang-compiler 1"; exit 0; fi\n'
    return script(path, f'{version}sleep 300 & echo $! >> "{pids}"; echo $$ >> "{pids}"; sleep 300\n')


def live(pids: list[int]) -> list[int]:
    """The pids still running (a zombie waiting for its parent counts as ended)."""
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state not in ("Z", "X"):
            out.append(pid)
    return out


def wait_dead(pids: list[int], seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while live(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return live(pids)


def read_pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".")) if directory.is_dir() else []


# --- one real build, shared -------------------------------------------------------------------------
OTHER_SOURCE = """\
extern "C" int fa_csim_run(const void* const*, void* const* outputs, unsigned n) { return 0; }
extern "C" int fa_csim_stage_count(void) { return 0; }
extern "C" const char* fa_csim_stage_name(int) { return ""; }
extern "C" unsigned long long fa_csim_stage_cycles(int) { return 0; }
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """digits_cnn with its HLS project; the good csim and fastconv libraries; another model's csim
    entry (library and record); the emulator's answer."""
    from fpga_accel.codegen.hls_project import generate_hls

    root = tmp_path_factory.mktemp("hostile")
    bundle = fpga_accel.compile(data.model_path("digits_cnn"), root / "digits.fpga",
                                calib=data.load_calib("digits_cnn"), progress=False, generators=[generate_hls])
    x = data.load_test("digits_cnn")[0][:16]
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CXX", raising=False)
        mp.delenv("CC", raising=False)
        mp.delenv(fastconv.ENV, raising=False)
        mp.setenv("FPGA_ACCEL_CACHE", str(root / "golden"))
        good_csim = build_csim(bundle, progress=False)
        mp.setattr(fastconv, "_loaded", {})
        assert fastconv.library() is not None
        good_fastconv = next((root / "golden" / "native").glob("fastconv-*.so"))
        other = root / "other" / "hls"
        (other / "csim").mkdir(parents=True)
        (other / "csim" / "fa_csim.cpp").write_text(OTHER_SOURCE)
        (other / "csim" / "build.json").write_text(json.dumps({"sources": ["csim/fa_csim.cpp"]}))
        mp.setenv("FPGA_ACCEL_CACHE", str(root / "other-cache"))
        other_lib = build_csim(other, progress=False)
        mp.setenv(fastconv.ENV, "0")
        with fpga_accel.Session(bundle, backend="emulator") as em:
            q = em.hardware_inputs(x)
            want = em.run(q, raw=True)
    return {"bundle": bundle, "q": q, "want": want, "good_csim": good_csim, "good_fastconv": good_fastconv,
            "other_lib": other_lib, "other_hls": other, "root": root}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(tmp_path / "cache"))
    for name in ("CXX", "CC", fastconv.ENV, csim.TIMEOUT_ENV, "FPGA_ACCEL_CSIM_LOOPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(fastconv, "_loaded", {})
    monkeypatch.setattr(fastconv, "_warned_values", set())
    return tmp_path


# --- corrupt entries --------------------------------------------------------------------------------
def _truncate(n):
    return lambda lib, w, out: lib.write_bytes(lib.read_bytes()[:n if n >= 0 else lib.stat().st_size + n])


def _truncate_to_half(lib, w, out):
    lib.write_bytes(lib.read_bytes()[:lib.stat().st_size // 2])


def _same_size(fill):
    return lambda lib, w, out: lib.write_bytes(fill(lib.stat().st_size))


def _flip_one_byte(lib, w, out):
    b = bytearray(lib.read_bytes())
    b[len(b) // 2] ^= 0x40
    lib.write_bytes(bytes(b))


def _other_library(lib, w, out):
    lib.write_bytes(w["other_lib"].read_bytes())


def _other_library_and_record(lib, w, out):
    lib.write_bytes(w["other_lib"].read_bytes())
    record_path(lib).write_bytes(record_path(w["other_lib"]).read_bytes())


def _record_of_other_key(lib, w, out):
    rec = json.loads(record_path(lib).read_text())
    rec["key"] = "0" * len(rec["key"])
    record_path(lib).write_text(json.dumps(rec))


def _record_matching_other_library(lib, w, out):
    """The other library with a record forged for this key: caught only by its hash."""
    rec = json.loads(record_path(lib).read_text())
    lib.write_bytes(w["other_lib"].read_bytes())
    rec["size"] = lib.stat().st_size
    record_path(lib).write_text(json.dumps(rec))


def _symlink_to_outside(lib, w, out):
    target = out / "library.so"
    shutil.copy(lib, target)
    lib.unlink()
    lib.symlink_to(target)


def _dangling_symlink(lib, w, out):
    lib.unlink()
    lib.symlink_to(out / "nothing-here.so")


def _directory(lib, w, out):
    lib.unlink()
    (lib / "sub").mkdir(parents=True)
    (lib / "sub" / "file").write_text("x")


def _fifo(lib, w, out):
    lib.unlink()
    os.mkfifo(lib)  # opening it to read would block for ever


def _unreadable(lib, w, out):
    lib.chmod(0)


def _record_symlink(lib, w, out):
    target = out / "record.json"
    shutil.copy(record_path(lib), target)
    record_path(lib).unlink()
    record_path(lib).symlink_to(target)


def _lock_symlink(lib, w, out):
    (out / "precious").write_text("keep me")
    lib.unlink()
    lib.with_suffix(".lock").unlink()
    lib.with_suffix(".lock").symlink_to(out / "precious")


def _temp_name_symlinks(lib, w, out):
    (out / "precious").write_text("keep me")
    (out / "dir").mkdir()
    (out / "dir" / "file").write_text("keep me")
    lib.unlink()
    (lib.parent / f"{fcache.temp_prefix(lib)}planted.so.tmp").symlink_to(out / "precious")
    (lib.parent / f"{fcache.temp_prefix(lib)}planted.obj").symlink_to(out / "dir")


def _killed_build_leftovers(lib, w, out):
    lib.unlink()
    (lib.parent / f"{fcache.temp_prefix(lib)}abcd.so.tmp").write_bytes(b"\x7fELF half")
    (lib.parent / f"{fcache.temp_prefix(lib)}abcd.obj").mkdir()
    (lib.parent / f"{fcache.temp_prefix(lib)}abcd.obj" / "0.o").write_bytes(b"o")


def _log_symlink(lib, w, out):
    (out / "precious").write_text("keep me")
    lib.unlink()
    lib.with_suffix(".log").unlink(missing_ok=True)
    lib.with_suffix(".log").symlink_to(out / "precious")


def _record_missing(lib, w, out):
    record_path(lib).unlink()


def _record_garbled(lib, w, out):
    record_path(lib).write_text('{"format": 1, "key": ')


def _record_huge(lib, w, out):
    record_path(lib).write_text(" " * (1 << 20) + "{}")


def _nothing(lib, w, out):
    pass


def _missing(lib, w, out):
    lib.unlink()


SHORT = "bytes where its record says"
DIFFERS = "its content differs from the sha256 recorded when it was built"
OTHER = "its record belongs to another cache entry"
# name: (corruption, a rebuild is expected, what the CacheWarning says or None for no warning)
CASES = {
    "intact": (_nothing, False, None),
    "missing": (_missing, True, None),
    "truncated-by-1-byte": (_truncate(-1), True, SHORT),
    "truncated-to-half": (_truncate_to_half, True, SHORT),
    "truncated-to-4096": (_truncate(4096), True, SHORT),
    "truncated-to-64": (_truncate(64), True, SHORT),
    "empty": (_truncate(0), True, "(empty)"),
    "zero-filled": (_same_size(lambda n: bytes(n)), True, DIFFERS),
    "random-bytes": (_same_size(lambda n: np.random.default_rng(1).bytes(n)), True, DIFFERS),
    "one-byte-flipped": (_flip_one_byte, True, DIFFERS),
    "other-model-library": (_other_library, True, SHORT),
    "other-model-library-and-record": (_other_library_and_record, True, OTHER),
    "other-model-library-forged-record": (_record_matching_other_library, True, DIFFERS),
    "record-missing": (_record_missing, True, "it has no record"),
    "record-garbled": (_record_garbled, True, "its record is unreadable"),
    "record-huge": (_record_huge, True, "its record is not a small regular file"),
    "record-of-other-key": (_record_of_other_key, True, OTHER),
    "record-is-symlink": (_record_symlink, True, "its record is not a small regular file"),
    "symlink-to-outside": (_symlink_to_outside, True, "(a symlink)"),
    "dangling-symlink": (_dangling_symlink, True, "(a symlink)"),
    "directory": (_directory, True, "(not a regular file)"),
    "fifo": (_fifo, True, "(not a regular file)"),
    # root reads a mode-000 file: then it verifies and is used as it is
    "unreadable": (_unreadable, not ROOT_USER, None if ROOT_USER else "unreadable"),
    "lock-symlink-to-outside": (_lock_symlink, True, "lock file"),
    "temp-name-symlinks": (_temp_name_symlinks, True, None),
    "killed-build-leftovers": (_killed_build_leftovers, True, None),
    "log-symlink-to-outside": (_log_symlink, True, None),
}


def _check_warning(caught, lib: Path, says: str | None) -> None:
    messages = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    if says is None:
        assert messages == []
    elif says == "lock file":
        outside = lib.parent.parent.parent / "outside" / "precious"
        assert messages == [f"the lock file {lib.with_suffix('.lock')} was a symlink (to {outside}); removed it"]
    else:
        assert len(messages) == 1 and messages[0].startswith(f"the cache entry {lib} was corrupt or unverified (")
        assert says in messages[0] and messages[0].endswith("); removed and rebuilt it"), messages


def _outside_intact(out: Path) -> None:
    for name in ("precious", "dir/file"):
        if (out / name).exists():
            assert (out / name).read_text() == "keep me"


@pytest.mark.parametrize("case", list(CASES))
def test_corrupt_csim_entry_is_rebuilt_and_runs_exactly(case, world, env, monkeypatch):
    corrupt, rebuilds, says = CASES[case]
    cxx = copy_compiler(env / "copy-g++", world["good_csim"])
    monkeypatch.setenv("CXX", cxx)
    lib = build_csim(world["bundle"], progress=False)
    assert compiles(cxx) >= 1 and entry_problem(lib, lib.stem) is None
    before = compiles(cxx)
    out = env / "outside"
    out.mkdir()
    corrupt(lib, world, out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fpga_accel.Session(world["bundle"], backend="csim") as s:
            got = s.run(world["q"], raw=True)
    for k, v in world["want"].items():
        np.testing.assert_array_equal(got[k], v)
    assert entry_problem(lib, lib.stem) is None  # healed: a whole, recorded library
    assert compiles(cxx) - before == (1 if rebuilds else 0)
    _check_warning(caught, lib, says)
    assert leftovers(lib.parent) == []
    _outside_intact(out)
    if case == "symlink-to-outside":
        assert (out / "library.so").read_bytes() == world["good_csim"].read_bytes()


FASTCONV_CASES = ["intact", "missing", "truncated-to-half", "empty", "random-bytes", "other-model-library",
                  "record-missing", "record-of-other-key", "symlink-to-outside", "directory", "fifo"]


@pytest.mark.parametrize("case", FASTCONV_CASES)
def test_corrupt_native_convolution_is_rebuilt_and_runs_exactly(case, world, env, monkeypatch):
    corrupt, rebuilds, says = CASES[case]
    cc = copy_compiler(env / "copy-cc", world["good_fastconv"])
    monkeypatch.setenv("CC", cc)
    assert fastconv.library() is not None
    # the entry moves to a cache this process has not loaded from: changing a loaded library in place
    # would crash this test with SIGBUS (the cache itself only ever renames whole files into place)
    shutil.copytree(env / "cache", env / "cache2")
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(env / "cache2"))
    lib = next((env / "cache2" / "native").glob("fastconv-*.so"))
    key = lib.stem.split("-", 1)[1]
    before = compiles(cc)
    out = env / "outside"
    out.mkdir()
    corrupt(lib, world, out)
    monkeypatch.setattr(fastconv, "_loaded", {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fastconv.library() is not None  # the native kernel again, not the numpy fallback
        with fpga_accel.Session(world["bundle"], backend="emulator") as em:
            got = em.run(world["q"], raw=True)
    for k, v in world["want"].items():  # want: computed by numpy alone
        np.testing.assert_array_equal(got[k], v)
    assert entry_problem(lib, key) is None
    assert compiles(cc) - before == (1 if rebuilds else 0)
    _check_warning(caught, lib, says)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert leftovers(lib.parent) == []


# --- compilers that hang, and signals during a compile ----------------------------------------------
def test_hanging_csim_compiler_is_killed_with_its_children(world, env, monkeypatch):
    pids = env / "pids"
    monkeypatch.setenv("CXX", hanging_compiler(env / "hang-g++", pids))
    start = time.monotonic()
    with pytest.raises(CsimBuildError, match=r"g\+\+ did not finish within 1 s \(raise it with "
                                             r"\$FPGA_ACCEL_CSIM_TIMEOUT\)\ncommand: (?s:.*)\nlog: .*\.log"):
        build_csim(world["bundle"], progress=False, timeout=1)
    assert time.monotonic() - start < 15
    assert len(read_pids(pids)) >= 2 and wait_dead(read_pids(pids)) == []
    cache = env / "cache" / "csim"
    assert leftovers(cache) == [] and not list(cache.glob("*.so")) and not list(cache.glob("*.json"))


def test_hanging_csim_version_probe_is_killed(world, env, monkeypatch):
    pids = env / "pids"
    monkeypatch.setenv("CXX", hanging_compiler(env / "hang-g++", pids, version_hangs=True))
    monkeypatch.setattr(csim, "VERSION_TIMEOUT", 0.5)
    with pytest.raises(CsimBuildError, match=r"hang-g\+\+ --version` did not answer within 0.5 s; killed it; "
                                             r"check the compiler \(\$CXX\)"):
        build_csim(world["bundle"], progress=False)
    assert len(read_pids(pids)) == 2 and wait_dead(read_pids(pids)) == []


@pytest.mark.parametrize("what", ["compile", "version"])
def test_hanging_c_compiler_falls_back_to_numpy_with_a_warning(what, world, env, monkeypatch):
    pids = env / "pids"
    monkeypatch.setenv("CC", hanging_compiler(env / "hang-cc", pids, version_hangs=what == "version"))
    monkeypatch.setattr(fastconv, "COMPILE_TIMEOUT", 0.5)
    monkeypatch.setattr(fastconv, "VERSION_TIMEOUT", 0.5)
    message = "did not answer within 0.5 s" if what == "version" else "did not finish within 0.5 s; killed it"
    with pytest.warns(RuntimeWarning, match=f"native convolution could not be built, numpy runs alone .*{message}"):
        assert fastconv.library() is None
    assert read_pids(pids) and wait_dead(read_pids(pids)) == []
    native = env / "cache" / "native"
    assert leftovers(native) == [] and not list(native.glob("*.so"))
    with fpga_accel.Session(world["bundle"], backend="emulator") as em:
        got = em.run(world["q"], raw=True)
    for k, v in world["want"].items():
        np.testing.assert_array_equal(got[k], v)


CHILD = """\
import sys
from pathlib import Path
if sys.argv[1] == "csim":
    from fpga_accel.emulator.csim_library import build_csim
    build_csim(sys.argv[2], progress=False, timeout=120)
else:
    from fpga_accel.emulator import fastconv
    fastconv.library()
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("what", ["csim", "fastconv"])
def test_signal_during_a_compile_ends_the_compiler_and_leaves_no_file(what, sig, world, env):
    pids = env / "pids"
    compiler = hanging_compiler(env / "hang-compiler", pids)
    child_env = dict(os.environ, FPGA_ACCEL_CACHE=str(env / "cache"), CXX=compiler, CC=compiler,
                     PYTHONPATH=str(ROOT))
    child_env.pop(fastconv.ENV, None)
    child = subprocess.Popen([sys.executable, "-c", CHILD, what, str(world["bundle"].path)], env=child_env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(read_pids(pids)) < 2 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert len(read_pids(pids)) >= 2, child.communicate()[0]
        child.send_signal(getattr(signal, sig))
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    expected = -signal.SIGINT if sig == "SIGINT" else 128 + signal.SIGTERM
    assert child.returncode == expected, out.decode(errors="replace")
    assert wait_dead(read_pids(pids)) == []
    part = env / "cache" / ("csim" if what == "csim" else "native")
    assert leftovers(part) == [] and not list(part.glob("*.so")) and not list(part.glob("*.json"))


# --- bad environment values and cache directories --------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "-5", "0", "inf", "nan", "1e999"])
def test_bad_csim_timeout_variable_is_a_clear_error(value, world, env, monkeypatch):
    monkeypatch.setenv(csim.TIMEOUT_ENV, value)
    with pytest.raises(CsimBuildError, match=rf"\$FPGA_ACCEL_CSIM_TIMEOUT='{value}': expected a positive, finite "
                                             r"number of seconds"):
        build_csim(world["bundle"], progress=False)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0, "soon"])
def test_bad_csim_timeout_argument_is_a_clear_error(value, world, env):
    with pytest.raises(CsimBuildError, match=r"timeout=.*: expected a positive, finite number of seconds"):
        build_csim(world["bundle"], progress=False, timeout=value)


def test_bad_csim_timeout_variable_through_the_cli_exits_2(world, env, monkeypatch, capsys):
    from fpga_accel.cli import main

    np.save(env / "x.npy", data.load_test("digits_cnn")[0][:2])
    monkeypatch.setenv(csim.TIMEOUT_ENV, "abc")
    code = main(["run", str(world["bundle"].path), "--input", str(env / "x.npy"), "--backend", "csim"])
    err = capsys.readouterr().err
    assert code == 2 and "$FPGA_ACCEL_CSIM_TIMEOUT='abc': expected a positive, finite number" in err
    assert "Traceback" not in err


def test_bad_csim_loops_variable_is_a_clear_error(world, env, monkeypatch):
    monkeypatch.setenv("CXX", copy_compiler(env / "copy-g++", world["good_csim"]))
    monkeypatch.setenv("FPGA_ACCEL_CSIM_LOOPS", "maybe")
    with pytest.raises(CsimError, match=r"\$FPGA_ACCEL_CSIM_LOOPS='maybe': expected 1 \(simulate the synthesis "
                                        r"loops\) or 0"):
        fpga_accel.Session(world["bundle"], backend="csim")


@pytest.mark.parametrize("value,on,warns", [("maybe", True, True), ("off", False, False), ("0", False, False),
                                            ("yes", True, False)])
def test_native_variable_values(value, on, warns, env, monkeypatch, recwarn):
    monkeypatch.setenv(fastconv.ENV, value)
    assert fastconv.enabled() is on and fastconv.enabled() is on
    got = [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)]
    want = (f"$FPGA_ACCEL_NATIVE='{value}' is neither 1 nor 0; the native convolution stays on (set it to 0 for "
            "numpy alone)")
    assert got == ([want] if warns else [])  # once, not per call


def _relative(env):
    return "relative/cache", r"\$FPGA_ACCEL_CACHE='relative/cache' is a relative path"


def _a_file(env):
    (env / "afile").write_text("x")
    return str(env / "afile"), r"cannot create the cache directory .*afile.* set \$FPGA_ACCEL_CACHE"


def _under_a_file(env):
    (env / "afile").write_text("x")
    return str(env / "afile" / "cache"), r"cannot create the cache directory .*afile/cache \(Not a directory\)"


def _part_symlink(env):
    (env / "cache").mkdir()
    (env / "elsewhere").mkdir(mode=0o700)
    for part in ("csim", "native"):
        (env / "cache" / part).symlink_to(env / "elsewhere")
    return str(env / "cache"), r"the cache directory .*cache/(csim|native) is a symlink \(to .*elsewhere\).*remove"


def _part_writable_by_others(env):
    for part in ("csim", "native"):
        (env / "cache" / part).mkdir(parents=True)
        (env / "cache" / part).chmod(0o777)
    return str(env / "cache"), r"cache/(csim|native) is writable by other users \(mode 777\).*chmod 700"


def _part_of_another_user(env):
    if not ROOT_USER:
        pytest.skip("making a directory of another user needs root")
    for part in ("csim", "native"):
        (env / "cache" / part).mkdir(parents=True, mode=0o700)
        os.chown(env / "cache" / part, 65534, 65534)
    return str(env / "cache"), r"cache/(csim|native) belongs to another user \(uid 65534\)"


def _root_open_to_all(env):
    (env / "cache").mkdir()
    (env / "cache").chmod(0o777)
    return str(env / "cache"), r"the cache directory .*cache is writable by everyone"


BAD_CACHES = {"relative-path": _relative, "a-file": _a_file, "under-a-file": _under_a_file,
              "part-is-symlink": _part_symlink, "part-writable-by-others": _part_writable_by_others,
              "part-of-another-user": _part_of_another_user, "root-writable-by-all": _root_open_to_all}


@pytest.mark.parametrize("case", list(BAD_CACHES))
def test_unusable_cache_directory_is_a_clear_error_for_csim(case, world, env, monkeypatch):
    value, message = BAD_CACHES[case](env)
    monkeypatch.setenv("FPGA_ACCEL_CACHE", value)
    monkeypatch.setenv("CXX", copy_compiler(env / "copy-g++", world["good_csim"]))
    with pytest.raises(CsimBuildError, match=message):
        build_csim(world["bundle"], progress=False)
    assert not list((env / "elsewhere").glob("*")) if (env / "elsewhere").exists() else True


@pytest.mark.parametrize("case", ["relative-path", "part-is-symlink", "part-writable-by-others"])
def test_unusable_cache_directory_means_numpy_with_a_warning(case, world, env, monkeypatch):
    value, message = BAD_CACHES[case](env)
    monkeypatch.setenv("FPGA_ACCEL_CACHE", value)
    with pytest.warns(RuntimeWarning, match="native convolution could not be built, numpy runs alone .*" + message):
        assert fastconv.library() is None


def test_cache_root_may_be_a_symlink_of_the_user(world, env, monkeypatch):
    (env / "disk").mkdir(mode=0o700)
    (env / "link").symlink_to(env / "disk")
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(env / "link"))
    monkeypatch.setenv("CXX", copy_compiler(env / "copy-g++", world["good_csim"]))
    lib = build_csim(world["bundle"], progress=False)
    assert (env / "disk" / "csim" / lib.name).is_file()
    assert stat.S_IMODE((env / "disk" / "csim").stat().st_mode) == 0o700


def test_new_cache_directories_are_private(world, env, monkeypatch):
    monkeypatch.setenv("CXX", copy_compiler(env / "copy-g++", world["good_csim"]))
    lib = build_csim(world["bundle"], progress=False)
    for d in (env / "cache", env / "cache" / "csim"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    rec = json.loads(record_path(lib).read_text())
    assert rec["key"] == lib.stem and rec["size"] == lib.stat().st_size and rec["inputs"]["compiler"].endswith(
        "copy-g++")


def test_cache_errors_are_fpga_accel_errors():
    assert issubclass(CacheError, fpga_accel.errors.FpgaAccelError)


# --- bundles shipped to a node ----------------------------------------------------------------------
def _edit_weights(dest):
    f = next(p for p in sorted(dest.rglob("*")) if p.is_file() and p.name != "manifest.json")
    f.write_bytes(f.read_bytes()[:-1] + bytes([f.read_bytes()[-1] ^ 1]))


def _add_file(dest):
    (dest / "bitstream").mkdir(exist_ok=True)
    (dest / "bitstream" / "planted.xclbin").write_bytes(b"xclbin2")


def _remove_file(dest):
    next(p for p in sorted(dest.rglob("*")) if p.is_file() and p.name != "manifest.json").unlink()


@pytest.mark.parametrize("damage", [_edit_weights, _add_file, _remove_file], ids=["edited", "added", "removed"])
def test_damaged_unpacked_bundle_is_unpacked_again(damage, world, env):
    from fpga_accel.distributed.ship import pack, unpack

    blob = pack(world["bundle"].path)
    dest = unpack(blob, "digits.fpga")
    files = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    damage(dest)
    with pytest.warns(CacheWarning, match=r"the cached bundle .*digits.fpga was corrupt \(.*\); unpacking it again"):
        again = unpack(blob, "digits.fpga")
    assert again == dest
    assert {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == files
    assert leftovers(dest.parent) == []


# --- libraries loaded by path, and the native host's CMake build ----------------------------------
CUTS = {"truncated-to-half": lambda b: b[:len(b) // 2], "truncated-by-1-byte": lambda b: b[:-1],
        "empty": lambda b: b"", "not-elf": lambda b: b"#!/bin/sh\n" + b[10:]}


@pytest.mark.parametrize("cut", list(CUTS))
def test_cut_short_library_is_refused_before_dlopen(cut, world, env):
    from fpga_accel.runtime.backends import native

    bad = env / f"lib-{cut}.so"
    bad.write_bytes(CUTS[cut](world["good_csim"].read_bytes()))
    why = "not an ELF file" if cut in ("empty", "not-elf") else "cut short at"
    with pytest.raises(CsimError, match=f"lib-{cut}.so: not a loadable C-simulation library \\({why}"):
        csim.CsimLibrary(bad)
    with pytest.raises(native.NativeHostError, match=f"lib-{cut}.so: not a loadable native host library "
                                                     f"\\({why}.*rebuild it"):
        native.load_library(bad)


def test_hanging_cmake_is_killed_with_its_children(env, monkeypatch):
    from fpga_accel.runtime.backends import native

    if not (native.HOST_SOURCE / "CMakeLists.txt").is_file():
        pytest.skip("no host sources in this checkout")
    pids = env / "pids"
    cmake = hanging_compiler(env / "cmake", pids)
    real_which = shutil.which
    monkeypatch.setattr(native.shutil, "which", lambda name, *a, **k: cmake if name == "cmake" else
                        real_which(name, *a, **k))
    with pytest.raises(native.NativeBuildError, match=r"cmake -S .* did not finish within 0.5 s"):
        native.build_host(env / "build", timeout=0.5)
    assert len(read_pids(pids)) == 2 and wait_dead(read_pids(pids)) == []


# build.json comes with the bundle: it may not steer g++ outside the project
@pytest.mark.parametrize("key,value", [
    ("sources", ["../../../etc/passwd"]),
    ("sources", ["/etc/hostname"]),
    ("include_dirs", ["/usr/include/../../etc"]),
    ("include_dirs", [".."]),
    ("cxxflags", ["-fplugin=/tmp/evil.so"]),
    ("cxxflags", ["-o/tmp/owned"]),
    ("cxxflags", ["-include/etc/shadow"]),
    ("cxxflags", ["@/tmp/response-file"]),
    ("cxxflags", ["-B/tmp/fake-binutils"]),
    ("cxxflags", ["-specs=/tmp/evil.specs"]),
    ("cxxflags", ["-Wl,-rpath,/tmp"]),
    ("defines", ["X=$(touch /tmp/pwned)"]),
    ("defines", ["X\nY"]),
    ("defines", ["-include/etc/shadow"]),
])
def test_build_json_cannot_steer_the_compiler(tmp_path, key, value):
    from fpga_accel.emulator.csim_library import CsimBuildError, read_build_spec

    hls = tmp_path / "hls"
    (hls / "csim").mkdir(parents=True)
    (hls / "csim" / "fa_csim.cpp").write_text("int x;\n")
    (hls / "include").mkdir()
    spec = {"sources": ["csim/fa_csim.cpp"], "include_dirs": ["include"], "defines": ["FA_OK=1"],
            "cxxflags": ["-O2", "-w"]}
    (hls / "csim" / "build.json").write_text(json.dumps(spec))
    assert read_build_spec(hls)["cxxflags"] == ["-O2", "-w"]
    (hls / "csim" / "build.json").write_text(json.dumps({**spec, key: value}))
    with pytest.raises(CsimBuildError, match="build.json") as e:
        read_build_spec(hls)
    assert repr(value[0])[1:-1][:20] in str(e.value) or value[0][:20] in str(e.value)
