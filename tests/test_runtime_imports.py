"""The runtime needs no compiler: a fresh interpreter that opens a Session on a compiled bundle
and runs an image loads numpy and the runtime, never the compiler, code generation, folding, the
build flow, the ONNX frontend, the passes, onnx, onnxruntime or rich, and it runs the same with
those third-party packages made impossible to import. So does ``fpga-accel run`` on a bundle: the CLI
imports the chosen command's module only. That no module of the runtime's layer names one of
them in any import, even inside a function on a path these runs do not take, is checked with the
other import layers in tests/test_import_layers.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from import_util import NOT_NEEDED  # module names (and their submodules) a Session must not load

import fpga_accel
from fpga_accel.runtime.backends import get_backend
from models import data

MODEL = "mlp"
#: third-party packages the blocked run cannot import at all
BLOCKED = ("onnx", "onnxruntime", "rich")

# runs first in the child when asked: a finder that refuses BLOCKED, as in an environment without them
PRELUDE = f"""
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""

CHILD = """
import json, sys
import numpy as np
import fpga_accel

bundle, backend, x_path, out_path = sys.argv[1:5]
with fpga_accel.Session(bundle, backend=backend, timeout=600) as s:
    y = s.run(np.load(x_path))
np.savez(out_path, **y)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """mlp with its HLS project (what the csim backend compiles); the emulator needs nothing more."""
    try:
        from fpga_accel.codegen.hls_project import generate_hls
    except ImportError as e:
        pytest.skip(f"the HLS generator is not available ({e})")
    out = tmp_path_factory.mktemp("runtime_imports") / f"{MODEL}.fpga"
    return fpga_accel.compile(data.model_path(MODEL), out, calib=data.load_calib(MODEL), progress=False,
                              generators=[generate_hls])


@pytest.fixture(scope="module")
def image(bundle, tmp_path_factory):
    """One test image on disk, and the emulator's answer to it in this process."""
    x = data.load_test(MODEL)[0][:1]
    path = tmp_path_factory.mktemp("runtime_imports_x") / "x.npy"
    np.save(path, x)
    with fpga_accel.Session(bundle) as s:
        return path, s.run(x)


@pytest.fixture(scope="module")
def cache_env(request, tmp_path_factory):
    """The child's environment: the C-simulation cache in pytest's cache directory (built once)."""
    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("fpga-accel") if cache else tmp_path_factory.mktemp("fa_cache")
    return dict(os.environ, FPGA_ACCEL_CACHE=str(where))


@pytest.mark.parametrize("blocked", [False, True], ids=["installed", "without-onnx-rich"])
@pytest.mark.parametrize("backend", ["emulator", "csim"])
def test_a_session_loads_the_runtime_only(bundle, image, cache_env, tmp_path, backend, blocked):
    why = get_backend(backend).unavailable(bundle)
    if why is not None:
        pytest.skip(f"backend '{backend}' unavailable: {why}")
    x_path, want = image
    out = tmp_path / "y.npz"
    code = (PRELUDE if blocked else "") + CHILD
    done = subprocess.run([sys.executable, "-c", code, str(bundle.path), backend, str(x_path), str(out)],
                          capture_output=True, text=True, env=cache_env, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    extra = [m for m in loaded if any(m == n or m.startswith(n + ".") for n in NOT_NEEDED)]
    assert extra == []
    assert "numpy" in loaded and f"fpga_accel.runtime.backends.{backend}" in loaded
    with np.load(out) as got:
        assert sorted(got.files) == sorted(want)
        for name, y in want.items():
            assert got[name].dtype == y.dtype and got[name].shape == y.shape
            np.testing.assert_array_equal(got[name], y, err_msg=name)


# `fpga-accel run` in the child, then the modules it loaded
CLI_CHILD = """
import json, sys
from fpga_accel.cli import main
code = main(["run", *sys.argv[1:]])
print(json.dumps(sorted(sys.modules)))
sys.exit(code)
"""


def _commands_loaded(loaded: list[str]) -> list[str]:
    return [m for m in loaded if m.startswith("fpga_accel.cli.") and not m.startswith("fpga_accel.cli._")]


@pytest.mark.parametrize("blocked", [False, True], ids=["installed", "without-onnx-rich"])
def test_fpga_accel_run_loads_the_runtime_only(bundle, image, tmp_path, blocked):
    x_path, want = image
    out = tmp_path / "y.npz"
    code = (PRELUDE if blocked else "") + CLI_CHILD
    done = subprocess.run([sys.executable, "-c", code, str(bundle.path), "--input", str(x_path), "-o", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    extra = [m for m in loaded if any(m == n or m.startswith(n + ".") for n in NOT_NEEDED if n != "fpga_accel.cli")]
    assert extra == []
    assert _commands_loaded(loaded) == ["fpga_accel.cli.run"]  # no other command's module
    with np.load(out) as got:
        for name, y in want.items():
            np.testing.assert_array_equal(got[name], y, err_msg=name)


def test_the_command_list_imports_no_command():
    """`fpga-accel --help` lists every command, with its help, from the modules' source."""
    code = ("import json, sys\nfrom fpga_accel.cli import main\ncode = main(['--help'])\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert _commands_loaded(loaded) == []
    assert "fpga_accel.compiler" not in loaded
    for name in ("compile", "run", "build", "report"):
        assert f"\n    {name} " in done.stdout


def test_the_blocking_prelude_blocks(tmp_path):
    """The prelude really makes the packages unimportable (else the test above proves nothing)."""
    code = PRELUDE + (f"\nimport importlib\nfor n in {BLOCKED!r}:\n    try:\n        importlib.import_module(n)\n"
                      "    except ImportError:\n        print(n)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == list(BLOCKED)

