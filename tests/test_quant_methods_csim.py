"""A model quantised with every method (cross-layer equalisation, bias correction, learned
rounding, 4-bit weights): the C simulation of its generated HLS computes exactly the emulator's
integers. The methods only choose weights, biases and scales; the integer contract holds."""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import Csim, need_toolchain
from test_csim_parity_models import hardware_inputs

import fpga_accel
from fpga_accel.codegen.hls_project import generate_hls
from fpga_accel.compiler import load_qmodel
from models import data

METHODS = {"weight_bits": 4, "equalize": True, "bias_correction": True, "adaround": {"iterations": 200}}
BENCH = data.HERE.parent / "benchmarks" / "quant_models"


def model_files(name):
    """(onnx path, name of the example model whose calibration and test files it takes)."""
    return (BENCH / f"{name}.onnx", "mnist_cnn") if name == "se_mnist" else (data.model_path(name), name)


@pytest.mark.parametrize("name", ["digits_cnn", "se_mnist"])  # se_mnist: squeeze-excitation gates (channel_mul)
def test_csim_equals_emulator_with_every_method(name, tmp_path):
    need_toolchain()
    path, files = model_files(name)
    b = fpga_accel.compile(path, tmp_path / f"{name}.fpga", calib=data.load_calib(files),
                           config=METHODS, progress=False, generators=[generate_hls])
    methods = b.manifest["quantization"]["methods"]
    assert methods["equalize"]["pairs"] and methods["bias_correction"]["layers"] and methods["adaround"]["layers"]
    qm = load_qmodel(b)
    assert any(np.abs(lay.consts["weights"]).max() == 7 for lay in qm.layers if "weights" in lay.consts)
    cs = Csim(qm, tmp_path / "regen", b.manifest["layers"], b.manifest.get("board"))
    x, _ = data.load_test(files)
    ins = hardware_inputs(qm, x[:100])
    cs.check(ins, what=f"{name} with every method, fa_kernel")
    cs.check([a[:7] for a in ins], axis=True, what=f"{name} with every method, fa_axis")
