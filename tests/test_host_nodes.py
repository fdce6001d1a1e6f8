"""`compile --host-nodes`: named nodes and everything downstream of them run on the host in float;
the accelerated part ends before them and the bundle still computes the model."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import fpga_accel
from fpga_accel.cli import main
from fpga_accel.errors import InputError
from models import data

CUT = "/5/body/body.0/Conv"  # resnet_ds: the second residual block's first convolution


def downstream(model: onnx.ModelProto, start: str) -> set[str]:
    """``start`` and every node fed (directly or not) by it, from the ONNX file's own edges."""
    made, out = set(), {start}
    for n in model.graph.node:
        if n.name == start or any(i in made for i in n.input):
            made.update(n.output)
            out.add(n.name)
    return out


@pytest.fixture(scope="module")
def resnet():
    path = data.model_path("resnet_ds")
    x, y = data.load_test("resnet_ds")
    ref = ort.InferenceSession(str(path)).run(None, {"input": x[:300]})[0]
    return path, x[:300], y[:300], ref


def test_host_nodes_cut_the_accelerated_part_and_the_bundle_matches_the_float_model(resnet, tmp_path, capsys):
    path, x, y, ref = resnet
    code = main(["compile", str(path), "--calib", str(data.HERE / "resnet_ds" / "calib.npz"), "-o",
                 str(tmp_path / "cut.fpga"), "--host-nodes", CUT])
    out = capsys.readouterr().out
    assert code == 0, out
    m = fpga_accel.load_bundle(tmp_path / "cut.fpga").manifest
    host_after = [n["name"] for n in m["partition"]["host_after"]]
    every = {n["name"] for part in m["partition"].values() for n in part}
    assert set(host_after) == downstream(onnx.load(path), CUT) & every and CUT in host_after
    assert not {n["name"] for n in m["partition"]["hardware"]} & set(host_after)
    assert {r["name"] for r in m["layers"]} == {n["name"] for n in m["partition"]["hardware"]}
    assert "host after      " + CUT in out
    with fpga_accel.Session(tmp_path / "cut.fpga", backend="emulator") as s:
        got = s.run(x)["logits"]
    err = got - ref
    sqnr = 10 * np.log10(np.sum(ref ** 2) / np.sum(err ** 2))
    agree = np.mean(got.argmax(1) == ref.argmax(1))
    assert sqnr > 25 and agree >= 0.99, (sqnr, agree)
    assert np.mean(got.argmax(1) == y) >= np.mean(ref.argmax(1) == y) - 0.01


def test_host_nodes_names_are_checked(resnet, tmp_path):
    path = resnet[0]
    with pytest.raises(InputError, match=r"\['/4/relu/Relu', 'nope'\].*inspect MODEL --flow hardware"):
        fpga_accel.compile(path, tmp_path / "bad.fpga", calib=data.load_calib("resnet_ds"), progress=False,
                           host_nodes=["/4/relu/Relu", "nope"])  # the Relu is fused into its Conv
    assert not (tmp_path / "bad.fpga").exists()


def test_does_not_fit_points_at_host_nodes(resnet, tmp_path):
    from fpga_accel.fold import FoldError

    with pytest.raises(FoldError, match=r"compile --host-nodes NAME: that node and everything after it"):
        fpga_accel.compile(resnet[0], tmp_path / "small.fpga", calib=data.load_calib("resnet_ds"), progress=False,
                           ceiling=0.05, generators=[])
