#!/usr/bin/env bash
# Creates the virtual environment in which tests/test_pynq_real.py runs the pynq backend on the
# real pynq package. pynq 3.0.1 is what the Kria (KV260) and PYNQ 3.0 images run; it needs
# numpy < 2 (PynqBuffer sets ndarray.device, read-only in numpy 2), setuptools with
# pkg_resources (< 82) and pycparser < 3 (pynq's microblaze RPC imports pycparser.plyparser).
# pynqmetadata 0.1.2, which the Kria install pairs with pynq 3.0.1 on Python 3.10, does not import
# on Python 3.11 (a dataclass field with a mutable default), so the newest pynqmetadata/pynqutils.
# The dev environment keeps numpy 2, hence a separate venv. Idempotent: an existing venv with the
# right versions is kept.
#
#   .ci/pynq_env.sh            # venv at $FPGA_ACCEL_PYNQ_VENV, default ~/.cache/fpga-accel/pynq-venv
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${FPGA_ACCEL_PYNQ_VENV:-$HOME/.cache/fpga-accel/pynq-venv}"
PY="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

check='import numpy, pynq, pynqmetadata, pynqutils, fpga_accel
assert pynq.__version__ == "3.0.1" and int(numpy.__version__.split(".")[0]) < 2'
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$check" 2>/dev/null; then
    echo "pynq venv ready: $VENV"
    exit 0
fi
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q)
"${PIP[@]}" 'setuptools<70' wheel 'numpy<2'
"${PIP[@]}" 'pynq==3.0.1' 'pynqmetadata==0.2.0' 'pynqutils==0.1.3' 'pycparser<3' 'numpy<2' 'setuptools<70'
"${PIP[@]}" "$ROOT"  # fpga-accel itself, without the compile extra (numpy only)
"$VENV/bin/python" -c "$check"
"$VENV/bin/python" -m pip list 2>/dev/null | grep -iE '^(pynq|pynqmetadata|pynqutils|numpy|setuptools|fpga-accel) '
echo "pynq venv ready: $VENV"
