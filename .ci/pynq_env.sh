#!/usr/bin/env bash
# Creates a virtual environment in which tests/test_pynq_real.py runs the pynq backend on the real
# pynq package, one venv per pynq release the board images run:
#   3.0.1  Kria (KV260) and PYNQ 3.0 images; python3 here.
#   3.1.2  PYNQ 3.1, the last image for the Pynq-Z1/Z2: Python 3.10 over Ubuntu 22.04's numpy 1.21.5
#          (a Python 3.10 on PATH or under pyenv; else python3 with numpy<2).
#   4.0.0  PYNQ 4.0 (Ubuntu 24.04): Python 3.12 with numpy 1.26.4 (else python3 with numpy<2).
# Every pynq needs numpy < 2 (PynqBuffer sets ndarray.device, read-only in numpy 2), setuptools with
# pkg_resources (< 70 here) and pycparser < 3 (pynq's microblaze RPC imports pycparser.plyparser).
# pynqmetadata 0.1.2, which the Kria install pairs with pynq 3.0.1 on Python 3.10, does not import
# on Python 3.11 (a dataclass field with a mutable default), so the newest pynqmetadata/pynqutils.
# The dev environment keeps numpy 2, hence separate venvs. Idempotent: an existing venv with the
# right versions is kept.
#
#   .ci/pynq_env.sh [VERSION]   # VERSION 3.0.1 (default), 3.1.2 or 4.0.0
# venv: $FPGA_ACCEL_PYNQ_VENV, default ~/.cache/fpga-accel/pynq-venv (3.0.1) or pynq-VERSION-venv
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="${1:-3.0.1}"
case "$VERSION" in
    3.0.1) want_py=""; numpy='numpy<2'; default_venv=pynq-venv ;;
    3.1.2) want_py=3.10; numpy='numpy==1.21.5'; default_venv=pynq-3.1.2-venv ;;
    4.0.0) want_py=3.12; numpy='numpy==1.26.4'; default_venv=pynq-4.0.0-venv ;;
    *) echo "unknown pynq version '$VERSION' (3.0.1, 3.1.2 or 4.0.0)" >&2; exit 2 ;;
esac
VENV="${FPGA_ACCEL_PYNQ_VENV:-$HOME/.cache/fpga-accel/$default_venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

check="import numpy, pynq, pynqmetadata, pynqutils, fpga_accel
assert pynq.__version__ == '$VERSION' and int(numpy.__version__.split('.')[0]) < 2"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$check" 2>/dev/null; then
    echo "pynq $VERSION venv ready: $VENV"
    exit 0
fi
PY="${PYTHON:-}"
if [ -z "$PY" ] && [ -n "$want_py" ]; then  # a pyenv shim on PATH may exist without running: try each
    for c in "python$want_py" $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want_py".*/bin/python 2>/dev/null | sort -V); do
        if "$c" -c 'import venv' 2>/dev/null; then PY=$c; break; fi
    done
fi
if [ -z "$PY" ]; then
    PY=python3
    [ -z "$want_py" ] || { echo "no Python $want_py here: pynq $VERSION goes on $($PY --version) with numpy<2"; numpy='numpy<2'; }
fi
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q)
"${PIP[@]}" 'setuptools<70' wheel "$numpy"
"${PIP[@]}" "pynq==$VERSION" 'pynqmetadata==0.2.0' 'pynqutils==0.1.3' 'pycparser<3' "$numpy" 'setuptools<70'
"${PIP[@]}" "$ROOT"  # fpga-accel itself, without the compile extra (numpy only)
"$VENV/bin/python" -c "$check"
"$VENV/bin/python" --version
"$VENV/bin/python" -m pip list 2>/dev/null | grep -iE '^(pynq|pynqmetadata|pynqutils|numpy|setuptools|fpga-accel) '
echo "pynq $VERSION venv ready: $VENV"
