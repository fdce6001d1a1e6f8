"""docs/integer-contract.md tells the truth: its examples print what it shows, and its C++ requantise
expression gives the same integers as fpga_accel.quant.requantize."""
import contextlib
import io
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

from fpga_accel.quant import MAX_ACC_BITS, MULT_BITS, requantize

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "integer-contract.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_worked_examples_print_what_the_doc_shows():
    code, shown = blocks("python"), blocks("text")
    assert len(code) == len(shown) == 2
    namespace: dict = {}
    for src, want in zip(code, shown):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(src, str(DOC), "exec"), namespace)  # noqa: S102 - the doc's own example
        assert out.getvalue() == want


HARNESS = r"""
#include <cstdint>
#include <cstdio>
{body}
int main() {{
    long long acc, M, zp, lo, hi; int shift;
    while (std::scanf("%lld %lld %d %lld %lld %lld", &acc, &M, &shift, &zp, &lo, &hi) == 6)
        std::printf("%lld\n", (long long)fa_requantize(acc, M, shift, zp, lo, hi));
    return 0;
}}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_cpp_requantize_matches_python(tmp_path):
    (cpp,) = blocks("cpp")
    src = tmp_path / "rq.cpp"
    src.write_text(HARNESS.format(body=cpp))
    exe = tmp_path / "rq"
    subprocess.run(["g++", "-std=c++20", "-O2", "-Wall", "-Werror", "-o", str(exe), str(src)], check=True)
    g = np.random.default_rng(0)
    n = 3000
    lim = 1 << (MAX_ACC_BITS - 1)
    acc = np.concatenate([g.integers(-lim, lim, n), g.integers(-2 ** 20, 2 ** 20, n),
                          [-lim, lim - 1, -1, 0, 1, -3, 3]])
    m = acc.size
    M = g.integers(0, 2 ** MULT_BITS, m)
    M[-7:] = 2 ** MULT_BITS - 1
    shift = g.integers(1, 63, m)
    shift[-7:] = [62, 62, 1, 1, 1, 1, 1]
    zp = g.integers(-2 ** 15, 2 ** 16, m)
    lo = g.integers(-2 ** 40, 0, m)
    hi = lo + g.integers(0, 2 ** 41, m)
    lo[::2], hi[::2] = -2 ** 62, 2 ** 62  # half the cases unclamped: the rounding itself
    lines = "\n".join(" ".join(map(str, row)) for row in zip(acc, M, shift, zp, lo, hi))
    run = subprocess.run([str(exe)], input=lines, capture_output=True, text=True, check=True)
    got = np.array(run.stdout.split(), dtype=np.int64)
    want = np.array([requantize(np.array([a]), M_, s, z, l, h)[0]
                     for a, M_, s, z, l, h in zip(acc, M, shift, zp, lo, hi)])
    np.testing.assert_array_equal(got, want)
