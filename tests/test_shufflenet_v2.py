"""ShuffleNetV2 x0.5 (torchvision's architecture, random weights, in the form PyTorch exports it)
compiles as one dataflow design for alveo-u250 with every layer on the chip: 26 channel slices
(13 splits), 16 concats and 16 channel shuffles. The emulator agrees with onnxruntime's float outputs
(cosine ≥ 0.99 on 2 images). The C simulation equals the emulator bit for bit on 2 images of the same
network with a 10-class head (slow: g++ builds its project in about 4 minutes on a loaded two-core
machine; with the 1000-class head's 1 M weights it did not finish within 15 minutes)."""
import numpy as np
import onnxruntime as ort
import pytest
from codegen_util import Csim, need_toolchain
from shufflenet_util import shufflenet_v2

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.runtime.session import Session

SIZE = 224


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    model = shufflenet_v2(0.5, SIZE)
    calib = np.random.default_rng(0).standard_normal((8, 3, SIZE, SIZE)).astype(np.float32)
    bundle = fpga_accel.compile(model, tmp_path_factory.mktemp("sn") / "sn.fpga", board="alveo-u250", calib=calib,
                                progress=False)
    return model, bundle


def test_every_layer_is_on_the_chip(compiled):
    _, bundle = compiled
    qm = load_qmodel(bundle)
    kinds = [lay.op_type for lay in qm.layers]
    assert (kinds.count("Slice"), kinds.count("Concat"), kinds.count("ChannelShuffle")) == (26, 16, 16)
    assert "Transpose" not in kinds and not qm.host_after.nodes
    assert [n.op_type for n in qm.host_before.nodes] == ["Transpose"]  # the input's layout only
    assert bundle.manifest["opencl"]["scratch"]["bytes_per_work_item"] > 0  # its maps exceed private memory


def test_emulator_close_to_onnxruntime(compiled):
    model, bundle = compiled
    x = np.random.default_rng(1).standard_normal((2, 3, SIZE, SIZE)).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = np.concatenate([sess.run(None, {"x": x[i:i + 1]})[0] for i in range(2)])
    with Session(bundle, backend="emulator") as s:
        got = s.run({"x": x})["logits"]
    for g, w in zip(got, want):
        assert float(np.sum(g * w) / np.linalg.norm(g) / np.linalg.norm(w)) >= 0.99


@pytest.mark.slow
def test_csim_equals_the_emulator(tmp_path):
    need_toolchain()
    calib = np.random.default_rng(0).standard_normal((8, 3, SIZE, SIZE)).astype(np.float32)
    bundle = fpga_accel.compile(shufflenet_v2(0.5, SIZE, classes=10), tmp_path / "sn.fpga", board="alveo-u250",
                                calib=calib, progress=False)
    cs = Csim(load_qmodel(bundle), tmp_path / "csim", bundle.manifest["layers"])
    cs.check(cs.inputs(2, np.random.default_rng(2)), what="ShuffleNetV2 x0.5, 10 classes")
