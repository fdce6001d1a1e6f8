"""C simulation: building the g++ library (cache, atomic write, errors), loading it, the csim backend.

A small hand-written project stands in for a generated one: ``out = clamp(in + ADD)`` on int8
images of 6 values, through the same C ABI and build.json the HLS generator writes.
"""
from __future__ import annotations

import json
import shutil
import stat
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import fpga_accel
from fpga_accel import toolchain
from fpga_accel.emulator import csim_library as csim
from fpga_accel.emulator.csim_library import CsimBuildError, CsimError, CsimLibrary, build_csim
from fpga_accel.runtime.backends import get_backend

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")

HEADER = """\
#ifndef FIXTURE_H
#define FIXTURE_H
#include <ap_int.h>
#define IMG 6
// in + ADD saturated to int8, computed in a 9-bit ap_int like the generated PEs would
inline signed char clamp_add(signed char x) {
    ap_int<9> s = ap_int<9>(x) + ap_int<9>(ADD);
    return s > 127 ? 127 : (s < -128 ? -128 : (signed char)s.to_int());
}
#endif
"""

SOURCE = """\
#include "fixture.h"
static unsigned long long cycles[2];
extern "C" int fa_csim_run(const void* const* inputs, void* const* outputs, unsigned n_images) {
    if (n_images > 1000) return 3;  // the fixture's stand-in for a failure inside the simulation
    const signed char* in = (const signed char*)inputs[0];
    signed char* out = (signed char*)outputs[0];
    cycles[0] = cycles[1] = 0;
    for (unsigned i = 0; i < n_images * IMG; i++) { out[i] = clamp_add(in[i]); cycles[0]++; }
    cycles[1] = n_images;
    return 0;
}
extern "C" int fa_csim_stage_count(void) { return 2; }
extern "C" const char* fa_csim_stage_name(int i) { return i == 0 ? "add/eltwise" : "out/maxi_io"; }
extern "C" unsigned long long fa_csim_stage_cycles(int i) { return cycles[i]; }
"""


def write_project(root: Path, add: int = 1, source: str = SOURCE, cxxflags=("-Wall",)) -> Path:
    hls = root / "hls"
    (hls / "csim").mkdir(parents=True, exist_ok=True)
    (hls / "include").mkdir(exist_ok=True)
    (hls / "include" / "fixture.h").write_text(HEADER)
    (hls / "csim" / "fa_csim.cpp").write_text(source)
    (hls / "csim" / "build.json").write_text(json.dumps({
        "sources": ["csim/fa_csim.cpp"], "include_dirs": ["include"], "defines": [f"ADD={add}"],
        "cxxflags": list(cxxflags)}))
    return hls


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(d))
    monkeypatch.delenv("CXX", raising=False)
    return d / "csim"


@pytest.fixture
def compiles(monkeypatch):
    """Counts the compiler runs of build_csim (``--version`` queries are not compiles)."""
    calls = []
    real = csim._run_compiler

    def counting(cmd, *a, **k):
        calls.append(cmd)
        return real(cmd, *a, **k)

    monkeypatch.setattr(csim, "_run_compiler", counting)
    return calls


def fake_cxx(tmp_path: Path, body: str) -> str:
    """A compiler script: answers ``--version`` like g++ and runs ``body`` for a compile."""
    p = tmp_path / "fake-g++"
    p.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then exec g++ --version; fi\n{body}\n')
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return str(p)


def test_build_runs_and_counts_cycles(tmp_path, cache, compiles):
    lib_path = build_csim(write_project(tmp_path), progress=False)
    assert lib_path.parent == cache and lib_path.suffix == ".so" and len(lib_path.stem) == 64
    assert len(compiles) == 1 and (cache / f"{lib_path.stem}.log").is_file()
    lib = CsimLibrary(lib_path)
    x = np.random.default_rng(0).integers(-128, 128, (9, 2, 3), dtype=np.int8)
    x[0, 0, :] = [127, 126, -128]
    y = np.empty_like(x)
    lib.run([x], [y], 9)
    np.testing.assert_array_equal(y, np.clip(x.astype(np.int16) + 1, -128, 127).astype(np.int8))
    assert lib.stage_cycles() == {"add/eltwise": 9 * 6, "out/maxi_io": 9}
    lib.run([x[:4]], [y[:4]], 4)
    assert lib.stage_cycles() == {"add/eltwise": 4 * 6, "out/maxi_io": 4}


def test_second_build_is_a_cache_hit_and_changes_rebuild(tmp_path, cache, compiles):
    hls = write_project(tmp_path / "a")
    first = build_csim(hls, progress=False)
    mtime = first.stat().st_mtime_ns
    # the same project elsewhere (a copied bundle) has the same key: no compile
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert build_csim(tmp_path / "b" / "hls", progress=False) == first
    assert build_csim(tmp_path / "b", progress=False) == first  # the directory holding hls/ works too
    assert len(compiles) == 1 and first.stat().st_mtime_ns == mtime
    # a header, a define or a flag changed: another library
    (hls / "include" / "fixture.h").write_text(HEADER.replace("127 ? 127", "127 ? 100"))
    second = build_csim(hls, progress=False)
    write_project(tmp_path / "c", add=2)
    third = build_csim(tmp_path / "c", progress=False)
    write_project(tmp_path / "d", cxxflags=["-Wall", "-DUNUSED=1"])
    fourth = build_csim(tmp_path / "d", progress=False)
    assert len({first, second, third, fourth}) == 4 and len(compiles) == 4
    x = np.array([[126, 127, -128, 0, 5, 99]], np.int8)
    y = np.empty_like(x)
    CsimLibrary(third).run([x], [y], 1)
    np.testing.assert_array_equal(y, [[127, 127, -126, 2, 7, 101]])


def test_a_crashed_build_leaves_nothing_under_the_key(tmp_path, cache, monkeypatch):
    hls = write_project(tmp_path)

    def crash(src, dst):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(csim.os, "replace", crash)
        with pytest.raises(CsimBuildError, match="disk full"):
            build_csim(hls, progress=False)
    assert not list(cache.glob("*.so")) and not list(cache.glob("*.tmp"))
    assert build_csim(hls, progress=False).is_file()  # the lock was released: the next build goes ahead
    for p in cache.glob("*.so"):
        p.unlink()
    # a compiler that dies after writing half a file: no library either
    monkeypatch.setenv("CXX", fake_cxx(tmp_path, 'for a; do o="$a"; done; echo partial > "$o"; exit 1'))
    with pytest.raises(CsimBuildError, match=r"g\+\+ failed \(exit code 1\)"):
        build_csim(hls, progress=False)
    assert not list(cache.glob("*.so")) and not list(cache.glob("*.tmp"))


def test_concurrent_builds_give_one_whole_library(tmp_path, cache, compiles):
    hls = write_project(tmp_path)
    got, errors = [], []

    def build():
        try:
            got.append(build_csim(hls, progress=False))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == [] and len(set(got)) == 1 and len(got) == 3
    assert len(compiles) == 1  # the others waited for the first and reused its library
    assert [p.name for p in cache.iterdir() if p.suffix == ".so"] == [got[0].name]
    assert not list(cache.glob("*.tmp"))
    y = np.empty((1, 6), np.int8)
    CsimLibrary(got[0]).run([np.zeros((1, 6), np.int8)], [y], 1)
    assert y.tolist() == [[1] * 6]


def test_a_held_build_lock_times_out(tmp_path, cache, compiles):
    import fcntl

    hls = write_project(tmp_path)
    build_csim(hls, progress=False)
    lib = next(cache.glob("*.so"))
    lib.unlink()
    with open(cache / f"{lib.stem}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # another build of the same project is under way
        with pytest.raises(CsimBuildError, match=r"another build has held .*\.lock for over 0.6 s"):
            build_csim(hls, progress=False, timeout=0.3)
    assert len(compiles) == 1 and build_csim(hls, progress=False) == lib and len(compiles) == 2


def test_failed_compile_shows_command_log_and_tail(tmp_path, cache):
    # 40 errors: the message keeps the last 30 lines, the log keeps everything
    bad = SOURCE + "".join(f"int broken_{i}() {{ return undefined_name_{i}; }}\n" for i in range(40))
    hls = write_project(tmp_path, source=bad)
    with pytest.raises(CsimBuildError) as e:
        build_csim(hls, progress=False)
    msg = str(e.value)
    assert "compiling the C simulation: g++ failed (exit code 1)" in msg
    cmd = next(ln for ln in msg.splitlines() if ln.startswith("command: "))
    assert "-std=c++17 -O2 -fPIC -shared -Wall -DADD=1" in cmd and str(hls / "csim" / "fa_csim.cpp") in cmd
    assert f"-isystem{toolchain.ap_types_dir()}" in cmd
    log = Path(next(ln for ln in msg.splitlines() if ln.startswith("log: "))[5:])
    assert log.parent == cache and log.is_file()
    tail = msg.split("last lines of the compiler's message:\n")[1].splitlines()
    assert len(tail) == csim.TAIL_LINES and "undefined_name_39" in tail[-1] + tail[-2] + tail[-3]
    first = next(ln for ln in msg.splitlines() if ln.startswith("first error: "))
    assert "undefined_name_0" in first and "was not declared" in first and "ap_private" not in msg
    full = log.read_text()
    assert "undefined_name_0" in full and "undefined_name_39" in full and cmd[9:] in full
    assert not list(cache.glob("*.so"))


def test_missing_compiler_headers_and_build_description(tmp_path, cache, monkeypatch):
    hls = write_project(tmp_path)
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-g++"))
    with pytest.raises(CsimBuildError, match=r"C\+\+ compiler '.*no-such-g\+\+' not found \(from \$CXX\).*"
                                             r"apt-get install g\+\+"):
        build_csim(hls, progress=False)
    monkeypatch.delenv("CXX")

    def no_hls4ml():
        raise toolchain.ToolchainError("the ap_int/hls_stream simulation headers come from the hls4ml package, "
                                       "which is not installed")

    with monkeypatch.context() as m:
        m.setattr(toolchain, "ap_types_dir", no_hls4ml)
        with pytest.raises(CsimBuildError, match="hls4ml package, which is not installed"):
            build_csim(hls, progress=False)
    with pytest.raises(CsimBuildError, match=r"no csim/build.json .* compile the model with the HLS generator"):
        build_csim(tmp_path / "nowhere", progress=False)
    (hls / "csim" / "build.json").write_text(json.dumps({"sources": ["csim/gone.cpp"]}))
    with pytest.raises(CsimBuildError, match="build.json: source 'csim/gone.cpp' not found"):
        build_csim(hls, progress=False)
    (hls / "csim" / "build.json").write_text(json.dumps({"sources": "csim/fa_csim.cpp"}))
    with pytest.raises(CsimBuildError, match="'sources' must be a list of strings"):
        build_csim(hls, progress=False)


def test_compile_timeout(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("CXX", fake_cxx(tmp_path, "exec sleep 60"))
    start = time.monotonic()
    with pytest.raises(CsimBuildError, match=r"g\+\+ did not finish within 0.5 s .*FPGA_ACCEL_CSIM_TIMEOUT"):
        build_csim(write_project(tmp_path), progress=False, timeout=0.5)
    assert time.monotonic() - start < 20
    assert not list(cache.glob("*.so"))


def test_library_checks_its_arguments(tmp_path, cache):
    lib = CsimLibrary(build_csim(write_project(tmp_path), progress=False))
    x, y = np.zeros((2, 6), np.int8), np.zeros((2, 6), np.int8)
    with pytest.raises(CsimError, match="csim input 0: expected an int8/uint8/int16/uint16 array, got float32"):
        lib.run([x.astype(np.float32)], [y], 2)
    with pytest.raises(CsimError, match="csim output 0: the array must be C-contiguous"):
        lib.run([x], [np.zeros((2, 12), np.int8)[:, ::2]], 2)
    with pytest.raises(CsimError, match=r"csim input 0: shape \(2, 6\) does not hold 3 image"):
        lib.run([x], [y], 3)
    with pytest.raises(CsimError, match="number of images must be a positive integer"):
        lib.run([x[:0]], [y[:0]], 0)
    big = np.zeros((1001, 6), np.int8)
    with pytest.raises(CsimError, match=r"fa_csim_run returned 3 for 1001 image\(s\)"):
        lib.run([big], [big.copy()], 1001)
    (tmp_path / "junk.so").write_bytes(b"not a library")
    with pytest.raises(CsimError, match="junk.so: not a loadable C-simulation library"):
        CsimLibrary(tmp_path / "junk.so")


def test_progress_spinner_only_on_a_terminal(tmp_path, cache, capfd):
    build_csim(write_project(tmp_path), progress=True)  # stderr is captured: not a terminal
    assert capfd.readouterr().err == ""


# --- the backend ----------------------------------------------------------------------------------
def fixture_bundle(tmp_path: Path):
    """A bundle-like object whose hardware part is the fixture: int8 (N, 2, 3) in and out."""
    write_project(tmp_path)
    q = SimpleNamespace(qtype=SimpleNamespace(dtype=np.dtype(np.int8)))
    hw_in, hw_out = SimpleNamespace(name="x", shape=(1, 2, 3), qparams=q), SimpleNamespace(name="y", shape=(1, 2, 3),
                                                                                             qparams=q)
    bundle = SimpleNamespace(path=tmp_path, manifest={"hardware": {"inputs": [{"name": "x"}], "outputs": [{"name": "y"}]}})
    return bundle, SimpleNamespace(inputs=[hw_in], outputs=[hw_out])


def test_backend_runs_the_library(tmp_path, cache):
    cls = get_backend("csim")
    bundle, qm = fixture_bundle(tmp_path)
    assert cls.unavailable(bundle) is None
    b = cls(bundle, qm)
    try:
        x = np.arange(-60, 60, dtype=np.int8).reshape(20, 2, 3) * 2
        got = b.wait(b.start({"x": x}), timeout=60)
        np.testing.assert_array_equal(got["y"], np.clip(x.astype(int) + 1, -128, 127))
        assert got["y"].dtype == np.int8 and b.stage_cycles() == {"add/eltwise": 120, "out/maxi_io": 20}
    finally:
        b.close()


def test_backend_unavailable_reasons(tmp_path, cache, monkeypatch):
    cls = get_backend("csim")
    bundle, _ = fixture_bundle(tmp_path / "b")
    assert cls.unavailable(SimpleNamespace(path=tmp_path / "empty")) == (
        f"the bundle has no C simulation ({tmp_path / 'empty' / 'hls' / 'csim' / 'build.json'} missing); "
        "compile the model with the HLS generator")
    monkeypatch.setenv("CXX", "/opt/none/g++")
    assert cls.unavailable(bundle).startswith("C++ compiler '/opt/none/g++' not found (from $CXX); install g++")
    monkeypatch.delenv("CXX")

    def no_hls4ml():
        raise toolchain.ToolchainError("hls4ml is not installed")

    monkeypatch.setattr(toolchain, "ap_types_dir", no_hls4ml)
    assert cls.unavailable(bundle) == "hls4ml is not installed"


# --- against the emulator, on a generated project --------------------------------------------------
def _generate_hls():
    try:
        from fpga_accel.codegen.hls_project import generate_hls
    except ImportError as e:
        pytest.skip(f"the HLS project generator is not available ({e})")
    return generate_hls


@pytest.fixture(scope="module")
def mnist_hls(tmp_path_factory):
    gen = _generate_hls()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from models import data

    out = tmp_path_factory.mktemp("csim_mnist") / "mnist.fpga"
    bundle = fpga_accel.compile(data.model_path("mnist_cnn"), out, calib=data.load_calib("mnist_cnn"),
                                progress=False, generators=[gen])
    # one C-simulation cache for the tests of this generated project: compiled once
    return bundle, data.load_test("mnist_cnn")[0][:100], tmp_path_factory.mktemp("csim_mnist_cache")


def test_generated_mnist_csim_equals_emulator_bit_for_bit(mnist_hls, monkeypatch):
    bundle, x, cache_root = mnist_hls
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(cache_root))
    with fpga_accel.Session(bundle, backend="emulator") as em:
        t = em.qmodel.inputs[0]
        q = em.hardware_inputs(x)[t.name]
        want_raw = em.run(q, raw=True)
        want = em.run(x)
    with fpga_accel.Session(bundle, backend="csim", batch_size=32) as cs:
        got_raw = cs.run(q, raw=True)
        got = cs.run(x)
        cycles = cs.backend.stage_cycles()
    for k in want_raw:
        np.testing.assert_array_equal(got_raw[k], want_raw[k])
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    assert cycles and all(v > 0 for v in cycles.values())


def test_cli_run_with_the_csim_backend(mnist_hls, tmp_path, monkeypatch, capsys):
    from fpga_accel.cli import main

    bundle, x, cache_root = mnist_hls
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(cache_root))
    np.save(tmp_path / "x.npy", x[:20])
    code = main(["run", str(bundle.path), "--input", str(tmp_path / "x.npy"), "--backend", "csim",
                 "-o", str(tmp_path / "y.npy"), "--batch-size", "8", "--cycles"])
    out, err = capsys.readouterr()
    assert code == 0 and "backend csim: 1 run(s), 20 image(s)" in out, err
    with fpga_accel.Session(bundle) as em:
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), em.run(x[:20])["logits"])
    assert "pipelined loop iterations per stage in the last call (4 images), C simulation:" in out
    with fpga_accel.Session(bundle, backend="csim") as cs:  # the same counts, computed again for 4 images
        cs.run(x[:4])
        want = cs.backend.stage_cycles()
    for stage, count in want.items():
        row = next(ln.split() for ln in out.splitlines() if ln.startswith(stage + " "))
        assert row[1:] == [f"{count:,}", f"{count / 4:,.0f}"]
    code = main(["run", str(bundle.path), "--input", str(tmp_path / "x.npy"), "--cycles"])
    assert code == 2 and "--cycles: backend 'emulator' counts no cycles; use --backend csim" in capsys.readouterr().err


def test_session_names_why_csim_cannot_run(tmp_path):
    from fpga_accel.runtime import BackendUnavailable
    from models import data

    b = fpga_accel.compile(data.model_path("mlp"), tmp_path / "m.fpga", calib=data.load_calib("mlp"),
                           progress=False, generators=[])
    with pytest.raises(BackendUnavailable, match=r"backend 'csim' cannot run .*m.fpga: the bundle has no C "
                                                 r"simulation .*compile the model with the HLS generator"):
        fpga_accel.Session(b, backend="csim")


def test_synthesis_loops_on_request_give_the_same_answer(tmp_path, monkeypatch):
    """FPGA_ACCEL_CSIM_LOOPS=1: the loops synthesis sees, not the simulation fast paths."""
    import shutil as _shutil

    if _shutil.which("g++") is None:
        pytest.skip("needs g++")
    import fpga_accel
    from fpga_accel.runtime import Session
    from models import data

    b = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "d.fpga", calib=data.load_calib("digits_cnn"),
                           progress=False)
    x = data.load_test("digits_cnn")[0][:8]
    with Session(b, backend="csim") as s:
        fast, fast_cycles = s.run(x), s.backend.stage_cycles()
    calls = []
    monkeypatch.setenv("FPGA_ACCEL_CSIM_LOOPS", "1")
    from fpga_accel.emulator.csim_library import CsimLibrary

    original = CsimLibrary.set_fast_paths
    monkeypatch.setattr(CsimLibrary, "set_fast_paths", lambda self, on: (calls.append(on), original(self, on)))
    with Session(b, backend="csim") as s:
        loops, loop_cycles = s.run(x), s.backend.stage_cycles()
    assert calls == [False]
    assert all(np.array_equal(loops[k], fast[k]) for k in fast) and loop_cycles == fast_cycles
