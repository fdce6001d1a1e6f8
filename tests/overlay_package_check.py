"""Runs an installed overlay package (``fpga-accel package``) inside a venv.

    python tests/overlay_package_check.py PKG REF.npz BACKEND WORK_DIR

PKG is the import name of the installed wheel, REF.npz holds raw hardware inputs ``in:<tensor>``
and the emulator's outputs ``out:<tensor>`` computed outside the venv. BACKEND is ``pynq`` (the
real pynq package against the emulated Zynq of tests/fakes, which must be importable) or
``emulator``. Checks ``PKG.Session()`` opens that backend by default (pynq) or when asked
(emulator) and reproduces the outputs bit for bit; that the example notebook is registered
under ``pynq.notebooks``, is delivered by ``pynq get-notebooks`` (pynq venvs) and its code cells
run. Prints one JSON report; exits non-zero on a mismatch.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    pkg_name, ref_path, backend, work = sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    report: dict = {"python": sys.version.split()[0], "numpy": np.__version__}
    if backend == "pynq":
        import pynq
        import pynq.ps
        from fakes.pynq_device import EmulatedZynq, PsClocks  # registers the device through _probe_
        from pynq.pl_server.device import Device

        pynq.ps.Clocks._real_instance = PsClocks(1000.0)
        assert isinstance(Device.active_device, EmulatedZynq)
        report["pynq"] = pynq.__version__
    pkg = importlib.import_module(pkg_name)
    report["module"] = pkg.__file__
    report["default_backend"] = pkg.BACKEND
    with np.load(ref_path) as ref:
        feeds = {k[3:]: ref[k] for k in ref.files if k.startswith("in:")}
        want = {k[4:]: ref[k] for k in ref.files if k.startswith("out:")}
    with (pkg.Session() if backend == "pynq" else pkg.Session(backend=backend)) as s:
        got = s.run(feeds, raw=True)
        report["backend"] = s.backend.name
        report["bundle"] = str(s.bundle.path)
    report["bit_exact"] = sorted(got) == sorted(want) and all(
        got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]) for k in want)
    from importlib.metadata import entry_points

    eps = entry_points()
    group = eps.select(group="pynq.notebooks") if hasattr(eps, "select") else eps.get("pynq.notebooks", [])
    report["notebook_entry_points"] = sorted(f"{e.name} = {e.value}" for e in group)
    nb_dir = Path(pkg.__file__).parent / "notebooks"
    if backend == "pynq":  # pynq's own command delivers it
        pynq_cli = Path(sys.executable).with_name("pynq")
        out = work / "delivered"
        done = subprocess.run([str(pynq_cli), "get-notebooks", "--from-package", pkg_name, "--path", str(out),
                               "--ignore-overlays"], check=False, input="y\n", capture_output=True, text=True, timeout=120)
        report["get_notebooks_rc"] = done.returncode
        report["delivered"] = sorted(str(p.relative_to(out)) for p in out.rglob("*.ipynb")) if out.is_dir() else []
        if done.returncode:
            report["get_notebooks_log"] = (done.stdout + done.stderr)[-2000:]
        nb_dir = out / pkg_name if report["delivered"] else nb_dir
    nb = json.loads((nb_dir / f"{pkg_name}.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    if backend != "pynq":
        pkg.BACKEND = backend  # the notebook opens the default backend
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # stdout carries the report only
        for src in cells:
            exec(compile(src, f"{pkg_name}.ipynb", "exec"), ns)  # noqa: S102 (the notebook, as Jupyter runs it)
    report["notebook_printed"] = printed.getvalue().splitlines()[:2]
    report["notebook_ran"] = {k: list(v.shape) for k, v in ns["y"].items()}
    print(json.dumps(report, indent=1, sort_keys=True))
    return 0 if report["bit_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
