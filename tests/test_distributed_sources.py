"""Distributed runs without a cluster: the dataset readers (slices across files and row groups),
the error when Ray is missing, and that nothing imports Ray before a pool starts."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fpga_accel.cli import main
from fpga_accel.distributed import DevicePool, RayMissing, require_ray
from fpga_accel.distributed.sources import InputSpec, NpyDirSource, ParquetSource, open_source
from fpga_accel.errors import InputError

SPEC = InputSpec("x", (2, 3))


def samples(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2, 3)).astype(np.float32)


def every_slice(source, want: np.ndarray) -> None:
    """Every [start, stop) of a few widths reads exactly the rows of ``want``."""
    assert len(source) == len(want)
    for width in (1, 3, 7, len(want)):
        for start in range(0, len(want), width):
            got = source.read(start, min(len(want), start + width))["x"]
            np.testing.assert_array_equal(got, want[start:start + width])


def test_npy_directory_mixes_single_samples_and_batches(tmp_path):
    x = samples(23)
    np.save(tmp_path / "000.npy", x[0])
    np.save(tmp_path / "001.npy", x[1:9])
    np.save(tmp_path / "002.npy", x[9])
    np.save(tmp_path / "003.npy", x[10:23])
    (tmp_path / "notes.txt").write_text("not an array")
    every_slice(NpyDirSource(tmp_path, SPEC), x)


def test_npy_directory_errors(tmp_path):
    with pytest.raises(InputError, match="no .npy files"):
        NpyDirSource(tmp_path, SPEC)
    np.save(tmp_path / "a.npy", np.zeros((4, 3, 2), np.float32))
    with pytest.raises(InputError, match=r"a.npy: holds an array of shape \(4, 3, 2\); input 'x' needs \(2, 3\)"):
        NpyDirSource(tmp_path, SPEC)


def test_parquet_slices_cross_row_groups_and_files(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    x = samples(31)
    flat = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 6)
    pq.write_table(pa.table({"x": flat, "label": np.arange(31)}), tmp_path / "f.parquet", row_group_size=4)
    every_slice(ParquetSource(tmp_path / "f.parquet", [SPEC]), x)
    d = tmp_path / "dir"
    d.mkdir()
    for i, lo in enumerate((0, 10, 25)):
        part = x[lo:[10, 25, 31][i]]
        pq.write_table(pa.table({"x": pa.array(part.tolist())}), d / f"p{i}.parquet", row_group_size=6)
    every_slice(open_source(d, [SPEC]), x)


def test_parquet_errors(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"a": [[1.0] * 6], "b": [[2.0] * 6]}), tmp_path / "two.parquet")
    with pytest.raises(InputError, match=r"no column for input\(s\) \['x'\]; the file has columns \['a', 'b'\]"):
        ParquetSource(tmp_path / "two.parquet", [SPEC])
    pq.write_table(pa.table({"x": [[1.0] * 5]}), tmp_path / "short.parquet")
    with pytest.raises(InputError, match=r"holds 5 numbers in 1 rows; each row must hold 6"):
        ParquetSource(tmp_path / "short.parquet", [SPEC]).read(0, 1)


def test_open_source_formats_and_errors(tmp_path):
    x = samples(5)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", x=x)
    for src in (open_source(x, [SPEC]), open_source(tmp_path / "x.npy", [SPEC]), open_source(tmp_path / "x.npz", [SPEC])):
        np.testing.assert_array_equal(src.read(1, 4)["x"], x[1:4])
    two = [SPEC, InputSpec("y", (1,))]
    with pytest.raises(InputError, match=r"x.npz: no array for input\(s\) \['y'\]"):
        open_source(tmp_path / "x.npz", two)
    with pytest.raises(InputError, match="a directory of .npy files feeds single-input models"):
        open_source(tmp_path, two)
    (tmp_path / "x.csv").write_text("1,2,3\n")
    with pytest.raises(InputError, match="x.csv: unknown input format"):
        open_source(tmp_path / "x.csv", [SPEC])
    with pytest.raises(InputError, match="different numbers of samples"):
        open_source({"x": x, "y": np.zeros((4, 1))}, two)


def test_missing_ray_gives_the_install_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(RayMissing, match=r"pip install 'fpga-accel\[ray\]'"):
        require_ray()
    with pytest.raises(RayMissing, match="need the Python package 'ray'"):
        DevicePool(tmp_path / "any.fpga")
    assert main(["batch", str(tmp_path / "any.fpga"), "--input", str(tmp_path / "x.npy")]) == 2
    assert "pip install 'fpga-accel[ray]'" in capsys.readouterr().err


def test_importing_the_package_does_not_import_ray():
    code = ("import sys, fpga_accel, fpga_accel.distributed, fpga_accel.cli.batch; "
            "print('ray' in sys.modules, 'pyarrow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
