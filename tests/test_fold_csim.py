"""The fold model's cycles against the C simulation's counted FA_CYCLE iterations, stage by stage.

For each case the bundle's generated HLS project is compiled with g++ (fpga_accel.emulator.csim_library),
two images are run, and every stage's counted loop iterations must equal the model's
prediction for a two-image call: both from the model's own lowering (same stage names, so the
folder sees the network the code generator builds) and from the parameters the code generator
wrote into manifest["hls"].
"""
from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest

from models import data

N_IMAGES = 2
MISSING = [m for m in ("fpga_accel.codegen.hls_project", "fpga_accel.emulator.csim_library")
           if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} not available yet")

SLOW = pytest.mark.slow  # each builds a C simulation with g++ (15-30 s on two cores)
CASES = [
    pytest.param("mnist_cnn", "pynq-z2", None, id="mnist_cnn-pynq-z2"),
    pytest.param("mnist_cnn", "zcu104", {"/0/Conv": {"pe": 2}, "/3/MaxPool": {"pe": 4},
                                         "/4/Conv": {"pe": 4, "simd": 2}, "/7/MaxPool": {"pe": 16},
                                         "/9/Gemm": {"pe": 5, "simd": 16}}, id="mnist_cnn-zcu104-fixed"),
    pytest.param("resnet_ds", "pynq-z2", None, id="resnet_ds-pynq-z2"),
    pytest.param("resnet_ds", "alveo-u50", {"/4/body/body.0/Conv": {"pe": 2}, "/4/Add": {"pe": 8},
                                            "/6/GlobalAveragePool": {"pe": 4}}, id="resnet_ds-alveo-u50-fixed",
                 marks=SLOW),
    pytest.param("digits_cnn", "ultra96v2", None, id="digits_cnn-ultra96v2", marks=SLOW),
    pytest.param("mlp", "pynq-z2", None, id="mlp-pynq-z2", marks=SLOW),
]


def toolchain_or_skip():
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    from fpga_accel.errors import FpgaAccelError
    from fpga_accel.toolchain import ap_types_dir

    try:
        ap_types_dir()
    except FpgaAccelError as e:
        pytest.skip(f"ap_types headers not available: {e}")


def run_csim(bundle) -> dict[str, int]:
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim

    lib = CsimLibrary(build_csim(bundle.path, progress=False))
    dtypes = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16}
    rng = np.random.default_rng(0)

    def arrays(kind):
        out = []
        for t in bundle.manifest["hardware"][kind]:
            dt = np.dtype(dtypes.get(t["qtype"], np.int16 if t["qtype"].startswith("int") else np.uint16))
            info = np.iinfo(dt)
            out.append(rng.integers(info.min, info.max + 1, [N_IMAGES] + t["shape"][1:]).astype(dt))
        return out

    lib.run(arrays("inputs"), arrays("outputs"), N_IMAGES)
    return lib.stage_cycles()


@pytest.mark.parametrize("name,board,folding", CASES)
def test_stage_cycles_match_csim(name, board, folding, tmp_path):
    toolchain_or_skip()
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.compiler import load_qmodel
    from fpga_accel.fold import fold_model
    from fpga_accel.pe import PES, Stage

    config = None
    if folding:
        config = tmp_path / "q.json"
        config.write_text(json.dumps({"layers": {k: {"folding": v} for k, v in folding.items()}}))
    bundle = fpga_accel.compile(data.model_path(name), tmp_path / "m.fpga", board=board, calib=data.load_calib(name),
                                config=config, progress=False, generators=[generate_hls])
    counted = run_csim(bundle)
    m = bundle.manifest
    r = fold_model(load_qmodel(bundle), board, overrides={k: v for k, v in (folding or {}).items()})
    assert r.foldings == {lay["name"]: lay["folding"] for lay in m["layers"]}

    modelled: dict[str, set[int]] = {}
    for s in r.design.stages:
        modelled.setdefault(s.name, set()).add(s.batch_cycles(N_IMAGES))
    assert set(modelled) == set(counted)
    for stage, cycles in counted.items():
        assert modelled[stage] == {cycles}, stage

    # the same formulas on the code generator's own parameters
    described = [(lay["name"], s) for lay in m["hls"]["layers"] for s in lay["stages"]]
    described += [(s["tensor"], s) for s in m["hls"]["plumbing"]]
    checked = 0
    for layer, s in described:
        if s["kind"] in PES:
            st = Stage(layer, s["kind"], s["params"])
            assert st.batch_cycles(N_IMAGES) == counted[st.name], st.name
            checked += 1
    assert checked == len(described) > 0
