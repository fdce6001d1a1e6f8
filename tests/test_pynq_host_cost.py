"""The host's cost per image in the PYNQ driver, against the register/DMA model of the board.

On a Pynq-Z2 the A9 runs the driver's Python between DMA transfers; if that takes as long as the
hardware's ~130 us per image, the board is host-bound. Here the model computes instantly, so the
driver's own time (everything in ``AxisRunner.run`` except the time spent inside the board model)
and its register accesses per image are what is left to measure. Inputs go in one MM2S transfer
per run (the IP counts beats, it ignores input TLAST), and so do outputs, whose TLAST ends the run;
a bitstream built when the IP set TLAST after every image needs one S2MM transfer per image in
simple mode, and nothing more.

    python tests/test_pynq_host_cost.py      # prints the figures
"""
from __future__ import annotations

import time

import numpy as np
import pytest
from pynq_util import compile_axis_bundle, drop_pynq, sample_images, use_fake_pynq

from fpga_accel import Session


class Meter:
    """Wraps the board model's entry points: time spent inside them, register accesses by kind."""

    def __init__(self, board):
        self.model_s, self.reads, self.writes, self.depth = 0.0, 0, 0, 0
        for obj, names in ((board, ("read", "write")), (board.memory, ("read", "write"))):
            for name in names:
                setattr(obj, name, self._timed(getattr(obj, name), obj is board and name))

    def _timed(self, fn, count):
        def call(*a, **k):
            if count == "read":
                self.reads += 1
            elif count == "write":
                self.writes += 1
            t = time.perf_counter()
            self.depth += 1  # the DMAs inside a register access reach the memory too: count the outer call
            try:
                return fn(*a, **k)
            finally:
                self.depth -= 1
                if not self.depth:
                    self.model_s += time.perf_counter() - t
        return call


def host_cost(pynq, bundle, x, repeats: int = 3) -> dict:
    """Driver time per image outside the model (best of ``repeats``), register accesses per image."""
    n = len(x)
    with Session(bundle, backend="pynq") as s:
        runner, raw = s.backend.runner, s.hardware_inputs(x)
        runner.run(raw, 60)  # buffers allocated, code warm
        best = None
        for _ in range(repeats):
            m = Meter(pynq.board)
            t = time.perf_counter()
            out = runner.run(raw, 60)
            wall = time.perf_counter() - t
            host = wall - m.model_s
            best = host if best is None else min(best, host)
            reads, writes = m.reads, m.writes
        want = s.run(raw, raw=True)
    assert all(np.array_equal(out[k], want[k]) for k in want)
    return {"images": n, "host_us_per_image": 1e6 * best / n, "reads_per_image": reads / n,
            "writes_per_image": writes / n}


@pytest.fixture
def fake_pynq(monkeypatch):
    yield use_fake_pynq(monkeypatch)
    drop_pynq()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return compile_axis_bundle("mnist_cnn", tmp_path_factory.mktemp("cost") / "mnist_cnn.fpga")


def test_register_accesses_per_image_of_a_tlast_per_image_bitstream(fake_pynq, tmp_path):
    """A bitstream built while the IP set TLAST after every image: per image, only the S2MM
    re-arm, two writes (address, LENGTH) and two reads (DMASR, LENGTH read back); per run, the
    one MM2S transfer, n_images, ap_start and CTRL. The driver that re-armed both DMAs per image
    made four of each."""
    b = compile_axis_bundle("mnist_cnn", tmp_path / "m.fpga", tlast="image")
    cost = host_cost(fake_pynq, b, sample_images("mnist_cnn", 256), repeats=1)
    assert cost["writes_per_image"] <= 2.05 and cost["reads_per_image"] <= 2.05, cost


def test_tlast_per_run_needs_no_access_per_image(fake_pynq, bundle):
    """The generated IP ends the run with TLAST: a run is one transfer per stream."""
    assert {s["tlast"] for s in bundle.manifest["kernel"]["axis"]["streams"]} == {"batch"}
    cost = host_cost(fake_pynq, bundle, sample_images("mnist_cnn", 256), repeats=1)
    assert cost["writes_per_image"] < 0.05 and cost["reads_per_image"] < 0.05, cost


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    class _MP:  # a stand-in MonkeyPatch for running outside pytest
        def syspath_prepend(self, p):
            import sys
            sys.path.insert(0, p)

        def delitem(self, d, k):
            del d[k]

        def setattr(self, o, n, v):
            setattr(o, n, v)

    pynq = use_fake_pynq(_MP())
    with tempfile.TemporaryDirectory() as d:
        b = compile_axis_bundle("mnist_cnn", Path(d) / "mnist_cnn.fpga")
        for n in (1, 16, 256):
            print(host_cost(pynq, b, sample_images("mnist_cnn", n), repeats=7))
