"""Every example model: the C simulation of its generated HLS project computes exactly the
emulator's integers on at least 100 test images, through fa_kernel (m_axi) and fa_axis
(AXI-Stream, TLAST per image), and the standalone testbench gives the same bytes."""
from __future__ import annotations

import os
import subprocess
import time

import numpy as np
import pytest
from codegen_util import Csim, need_toolchain

import fpga_accel
from fpga_accel.codegen.hls_project import generate_hls
from fpga_accel.compiler import load_qmodel
from fpga_accel.ir.execute import run_graph
from fpga_accel.quant.arith import quantize
from models import data

N_IMAGES = 100
N_SYNTHESIS_LOOPS = 10  # images also run through the synthesis loops (slow in simulation)
FAST = ["mlp", "digits_cnn"]
SLOW = ["mnist_cnn", "resnet_ds", "mnist_cnn_qdq"]


def hardware_inputs(qm, x) -> list[np.ndarray]:
    feeds = {qm.model_inputs[0].name: x}
    pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else feeds
    return [np.ascontiguousarray(quantize(pre[t.name], t.qparams, name=t.name)) for t in qm.inputs]


def compiled(name, tmp_path):
    calib = None if name.endswith("_qdq") else data.load_calib(name)
    b = fpga_accel.compile(data.model_path(name), tmp_path / f"{name}.fpga", calib=calib, progress=False,
                           generators=[generate_hls])
    return b, load_qmodel(b)


def check_model(name, tmp_path):
    need_toolchain()
    b, qm = compiled(name, tmp_path)
    layers = b.manifest["layers"]
    cs = Csim(qm, tmp_path / "regen", layers, b.manifest.get("board"))
    # the regenerated project is the bundle's, byte for byte
    for p in sorted((b.path / "hls").rglob("*")):
        if p.is_file():
            assert (cs.hls / p.relative_to(b.path / "hls")).read_bytes() == p.read_bytes(), p
    x, _ = data.load_test(name)
    assert len(x) >= N_IMAGES
    ins = hardware_inputs(qm, x[:N_IMAGES])
    t = time.perf_counter()
    cs.check(ins, what=f"{name} fa_kernel")
    rate = N_IMAGES / (time.perf_counter() - t)
    cs.check([a[:7] for a in ins], axis=True, what=f"{name} fa_axis")
    cycles = cs.lib.stage_cycles()
    assert len(cycles) >= len(qm.layers) and all(v > 0 for v in cycles.values())
    # the loops synthesis sees (no simulation fast paths): the same integers and the same counts
    few = [a[:N_SYNTHESIS_LOOPS] for a in ins]
    fast_out = cs.run(few)
    fast_cycles = cs.lib.stage_cycles()
    cs.lib.set_fast_paths(False)
    try:
        cs.check(few, what=f"{name} fa_kernel, synthesis loops")
        assert all(np.array_equal(a, b) for a, b in zip(cs.run(few), fast_out, strict=True))
        assert cs.lib.stage_cycles() == fast_cycles
    finally:
        cs.lib.set_fast_paths(True)
    print(f"{name}: csim build {cs.build_seconds:.1f} s (0 when cached), {rate:.1f} images/s (fa_kernel, "
          f"incl. the emulator reference)")
    return b, qm, cs, ins


@pytest.mark.parametrize("name", FAST)
def test_model_csim_equals_emulator(name, tmp_path):
    check_model(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_model_csim_equals_emulator_slow(name, tmp_path):
    check_model(name, tmp_path)


def test_standalone_testbench(tmp_path):
    """csim/run_csim.sh builds tb_main and runs both tops from .bin / .npy files."""
    need_toolchain()
    from fpga_accel.toolchain import ap_types_dir

    b, _, cs, ins = check_model("mlp", tmp_path)
    want = cs.reference([a[:9] for a in ins])[0]
    np.save(tmp_path / "in0.npy", ins[0][:9])
    ins[0][:9].tofile(tmp_path / "in0.bin")
    env = dict(os.environ, AP_TYPES=str(ap_types_dir()), TB_BIN=str(tmp_path / "tb"))
    script = b.path / "hls" / "csim" / "run_csim.sh"
    for args in (["9", "in0.bin", "out_k.bin"], ["--axis", "9", "in0.npy", "out_a.bin"]):
        res = subprocess.run(check=False, args=["sh", str(script), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        assert "/mvau" in res.stdout  # the per-stage cycle table
        got = np.fromfile(tmp_path / args[-1], dtype=want.dtype).reshape(want.shape)
        assert np.array_equal(got, want), args
    bad = subprocess.run(check=False, args=["sh", str(script), "9", "missing.bin", "o.bin"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "cannot open missing.bin" in bad.stderr
