import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

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
