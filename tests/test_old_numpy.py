"""The runtime on board images: `pip install fpga-accel` keeps PYNQ 3.1's numpy 1.21 (Python 3.10) and
PYNQ 4.0's numpy 1.26 (Python 3.12), so the runtime must run there and compute the same integers.

* In the venv of ``.ci/old_numpy_env.sh`` (the oldest numpy that installs here, 1.21.5 on Python
  3.10 when that interpreter exists), the emulator runs bundles compiled here and must reproduce
  this environment's (numpy 2) outputs bit for bit: numpy 1 and 2 promote integers differently
  (NEP 50), so the quantised arithmetic is really exercised under both rules.
* Statically: every module parses as Python 3.10, and the runtime's modules use no numpy name
  added after 1.21.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fpga_accel
from fpga_accel import Session
from models import data

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(fpga_accel.__file__).parent
VENV = Path(os.environ.get("FPGA_ACCEL_OLD_NUMPY_VENV", Path.home() / ".cache" / "fpga-accel" / "old-numpy-venv"))
PYTHON = VENV / "bin" / "python"
MODELS = ("mlp", "digits_cnn", "mnist_cnn", "resnet_ds", "mnist_cnn_qdq")

#: packages a Session never loads (tests/test_runtime_imports.py checks that); the rest of the
#: package is the runtime and must keep to numpy 1.21
COMPILE_ONLY = ("compiler.py", "codegen", "fold", "flow", "frontend", "passes", "analysis", "cli")

#: numpy names the runtime must not use, with the release that added them (numpy's release notes).
#: Each one is something this code base could plausibly reach for: the array-API aliases of 2.0
#: (np.concat, np.pow, np.astype, np.permute_dims, ...), the keywords 1.22-2.1 added to functions the
#: runtime does call (asarray/reshape copy=, percentile method=, unique equal_nan=, sort stable=),
#: the 1.25 namespaces (np.exceptions, np.dtypes) and 2.0's renames (np.trapezoid, np.long).
NEWER_NUMPY = {
    r"\bnp\.(concat|pow|permute_dims|matrix_transpose|bitwise_(left|right)_shift|bitwise_invert|vecdot|isdtype"
    r"|acos|asin|atan|acosh|asinh|atanh|atan2|unique_(values|counts|all|inverse)|trapezoid|long|ulong"
    r"|bitwise_count|astype)\b": "2.0",
    r"\bnp\.(unstack|cumulative_sum|cumulative_prod)\b": "2.1",
    r"\bnp\.(matvec|vecmat)\b": "2.2",
    r"\bnp\.strings\b|\bnp\.lib\.array_utils\b|\.mT\b": "2.0",  # not .device: OpenCL devices have one
    r"\bnp\.(exceptions|dtypes)\b": "1.25",
    r"\bnp\.from_dlpack\b": "1.23",
    r"\bnp\.(asarray|reshape)\([^()]*\bcopy=": "2.0/2.1 (copy= keyword)",
    r"\bnp\.(n?an)?(percentile|quantile)\([^()]*\bmethod=": "1.22 (method= keyword)",
    r"\bnp\.unique\([^()]*\bequal_nan=": "1.24 (equal_nan= keyword)",
    r"\bnp\.(sort|argsort)\([^()]*\bstable=": "2.0 (stable= keyword)",
    r"\bnp\.arg(max|min)\([^()]*\bkeepdims=": "1.22 (keepdims= keyword)",
}


def runtime_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.relative_to(PACKAGE).parts[0] not in COMPILE_ONLY and "__pycache__" not in p.parts)


def test_every_module_parses_as_python_3_10():
    """``requires-python >= 3.10``: nothing may use 3.11+ syntax (``except*``, PEP 695 generics,
    ``type`` statements, PEP 701 f-strings), which ``compileall`` on 3.11 would accept."""
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    assert len(files) > 100
    bad = []
    for f in files:
        try:
            ast.parse(f.read_text(encoding="utf-8"), str(f), feature_version=(3, 10))
        except SyntaxError as e:
            bad.append(f"{f.relative_to(PACKAGE)}:{e.lineno}: {e.msg}")
    assert bad == []


def test_the_3_10_check_catches_newer_syntax():
    for src in ("try:\n    pass\nexcept* ValueError:\n    pass\n", "type Alias = int\n", "def f[T](x: T) -> T:\n    return x\n"):
        with pytest.raises(SyntaxError):
            ast.parse(src, feature_version=(3, 10))


def _newer_names(text: str) -> list[tuple[str, str]]:
    flat = re.sub(r"\s*\n\s*", " ", text)  # calls broken over lines
    return [(m.group(0), since) for pattern, since in NEWER_NUMPY.items() for m in re.finditer(pattern, flat)]


def test_the_runtime_uses_no_numpy_newer_than_1_21():
    files = runtime_files()
    assert PACKAGE / "runtime" / "session.py" in files and PACKAGE / "emulator" / "__init__.py" in files
    assert not any(f.relative_to(PACKAGE).parts[0] == "codegen" for f in files)
    found = [f"{f.relative_to(PACKAGE)}: {name} (numpy {since})" for f in files
             for name, since in _newer_names(f.read_text(encoding="utf-8"))]
    assert found == []


def test_the_numpy_check_catches_newer_names():
    src = "y = np.concat([a, b])\nz = np.asarray(x,\n    copy=False)\nnp.exceptions.AxisError\nq = v.mT\n"
    assert sorted(n.split("(")[0] for n, _ in _newer_names(src)) == [".mT", "np.asarray", "np.concat", "np.exceptions"]
    assert _newer_names("np.concatenate([a]); np.asarray(x, dtype=np.int8); np.unique(v)") == []


def _inputs(model: str) -> dict[str, np.ndarray]:
    """Test images, then the same scaled far past the calibration range and sign-flipped: the
    saturating casts, rounding and shifts of the quantised arithmetic all get exercised."""
    x = data.load_test(model)[0][:48]
    rng = np.random.default_rng(1)
    wild = (rng.standard_normal((16, *x.shape[1:])) * 8).astype(x.dtype)
    return np.concatenate([x, -3 * x[:16], wild])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:inputs beyond the calibrated range")  # meant: saturation is tested
def test_the_emulator_under_old_numpy_is_bit_exact(tmp_path):
    if not PYTHON.is_file():
        pytest.skip(f"no old-numpy venv at {VENV}; create it with .ci/old_numpy_env.sh")
    for model in MODELS:
        b = fpga_accel.compile(data.model_path(model), tmp_path / f"{model}.fpga", calib=data.load_calib(model),
                               progress=False)
        with Session(b, backend="emulator") as s:
            x = {s.input_names[0]: _inputs(model)}
            raw = s.hardware_inputs(x)
            ref = {**{f"x:{k}": v for k, v in x.items()}, **{f"in:{k}": v for k, v in raw.items()},
                   **{f"float:{k}": v for k, v in s.run(x).items()},
                   **{f"raw:{k}": v for k, v in s.run(raw, raw=True).items()}}
        np.savez(tmp_path / f"{model}.ref.npz", **ref)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME",)}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's fpga_accel, ahead of the venv's installed copy
    proc = subprocess.run([str(PYTHON), str(ROOT / "tests" / "old_numpy_check.py"), str(tmp_path)],
                          check=False, capture_output=True, text=True, env=env, timeout=900)
    sys.stdout.write(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["numpy"].startswith("1.") and report["fpga_accel"] == str(PACKAGE)
    assert sorted(report["bundles"]) == sorted(f"{m}.fpga" for m in MODELS)
    for entry in report["bundles"].values():
        assert entry == {"images": 80, "float_differ": [], "raw_differ": []}
