"""A model quantised with every method (cross-layer equalisation, bias correction, learned
rounding, 4-bit weights), and a depthwise net with the default config: the C simulation of its
generated HLS computes exactly the emulator's integers. The methods only choose weights, biases and scales; the integer contract holds."""
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
    return (BENCH / f"{name}.onnx", "mnist_cnn") if name in ("se_mnist", "mbv2_mnist") else (data.model_path(name), name)


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
    check(b, qm, files, f"{name} with every method", tmp_path)


@pytest.mark.slow
def test_csim_equals_emulator_with_the_default_config_on_a_depthwise_net(tmp_path):
    """MobileNetV2-style (depthwise 3x3, ReLU6, residual Adds) at 8 bits, bias correction on by default."""
    need_toolchain()
    path, files = model_files("mbv2_mnist")
    b = fpga_accel.compile(path, tmp_path / "mbv2.fpga", calib=data.load_calib(files), progress=False,
                           generators=[generate_hls])
    rec = b.manifest["quantization"]["methods"]["bias_correction"]
    assert rec["applied"] and len(rec["layers"]) == 15 and "default" in rec
    qm = load_qmodel(b)
    assert any(lay.config.get("group", 1) > 1 for lay in qm.layers)
    check(b, qm, files, "mbv2_mnist with the default config", tmp_path)


def check(b, qm, files, what, tmp_path):
    """The C simulation's integers on 100 test images (fa_kernel) and 7 (fa_axis) == the emulator's."""
    cs = Csim(qm, tmp_path / "regen", b.manifest["layers"], b.manifest.get("board"))
    x, _ = data.load_test(files)
    ins = hardware_inputs(qm, x[:100])
    cs.check(ins, what=f"{what}, fa_kernel")
    cs.check([a[:7] for a in ins], axis=True, what=f"{what}, fa_axis")
