"""Weights in URAM loaded from DDR at start: a small model folded for a board short of BRAM18, so the
fold places its weight memories in URAM (``estimate.uram_arrays``), is generated
with writable URAM arrays, a ``wmem`` port and a ``load`` flag; the bundle carries weights/uram.bin.
C simulation with the load == emulator bit for bit (through either top); without the load the
outputs differ; a design with no URAM array keeps its tops byte for byte; a corrupt blob is refused."""
import dataclasses
import hashlib
import json
import math
import re
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
from fpga_accel.fold import apply_to_manifest, fold_model, get_board

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import data  # noqa: E402


def short_of_bram(board, spare: int):
    """``board`` with just enough BRAM18 for its m_axi kernel's adapters (fa_kernel's input and output
    buffers, on boards without a PS: fold/design.io_ports) and ``spare`` blocks more, at the fold's
    default 80 % ceiling: too few for the weights, so the fold moves them to URAM."""
    from fpga_accel.fold.resources import maxi_cost
    from fpga_accel.pe.io import KERNEL_IN, KERNEL_OUT

    ports = 0 if board.ps is not None else maxi_cost(KERNEL_IN).bram18 + maxi_cost(KERNEL_OUT).bram18
    keep = 1.0 - float(board.reserved.get("bram18", 0.0))
    return dataclasses.replace(board, bram18=math.ceil((ports + spare) / 0.8 / keep) + 1)


def tight_fold(stage, qm, manifest):
    """The fold tests' knob: the board with too few BRAM18 for the weights, so the fold moves them to
    URAM (fold/design.py _place) and records them in ``estimate.uram_arrays``, before the HLS generator."""
    board = get_board("zcu104")
    tight = dataclasses.replace(board, name="zcu104-tight", bram18=2)
    built_for = manifest["board"]
    apply_to_manifest(manifest, fold_model(qm, tight, target_fps=1000))
    manifest["board"] = built_for  # the board the design is built for (its BRAM18 budget aside)
    manifest["fold"]["board"] = board.name


def uram_generators():
    return [tight_fold, *default_generators()]


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
    assert sum(a["words"] for a in u["arrays"]) * 64 == len(blob) and len(u["arrays"]) >= 1
    top = (uram_bundle.path / "hls" / "src" / "fa_top.cpp").read_text()
    for a in u["arrays"]:
        assert a["array"] == "mvau/weights"
    assert top.count("impl = uram") == len(u["arrays"])
    assert "port = wmem offset = slave bundle = gmem_w" in top and "port = load bundle = control" in top
    params = "".join(p.read_text() for p in (uram_bundle.path / "hls" / "src" / "params").glob("*.h"))
    bound = re.findall(r"BIND_STORAGE variable = (\w+) type = ram_2p impl = uram", top)
    assert len(bound) == len(u["arrays"])
    for var, a in zip(bound, u["arrays"]):  # writable, no contents in the source: they come from the blob
        assert f"static ap_uint<{a['word_bits']}> {var}[{a['banks']}][{a['depth']}];" in params
        assert not re.search(rf"FA_PARAM\([^\n]*, {var}, ", params)  # not also a constant array
    names = [a["name"] for a in m["kernel"]["args"]]
    assert names[-3:] == ["n_images", "wmem", "load"]
    regs = m["kernel"]["axis"]["registers"]
    assert regs == {"n_images": 0x10, "wmem": 0x18, "load": 0x24}


def test_csim_with_the_load_equals_the_emulator_and_without_it_differs(uram_bundle, library):
    qm = load_qmodel(uram_bundle)
    ins = images(qm, 5)
    want = run_layers(qm, ins)
    # the library is shared by the process: start from URAM as configuration leaves it (zeros, UG573)
    library.load(bytes(uram_bundle.manifest["uram_load"]["bytes"]))
    unloaded = csim_run(library, qm, ins)
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
    m["uram_load"]["arrays"][0]["offset"] += 1
    write_manifest(path, m)
    with pytest.raises(BundleError, match=r"uram_load.arrays\[0\].offset"):
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


@pytest.mark.parametrize("width,banks,depth", [(112, 1, 37), (512, 2, 3), (600, 2, 3), (8, 1, 130)])
def test_the_blob_lays_words_out_as_weight_load_h_reads_them(width, banks, depth):
    """blob_bytes against the header's layout, bit by bit (narrow words several to a 64-byte word,
    wide ones over several), for two arrays one after the other."""
    from types import SimpleNamespace

    from fpga_accel.codegen.uram_load import Loaded, blob_bytes

    r = np.random.default_rng(width)
    pairs, offset, want_bits = [], 0, []
    for k in range(2):
        vals = [int.from_bytes(r.bytes(-(-width // 8)), "little") & ((1 << width) - 1) for _ in range(banks * depth)]
        item = Loaded(f"a{k}", "l", "mvau/weights", width, (banks, depth), offset)
        per, span = (512 // width, 1) if width <= 512 else (1, -(-width // 512))
        words = np.zeros((item.words, 512), np.uint8)
        for i, v in enumerate(vals):
            for b in range(width):
                at = (i % per) * width + b if width <= 512 else b
                words[i // per if width <= 512 else i * span + at // 512, at % 512] = v >> b & 1
        want_bits.append(words)
        pairs.append((item, SimpleNamespace(values=np.array(vals, dtype=object).reshape(banks, depth))))
        offset += item.words
    got = np.unpackbits(np.frombuffer(blob_bytes(pairs), np.uint8), bitorder="little").reshape(-1, 512)
    np.testing.assert_array_equal(got, np.concatenate(want_bits))


def test_block_design_connects_the_weights_master_to_the_hp_port(uram_bundle, tmp_path):
    """The Zynq block design under tclsh with recording stand-ins: the IP's m_axi_gmem_w joins the
    DMAs' SmartConnect onto the HP port (as the tiled engine's masters do)."""
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed")
    from test_build_scripts import run_vivado_tcl

    proc, calls = run_vivado_tcl(uram_bundle.path / "scripts/vivado_bd.tcl", tmp_path, [tmp_path / "ip", tmp_path / "out"],
                                 env={"FA_STANDIN_BOARD_PART": "xilinx.com:zcu104:part0:1.1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    auto = [c for c in calls if c[0] == "apply_bd_automation" and c[-1] == "fa_axis_0/m_axi_gmem_w"]
    assert len(auto) == 1 and "Slave /ps8/S_AXI_HP0_FPD" in auto[0][4] and "intc_ip Auto" in auto[0][4]
    dma = [c for c in calls if c[0] == "apply_bd_automation" and c[-1].endswith(("M_AXI_MM2S", "M_AXI_S2MM"))]
    assert dma and calls.index(dma[-1]) < calls.index(auto[0])  # after the DMAs: it joins their SmartConnect


def test_standalone_testbench_takes_the_weights_file(uram_bundle, tmp_path):
    """csim/run_csim.sh --weights weights/uram.bin == emulator; without the file it refuses to run."""
    need_toolchain()
    import subprocess

    from fpga_accel.toolchain import ap_types_dir

    qm = load_qmodel(uram_bundle)
    ins = images(qm, 3, seed=5)
    (x,), (y,) = qm.inputs, qm.outputs
    ins[x.name].tofile(tmp_path / "in0.bin")
    hls = uram_bundle.path / "hls"
    env = {**__import__("os").environ, "AP_TYPES": str(ap_types_dir()), "TB_BIN": str(tmp_path / "tb")}
    run = subprocess.run(["sh", str(hls / "csim/run_csim.sh"), "--weights", str(uram_bundle.path / "weights/uram.bin"),
                          "3", str(tmp_path / "in0.bin"), str(tmp_path / "out0.bin")],
                         capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    got = np.fromfile(tmp_path / "out0.bin", y.qparams.qtype.dtype).reshape(3, *y.shape[1:])
    np.testing.assert_array_equal(got, run_layers(qm, ins)[y.name])
    bare = subprocess.run(["sh", str(hls / "csim/run_csim.sh"), "3", str(tmp_path / "in0.bin"), str(tmp_path / "o.bin")],
                          capture_output=True, text=True, env=env, timeout=900)
    assert bare.returncode == 2 and "--weights" in bare.stderr
