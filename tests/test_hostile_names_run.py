"""Models with hostile names compute what the emulator computes, bit for bit: the generated OpenCL
kernel on PoCL (every name of tests/hostile_util.py in every slot), and the C simulation of the
generated HLS project (one model with a different C-breaking name in each slot), whose stage names
come back from the library exactly as the model spells them."""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import need_toolchain
from hostile_util import HOSTILE, calibration, hostile_cnn, mixed_slots, with_canary
from test_opencl_ops import open_session

import fpga_accel
from fpga_accel.codegen.opencl import generate_opencl
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends.opencl import OpenCLBackend
from fpga_accel.runtime.session import Session


def hardware_inputs(qm, n: int = 7) -> dict[str, np.ndarray]:
    r = np.random.default_rng(3)
    return {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (n, *t.shape[1:]))
            .astype(t.qparams.qtype.dtype) for t in qm.inputs}


def assert_equal_to_emulator(qm, got: dict, feeds: dict) -> None:
    want = run_layers(qm, feeds)
    for t in qm.outputs:
        assert got[t.name].dtype == want[t.name].dtype and got[t.name].shape == want[t.name].shape
        assert np.array_equal(got[t.name], want[t.name]), f"{int((got[t.name] != want[t.name]).sum())} differ"


@pytest.mark.parametrize("case", list(HOSTILE))
def test_opencl_kernel_with_hostile_names_equals_emulator(case, tmp_path):
    canary = tmp_path / "pwned"
    bundle = fpga_accel.compile(hostile_cnn(with_canary(HOSTILE[case], canary)), tmp_path / "m.fpga",
                                calib=calibration(), progress=False, generators=[generate_opencl])
    why = OpenCLBackend.unavailable(bundle)
    if why:
        pytest.skip(why)
    qm = load_qmodel(bundle)
    feeds = hardware_inputs(qm)
    with open_session(bundle) as s:
        got = s.run(feeds, raw=True)
    assert_equal_to_emulator(qm, got, feeds)
    assert not canary.exists()


def test_csim_with_hostile_names_equals_emulator(tmp_path):
    need_toolchain()
    slots = mixed_slots()
    bundle = fpga_accel.compile(hostile_cnn(slots), tmp_path / "m.fpga", calib=calibration(), progress=False)
    qm = load_qmodel(bundle)
    feeds = hardware_inputs(qm)
    with Session(bundle, backend="csim") as s:
        got = s.run(feeds, raw=True)
        stages = list(s.backend.stage_cycles())
    assert_equal_to_emulator(qm, got, feeds)
    # C string literals carry the names exactly: the library hands back what the model says
    assert f"{qm.inputs[0].name}/input" in stages
    assert any(st.startswith(slots["gemm"]) and st.endswith("/mvau") for st in stages), stages
