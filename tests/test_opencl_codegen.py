"""The OpenCL generator without a device: completeness of the emitters, errors, the source's form."""
import copy
import sys
from pathlib import Path

import pytest

import fpga_accel
from fpga_accel.bundle_kernel import kernel_interface
from fpga_accel.codegen import opencl
from fpga_accel.codegen.opencl import EMITTERS, KERNEL_PATH, generate_opencl, kernel_source
from fpga_accel.codegen.opencl.c import broadcast_index, const_array
from fpga_accel.compiler import load_qmodel
from fpga_accel.errors import UnsupportedModelError
from fpga_accel.ops import all_ops

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import data


@pytest.fixture(scope="module")
def qmodel(tmp_path_factory):
    b = fpga_accel.compile(data.model_path("resnet_ds"), tmp_path_factory.mktemp("r") / "r.fpga",
                           calib=data.load_calib("resnet_ds"), progress=False, generators=[generate_opencl])
    return load_qmodel(b)


def test_every_integer_op_has_an_emitter():
    missing = sorted(op.op_type for op in all_ops() if op.has_int() and op.op_type not in EMITTERS)
    assert missing == []


def test_unknown_layer_kinds_are_listed_together(qmodel):
    qm = copy.deepcopy(qmodel)
    qm.layers[1].op_type = "Frobnicate"
    qm.layers[4].op_type = "Twiddle"
    with pytest.raises(UnsupportedModelError) as e:
        kernel_source(qm, kernel_interface(qm)["args"])
    text = str(e.value)
    assert "2 unsupported node(s)" in text
    assert f"'{qm.layers[1].name}' (Frobnicate)" in text and f"'{qm.layers[4].name}' (Twiddle)" in text
    assert "no OpenCL emitter" in text


def test_intermediates_over_the_private_limit_go_to_global_scratch(qmodel, monkeypatch):
    """The largest intermediates move to the scratch argument until the private rest fits."""
    monkeypatch.setattr(opencl.kernel, "PRIVATE_LIMIT", 1000)
    args = kernel_interface(qmodel)["args"]
    src = kernel_source(qmodel, args)
    layout = opencl.kernel.scratch_layout(qmodel, args)
    inter = opencl.kernel.intermediates(qmodel, args)
    size = lambda t: opencl.kernel.tensor_bytes(qmodel, t)  # noqa: E731
    assert layout and sum(size(t) for t in inter if t not in layout) <= 1000
    assert min(size(t) for t in layout) >= max((size(t) for t in inter if t not in layout), default=0)
    assert "__global uchar* restrict fa_scratch) {" in src
    assert src.count("(fa_ws + ") == len(layout)
    monkeypatch.setattr(opencl.kernel, "PRIVATE_LIMIT", 1 << 20)
    assert "fa_scratch" not in kernel_source(qmodel, args)


def test_source_names_every_layer_and_keeps_the_argument_order(qmodel):
    src = kernel_source(qmodel, kernel_interface(qmodel)["args"])
    for i, lay in enumerate(qmodel.layers):
        assert f"/* layer {i}: {lay.name} ({lay.op_type})" in src
        assert f"fa_L{i}_{lay.op_type}(" in src
    assert "__kernel void fa_kernel(__global const uchar* restrict in0,\n" in src
    assert src.count("__kernel") == 1


def test_generator_writes_the_kernel_and_describes_it(tmp_path, qmodel):
    manifest = {}
    generate_opencl(tmp_path, qmodel, manifest)
    assert (tmp_path / KERNEL_PATH).read_text() == kernel_source(qmodel, manifest["kernel"]["args"])
    assert manifest["kernel"] == kernel_interface(qmodel)
    assert manifest["opencl"]["kernel"] == KERNEL_PATH


def test_broadcast_index():
    assert broadcast_index((1, 3, 4), (1, 3, 4)) == "i"
    assert broadcast_index((1, 1, 1), (1, 3, 4)) == "0"
    assert broadcast_index((1, 1, 4), (1, 3, 4)) == "(i % 4)"
    assert broadcast_index((1, 3, 1), (1, 3, 4)) == "(i / 4)"
    assert broadcast_index((1, 2, 1, 5), (1, 2, 3, 5)) == "(i / 15) * 5 + (i % 5)"
    assert broadcast_index((1, 2, 4), (1, 3, 4)) is None
    # the expressions index the numpy-broadcast operand
    import numpy as np

    for shape, out in (((1, 2, 1, 5), (1, 2, 3, 5)), ((1, 1, 3, 1), (1, 2, 3, 4)), ((4,), (1, 3, 4))):
        a = np.arange(int(np.prod(shape))).reshape(shape)
        want = np.broadcast_to(a, out).reshape(-1)
        expr = broadcast_index(shape, out)
        got = [eval(expr.replace("/", "//"), {"i": i}) for i in range(want.size)]
        assert a.reshape(-1)[got].tolist() == want.tolist()


def test_constant_arrays_are_typed_and_wrapped():
    text = const_array("L0_w", list(range(-3, 17)))
    assert text.startswith("__constant char L0_w[20] = {\n    -3, -2, -1, 0,")
    assert text.count("\n") == 4  # 16 values a line
    assert "__constant long L0_b[2] = {\n    -1L, 4294967296L\n};" in const_array("L0_b", [-1, 1 << 32])
