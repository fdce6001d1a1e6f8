"""Runs compiled bundles on the emulator backend inside the old-numpy venv of ``.ci/old_numpy_env.sh``.

    python tests/old_numpy_check.py WORK_DIR

WORK_DIR holds bundles ``*.fpga`` and, per bundle, ``<name>.ref.npz`` written by the main environment
(numpy 2): float inputs ``x:<name>``, the raw hardware inputs ``in:<tensor>``, and the emulator's
answers there, ``float:<name>`` (``Session.run``) and ``raw:<tensor>`` (``run(..., raw=True)``).
Prints one JSON report on stdout (Python and numpy versions, per bundle which outputs differ); exits
non-zero unless every output is bit-identical, dtype and shape included.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _differ(got: dict, want: dict) -> list[str]:
    bad = sorted(set(got) ^ set(want))
    for k in sorted(set(got) & set(want)):
        g, w = np.asarray(got[k]), want[k]
        if g.dtype != w.dtype or g.shape != w.shape or not np.array_equal(g, w):
            bad.append(k)
    return bad


def check(bundle: Path) -> dict:
    from fpga_accel import Session

    with np.load(bundle.with_suffix(".ref.npz")) as ref:
        part = {p: {k.split(":", 1)[1]: ref[k] for k in ref.files if k.startswith(p + ":")}
                for p in ("x", "in", "float", "raw")}
    with Session(str(bundle), backend="emulator") as s:
        got_float = s.run(part["x"])
        got_raw = s.run(part["in"], raw=True)
    return {"images": int(next(iter(part["x"].values())).shape[0]),
            "float_differ": _differ(got_float, part["float"]), "raw_differ": _differ(got_raw, part["raw"])}


def main() -> int:
    import fpga_accel

    report = {"python": sys.version.split()[0], "numpy": np.__version__, "fpga_accel": str(Path(fpga_accel.__file__).parent),
              "bundles": {d.name: check(d) for d in sorted(Path(sys.argv[1]).glob("*.fpga"))}}
    print(json.dumps(report, indent=1, sort_keys=True))
    ok = report["bundles"] and all(not e["float_differ"] and not e["raw_differ"] for e in report["bundles"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
