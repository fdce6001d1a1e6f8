"""Every corpus model (../shared/corpus/models) that compiles: the C-simulation of its generated
HLS project equals the emulator bit for bit on 100 random inputs. Models the importer, quantiser
or code generator refuse are skipped with the refusal as the reason (`pytest -rs` lists them)."""
import shutil
import warnings

import numpy as np
import pytest
from conftest import CORPUS
from model_util import random_input

import fpga_accel
from fpga_accel.errors import InputError, ModelError, UnsupportedModelError
from fpga_accel.fold import FoldError
from fpga_accel.quant import QuantWarning
from fpga_accel.runtime import Session

MODELS = sorted(CORPUS.glob("models/**/*.onnx")) if CORPUS.is_dir() else []
N_INPUTS = 100

pytestmark = [pytest.mark.corpus, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("g++") is None, reason="C-simulation needs g++")]


def _compile(path, out):
    from fpga_accel.frontend import import_onnx

    try:
        g = import_onnx(path)
    except UnsupportedModelError as e:
        pytest.skip(f"not imported: {e}")
    calib = {t.name: random_input((64, *t.shape[1:]), t.dtype, seed=0) for t in g.inputs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantWarning)
        for board in ("pynq-z2", "alveo-u250"):  # a model too big for the small board goes to the big one
            try:
                return fpga_accel.compile(path, out, calib=calib, board=board, progress=False), g
            except FoldError:
                continue
            except (UnsupportedModelError, ModelError) as e:
                pytest.skip(f"not compiled: {e}")
            except InputError as e:  # tests/test_emulator_models.py pins these refusals
                if "overflows int32" not in str(e):
                    raise
                pytest.skip(f"not quantised: {e}")
    pytest.skip("fits no board")


@pytest.mark.parametrize("path", MODELS, ids=[str(p.relative_to(CORPUS / "models")) for p in MODELS])
def test_corpus_model_csim_equals_emulator(path, tmp_path):
    bundle, g = _compile(path, tmp_path / "m.fpga")
    x = {t.name: random_input((N_INPUTS, *t.shape[1:]), t.dtype, seed=1) for t in g.inputs}
    with Session(bundle, backend="emulator") as emu, Session(bundle, backend="csim") as csim:
        q = emu.hardware_inputs(x)
        want, got = emu.run(q, raw=True), csim.run(q, raw=True)
    for name, w in want.items():
        assert got[name].dtype == w.dtype and got[name].shape == w.shape
        diff = int(np.count_nonzero(got[name] != w))
        assert diff == 0, f"{path.name} '{name}': {diff} of {w.size} integers differ between csim and emulator"
