#!/usr/bin/env bash
# Creates the virtual environment in which tests/test_old_numpy.py runs the runtime under the oldest
# numpy the board images carry: PYNQ 3.1 (the last Pynq-Z1/Z2 image) runs Python 3.10 over Ubuntu
# 22.04's numpy 1.21.5. numpy is installed first, then fpga-accel without extras, and the script
# fails if that install replaced numpy (what `pip install fpga-accel` must not do on a board).
# Interpreter: $PYTHON, else a Python 3.10 (on PATH or under pyenv), else python3. numpy: the
# oldest of 1.21.5 (jammy's), 1.23.2 (the first with Python 3.11 wheels), 1.26.0 (3.12) that
# installs from wheels on that interpreter. Idempotent: an existing venv that passes the check is kept.
#
#   .ci/old_numpy_env.sh        # venv at $FPGA_ACCEL_OLD_NUMPY_VENV, default ~/.cache/fpga-accel/old-numpy-venv
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${FPGA_ACCEL_OLD_NUMPY_VENV:-$HOME/.cache/fpga-accel/old-numpy-venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

check='import numpy, fpga_accel, sys
assert numpy.__version__.split(".")[:2] in (["1", "21"], ["1", "23"], ["1", "26"]), numpy.__version__'
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$check" 2>/dev/null; then
    echo "old-numpy venv ready: $VENV ($("$VENV/bin/python" -c 'import sys, numpy; print(sys.version.split()[0], "numpy", numpy.__version__)'))"
    exit 0
fi
PY="${PYTHON:-}"
if [ -z "$PY" ]; then  # a pyenv shim on PATH may exist without running: try each candidate
    for c in python3.10 $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python 2>/dev/null | sort -V) python3; do
        if "$c" -c 'import sys, venv' 2>/dev/null; then PY=$c; break; fi
    done
fi
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q)
got=""
for v in 1.21.5 1.23.2 1.26.0; do
    if "${PIP[@]}" --only-binary=:all: "numpy==$v" 2>/dev/null; then got=$v; break; fi
done
[ -n "$got" ] || { echo "no numpy of 1.21.5 / 1.23.2 / 1.26.0 installs on $("$PY" --version)" >&2; exit 1; }
"${PIP[@]}" "$ROOT"  # fpga-accel itself, no extras: must keep the numpy above
have=$("$VENV/bin/python" -c 'import numpy; print(numpy.__version__)')
if [ "$have" != "$got" ]; then
    echo "installing fpga-accel replaced numpy $got by $have: the base dependencies ask too much" >&2
    exit 1
fi
"$VENV/bin/python" -c "$check"
echo "old-numpy venv ready: $VENV ($("$VENV/bin/python" --version 2>&1), numpy $have)"
