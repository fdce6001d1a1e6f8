"""The generated driver module and example notebook of an overlay package.

Text from the model (its name, the board's) only enters as Python string literals made by
``repr`` and, in the notebook's Markdown, through :func:`fpga_accel.escape.html`; the import name
is a checked identifier.
"""
from __future__ import annotations

import json

from ..escape import html

DRIVER = '''"""Overlay package written by `fpga-accel package`: a compiled model, its bitstream and this driver.

    import {pkg}
    with {pkg}.Session() as s:      # backend {backend!r} unless told otherwise
        y = s.run(x)                # float in, float out, as fpga_accel.Session.run

Notebook: ``pynq get-notebooks --from-package {pkg}``.
"""
from __future__ import annotations

from pathlib import Path

MODEL = {model!r}
BOARD = {board!r}
#: the packaged bundle (manifest, weights, bitstream/)
BUNDLE = Path(__file__).resolve().parent / {bundle!r}
#: what Session() opens when no backend is given: "pynq" for a .bit + .hwh, "opencl" for an
#: .xclbin, "emulator" for a bundle packaged without a bitstream
BACKEND = {backend!r}


def Session(backend: str | None = None, **options):
    """An :class:`fpga_accel.Session` on the packaged bundle (``backend`` defaults to ``BACKEND``;
    ``"emulator"`` runs anywhere). Options are those of ``fpga_accel.Session``."""
    import fpga_accel

    return fpga_accel.Session(str(BUNDLE), backend=backend or BACKEND, **options)
'''

SETUP_CELL = """import numpy as np
import {pkg}

session = {pkg}.Session()  # the FPGA on the board; {pkg}.Session(backend="emulator") runs anywhere
print("backend:", session.backend.name)
print("inputs:", session.input_names)"""

RUN_CELL = """rng = np.random.default_rng(0)
shapes = {{t.name: (8, *(int(d) for d in t.shape[1:])) for t in session.qmodel.model_inputs}}
x = {{name: rng.random(shape, dtype=np.float32) for name, shape in shapes.items()}}
y = session.run(x)
for name, value in y.items():
    print(name, value.dtype, value.shape)
print(session.stats)"""


def driver_module(pkg: str, model: str, board: str, backend: str) -> str:
    return DRIVER.format(pkg=pkg, model=model, board=board, bundle=f"{pkg}.fpga", backend=backend)


def notebook_cells(pkg: str) -> list[str]:
    """The code cells, in order (tests run them)."""
    return [SETUP_CELL.format(pkg=pkg), RUN_CELL.format(), "session.close()"]


def notebook(pkg: str, model: str, board: str, backend: str) -> str:
    title = f"# {html(model)} on the FPGA\n\nThe overlay package `{pkg}` holds the compiled model"
    title += f" for board `{html(board)}`" if board else ""
    title += (f" and opens it with the `{backend}` backend. Replace the random images below by real ones, "
              "preprocessed as for the float model.")
    cells = [{"cell_type": "markdown", "metadata": {}, "source": title}]
    cells += [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src}
              for src in notebook_cells(pkg)]
    nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                      "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1, sort_keys=True) + "\n"
