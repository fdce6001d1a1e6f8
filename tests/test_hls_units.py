"""The HLS C++ library (hls/): every processing element's g++ testbench passes, and the C++
requantise equals the Python contract (quant/arith.py:requantize) bit for bit.

Each testbench checks its PE against an independent int64 computation on the unfolded problem
and prints "N passed, M failed"; it exits non-zero on any mismatch.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from fpga_accel import toolchain
from fpga_accel.toolchain import HLS_ROOT, ToolchainError

HEADERS = sorted(p.stem for p in (HLS_ROOT / "include" / "fpga_accel").glob("*.h"))
TESTBENCHES = sorted(p.stem for p in (HLS_ROOT / "tests").glob("tb_*.cpp"))
SUMMARY = re.compile(r"^(tb_\w+): (\d+) passed, (\d+) failed$", re.MULTILINE)


def _include_dirs():
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed; the HLS testbenches need a C++17 compiler")
    try:
        return toolchain.csim_include_dirs()
    except ToolchainError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Compile a testbench once per module: build(name) -> path of the executable."""
    incs = _include_dirs()
    out_dir = tmp_path_factory.mktemp("hls_tb")
    built = {}

    def _build(name: str):
        if name not in built:
            exe = out_dir / name
            cmd = ["g++", "-std=c++17", "-O2", *[f"-I{d}" for d in incs], str(HLS_ROOT / "tests" / f"{name}.cpp"),
                   "-o", str(exe)]
            res = subprocess.run(cmd, check=False, capture_output=True, text=True)
            assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-4000:]}"
            built[name] = exe
        return built[name]

    return _build


def test_every_header_has_a_testbench():
    assert HEADERS, "no headers found under hls/include/fpga_accel"
    missing = [h for h in HEADERS if f"tb_{h}" not in TESTBENCHES]
    assert missing == [], f"headers without hls/tests/tb_<header>.cpp: {missing}"


@pytest.mark.parametrize("name", TESTBENCHES)
def test_testbench_passes(build, name):
    res = subprocess.run([str(build(name))], check=False, capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    m = SUMMARY.search(res.stdout)
    assert m is not None, f"no summary line in the output of {name}:\n{out[-2000:]}"
    assert m.group(1) == name and int(m.group(3)) == 0 and int(m.group(2)) >= 5, m.group(0)
    # hls::stream's simulation model only warns on a read from an empty stream or leftover data.
    assert "WARNING: Hls::stream" not in out, out[-2000:]


def _random_cases(rng: np.random.Generator, n: int):
    """Accumulators of every width up to MAX_ACC_BITS, with shifts that put results in and out of range."""
    from fpga_accel.quant import arith

    bits = rng.integers(1, arith.MAX_ACC_BITS + 1, n)
    acc = np.array([int(rng.integers(-(1 << (b - 1)), 1 << (b - 1))) for b in bits], dtype=np.int64)
    M = rng.integers(0, 1 << arith.MULT_BITS, n)
    M[rng.random(n) < 0.05] = 1                      # the form Add/Concat use: acc already scaled
    near = bits + arith.MULT_BITS - rng.integers(0, 20, n)  # shifts landing near the output range
    shift = np.where(rng.random(n) < 0.7, near, rng.integers(arith.MIN_SHIFT, arith.MAX_SHIFT + 1, n))
    shift = np.clip(shift, arith.MIN_SHIFT, arith.MAX_SHIFT).astype(np.int64)
    ties = rng.random(n) < 0.05                      # acc*M exactly halfway: acc = odd << (shift-1), M = 1
    tie_shift = np.minimum(shift, arith.MAX_ACC_BITS - 10)  # |odd| < 2^8, so acc stays in range
    acc[ties] = (2 * rng.integers(-100, 100, ties.sum()) + 1) << (tie_shift[ties] - 1)
    M[ties], shift[ties] = 1, tie_shift[ties]
    return acc, M.astype(np.int64), shift


def test_cpp_requantize_equals_python_bit_for_bit(build, tmp_path):
    arith = pytest.importorskip("fpga_accel.quant.arith")
    rng = np.random.default_rng(20240601)
    groups, per_group = 100, 1000  # 10^5 cases; zp/lo/hi are per call in the Python API
    records, want = [], []
    for _ in range(groups):
        acc, M, shift = _random_cases(rng, per_group)
        zp = int(rng.integers(-32768, 65536))
        lo, hi = sorted(int(v) for v in rng.integers(-32768, 65536, 2))
        if rng.random() < 0.2:
            lo, hi = -128, 127
        want.append(arith.requantize(acc, M, shift, zp, lo, hi))
        records.append(np.stack([acc, M, shift, np.full_like(acc, zp), np.full_like(acc, lo),
                                 np.full_like(acc, hi)], axis=1))
    cases = np.concatenate(records).astype("<i8")
    want = np.concatenate(want)
    (tmp_path / "cases.bin").write_bytes(cases.tobytes())
    res = subprocess.run([str(build("tb_requant")), str(tmp_path / "cases.bin"), str(tmp_path / "out.bin")],
                         check=False, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), dtype="<i8")
    assert got.shape == want.shape
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} mismatches, first: case {cases[bad[0]].tolist()} C++ {got[bad[0]]} " \
                          f"Python {want[bad[0]]}"
    # The cases exercise the interesting part: values strictly inside the bounds, and clamps on both sides.
    lo_col, hi_col = cases[:, 4], cases[:, 5]
    inside = (want > lo_col) & (want < hi_col)
    assert inside.mean() > 0.2 and (want == lo_col).any() and (want == hi_col).any()


def test_ap_types_dir_has_the_simulation_headers():
    try:
        d = toolchain.ap_types_dir()
    except ToolchainError as e:
        pytest.skip(str(e))
    assert (d / "ap_int.h").is_file() and (d / "hls_stream.h").is_file()


def test_ap_types_dir_without_hls4ml_names_the_fix(monkeypatch):
    real = toolchain.importlib.util.find_spec
    monkeypatch.setattr(toolchain.importlib.util, "find_spec",
                        lambda name, *a: None if name == "hls4ml" else real(name, *a))
    with pytest.raises(ToolchainError, match=r"pip install fpga-accel\[compile\]"):
        toolchain.ap_types_dir()
