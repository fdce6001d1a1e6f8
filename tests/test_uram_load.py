"""Weights in URAM loaded from DDR at start: a small model whose weight memories are recorded as
placed in URAM (the fold's ``estimate.uram_arrays``, the record code generation reads) is generated
with writable URAM arrays, a ``wmem`` port and a ``load`` flag; the bundle carries weights/uram.bin.
C simulation with the load == emulator bit for bit (through either top); without the load the
outputs differ; a design with no URAM array keeps its tops byte for byte; a corrupt blob is refused."""
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import fpga_accel
from codegen_util import need_toolchain
from fpga_accel.bundle import BundleError, load_bundle, write_manifest
from fpga_accel.codegen.hls_project import generate_hls
from fpga_accel.codegen.network import build_network
from fpga_accel.codegen.top import top_header, top_source
from fpga_accel.compiler import default_generators, load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.emulator.csim_library import CsimLibrary, build_csim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import data  # noqa: E402


def force_uram(stage, qm, manifest):
    """The fold's record of a weight memory in URAM, for every MVAU layer (what a board short of BRAM18
    gets from fold/design.py _place), written before the HLS generator reads it."""
    for entry in manifest["layers"]:
        if any(s == "mvau" for s in [entry.get("op")]) or entry.get("op") in ("Gemm", "MatMul", "Conv"):
            entry.setdefault("estimate", {})["uram_arrays"] = ["mvau/weights"]


def uram_generators():
    return [force_uram, *default_generators()]


@pytest.fixture(scope="module")
def uram_bundle(tmp_path_factory):
    return fpga_accel.compile(data.model_path("mlp"), tmp_path_factory.mktemp("u") / "mlp.fpga",
                              calib=data.load_calib("mlp"), board="zcu104", progress=False,
                              generators=uram_generators())


@pytest.fixture(scope="module")
def library(uram_bundle):
    need_toolchain()
    return CsimLibrary(build_csim(uram_bundle, progress=False))


def images(qm, n, seed=0):
    r = np.random.default_rng(seed)
    return {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (n, *t.shape[1:]))
            .astype(t.qparams.qtype.dtype) for t in qm.inputs}


def csim_run(lib, qm, ins):
    n = next(iter(ins.values())).shape[0]
    outs = [np.empty((n, *t.shape[1:]), t.qparams.qtype.dtype) for t in qm.outputs]
    lib.run([np.ascontiguousarray(ins[t.name]) for t in qm.inputs], outs, n)
    return {t.name: o for t, o in zip(qm.outputs, outs)}


def test_the_bundle_carries_the_blob_and_the_tops_the_port(uram_bundle):
    m = uram_bundle.manifest
    u = m["uram_load"]
    blob = (uram_bundle.path / "weights" / "uram.bin").read_bytes()
    assert u["bytes"] == len(blob) > 0 and u["sha256"] == hashlib.sha256(blob).hexdigest()
    assert m["files"]["weights/uram.bin"] == u["sha256"]
    assert sum(a["words"] for a in u["arrays"]) * 64 == len(blob) and len(u["arrays"]) >= 2
    top = (uram_bundle.path / "hls" / "src" / "fa_top.cpp").read_text()
    for a in u["arrays"]:
        assert a["array"] == "mvau/weights"
    assert top.count("impl = uram") == len(u["arrays"])
    assert "port = wmem offset = slave bundle = gmem_w" in top and "port = load bundle = control" in top
    params = "".join(p.read_text() for p in (uram_bundle.path / "hls" / "src" / "params").glob("*.h"))
    assert params.count("static const ap_uint<") == 0 or "_weights[" not in params.split("static const")[1]
    names = [a["name"] for a in m["kernel"]["args"]]
    assert names[-3:] == ["n_images", "wmem", "load"]
    regs = m["kernel"]["axis"]["registers"]
    assert regs == {"n_images": 0x10, "wmem": 0x18, "load": 0x24}


def test_csim_with_the_load_equals_the_emulator_and_without_it_differs(uram_bundle, library):
    qm = load_qmodel(uram_bundle)
    ins = images(qm, 5)
    want = run_layers(qm, ins)
    unloaded = csim_run(library, qm, ins)  # URAM holds zeros until the load
    assert any(not np.array_equal(unloaded[t.name], want[t.name]) for t in qm.outputs)
    library.load(uram_bundle.read("weights/uram.bin"))
    got = csim_run(library, qm, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


def test_the_axis_top_loads_too(uram_bundle, tmp_path):
    need_toolchain()
    lib = CsimLibrary(build_csim(uram_bundle, progress=False))
    lib.load(bytes(uram_bundle.manifest["uram_load"]["bytes"]))  # zeros first: a fresh memory
    lib.load(uram_bundle.read("weights/uram.bin"), axis=True)
    qm = load_qmodel(uram_bundle)
    ins = images(qm, 3, seed=1)
    got = csim_run(lib, qm, ins)
    want = run_layers(qm, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


def test_csim_session_loads_the_blob(uram_bundle):
    need_toolchain()
    qm = load_qmodel(uram_bundle)
    ins = images(qm, 4, seed=2)
    with fpga_accel.Session(uram_bundle.path, backend="csim") as s:
        got = s.run(ins, raw=True)
    want = run_layers(qm, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


def test_a_design_without_uram_keeps_its_tops_byte_for_byte(uram_bundle):
    qm = load_qmodel(uram_bundle)
    manifest = json.loads(json.dumps(uram_bundle.manifest))
    for entry in manifest["layers"]:
        (entry.get("estimate") or {}).pop("uram_arrays", None)
    net = build_network(qm, manifest)
    params = ["p.h"]
    # the tops with no loaded array are the ones the generator wrote before URAM weights could load
    plain = top_source(net, "m", params)
    assert top_source(net, "m", params, uram={}, loaded=[]) == plain
    assert top_header(net, "m") == top_header(net, "m", wmem_words=0)
    assert "wmem" not in plain and "load" not in plain.replace("// ", "") and "weight_load.h" not in top_header(net, "m")


@pytest.fixture
def fake_pynq(monkeypatch):
    from pynq_util import drop_pynq, use_fake_pynq

    yield use_fake_pynq(monkeypatch)
    drop_pynq()


def test_pynq_session_loads_the_blob_over_the_wmem_master(uram_bundle, tmp_path, fake_pynq):
    from pynq_util import place_overlay

    path = tmp_path / "mlp.fpga"
    shutil.copytree(uram_bundle.path, path)
    bundle = load_bundle(path)
    place_overlay(bundle)
    qm = load_qmodel(bundle)
    ins = images(qm, 6, seed=3)
    with fpga_accel.Session(path, backend="pynq") as s:
        got = s.run(ins, raw=True)
        ip = fake_pynq.board.ip
    assert len(ip.loads) == 1 and ip.loads[0][1] == bundle.manifest["uram_load"]["bytes"]
    assert ip.uram_loaded == bundle.read("weights/uram.bin") and not fake_pynq.board.violations
    want = run_layers(qm, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_a_corrupt_blob_is_refused_naming_the_file(uram_bundle, tmp_path, how):
    path = tmp_path / "mlp.fpga"
    shutil.copytree(uram_bundle.path, path)
    blob = path / "weights" / "uram.bin"
    data = bytearray(blob.read_bytes())
    if how == "truncated":
        del data[-64:]
    else:
        data[100] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="weights/uram.bin"):
        load_bundle(path)
    # unchecked open (verify=False): the backends read the blob through its size and hash
    from fpga_accel.bundle_uram import read_uram_blob

    with pytest.raises(BundleError, match="uram.bin"):
        read_uram_blob(load_bundle(path, verify=False))


def test_a_manifest_whose_offsets_do_not_fill_the_blob_is_refused(uram_bundle, tmp_path):
    path = tmp_path / "mlp.fpga"
    shutil.copytree(uram_bundle.path, path)
    m = json.loads((path / "manifest.json").read_text())
    m["uram_load"]["arrays"][1]["offset"] += 1
    write_manifest(path, m)
    with pytest.raises(BundleError, match=r"uram_load.arrays\[1\].offset"):
        load_bundle(path)


def test_xrt_path_loads_the_blob_once_at_open(uram_bundle, library, tmp_path, monkeypatch):
    """The xclbin path on a stand-in pyopencl whose "card" is the C simulation: the kernel's load run
    fills its URAM from the wmem buffer, image runs compute with them."""
    import test_opencl_backend as t
    from fpga_accel.runtime.backends import opencl as backend

    qm = load_qmodel(uram_bundle)
    lib = CsimLibrary(build_csim(uram_bundle, progress=False))
    lib.load(bytes(uram_bundle.manifest["uram_load"]["bytes"]))  # a freshly programmed card: URAM empty
    names = [a["name"] for a in uram_bundle.manifest["kernel"]["args"]]

    class CsimCard(t.FakeCL):
        loads = 0

        def enqueue_nd_range_kernel(self, queue, kernel, global_size, local_size, wait_for=None):
            a = {names[i]: v for i, v in kernel.args.items()}
            if int(a["load"]) == 1:
                lib.load(a["wmem"].data.tobytes())
                CsimCard.loads += 1
                return self._event()
            n = int(a["n_images"])
            ins = {x.name: a[f"in{i}"].data[:n * int(np.prod(x.shape[1:]))].view(x.qparams.qtype.dtype)
                   .reshape(n, *x.shape[1:]) for i, x in enumerate(qm.inputs)}
            for j, (x, o) in enumerate(zip(qm.outputs, csim_run(lib, qm, ins).values())):
                raw = np.frombuffer(o.tobytes(), np.uint8)
                a[f"out{j}"].data[:raw.size] = raw
            return self._event()

    path = tmp_path / "mlp.fpga"
    shutil.copytree(uram_bundle.path, path)
    (path / "bitstream").mkdir()
    (path / "bitstream" / "fa_kernel.xclbin").write_bytes(t.XCLBIN)
    fake = CsimCard([t.platform("Xilinx", t.device("xilinx_u250"))], qm)
    monkeypatch.setattr(backend, "_pyopencl", lambda: fake)
    ins = images(qm, 4, seed=4)
    with fpga_accel.Session(path, backend="opencl") as s:
        got = s.run(ins, raw=True)
        got2 = s.run(ins, raw=True)
    assert CsimCard.loads == 1
    want = run_layers(qm, ins)
    for x in qm.outputs:
        np.testing.assert_array_equal(got[x.name], want[x.name])
        np.testing.assert_array_equal(got2[x.name], want[x.name])
