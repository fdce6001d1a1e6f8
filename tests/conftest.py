import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
# the command line sizes FIFOs by the timed simulation by default (a g++ build per new design);
# the suite compiles hundreds of variants through it: the model's depths unless a test asks
os.environ.setdefault("FPGA_ACCEL_FIFO_SIZING", "model")

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture
def corpus():
    """Path of ../shared/corpus; tests using it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS}")
    return CORPUS
