"""The backend contract (tests/test_backend_contract.py: the emulator's integers and floats, batch
splits, input validation, ``wait`` within its timeout, close) on a bundle compiled for the tiled
engine, for every backend that runs one (``TILED_BACKENDS``: the opencl backend on the engine's
OpenCL twin among them; f2 on a bundle compiled for aws-f2, against the F2 card model whose custom
logic is the engine IP computing with its C simulation). The contract's tests are imported and run
against this module's fixtures; the reference is the emulator backend on the same tiled bundle (its
reference executor)."""
from __future__ import annotations

import numpy as np
import pytest
from test_backend_contract import (  # noqa: F401 - collected here, with this module's fixtures
    MODEL,
    test_any_batch_split_gives_the_same_answer,
    test_bad_inputs_fail_before_the_backend,
    test_bad_raw_inputs_fail_before_the_backend,
    test_close_releases_and_refuses_later_runs,
    test_float_outputs_equal_the_emulator,
    test_raw_integers_equal_the_emulator,
    test_wait_honours_its_timeout,
)

import fpga_accel
from fpga_accel.runtime import get_backend
from fpga_accel.runtime.backends import TILED_BACKENDS
from fpga_accel.runtime.backends.opencl import OpenCLBuildError
from models import data


@pytest.fixture(scope="module")
def tiled_bundle(tmp_path_factory):
    return fpga_accel.compile(data.model_path(MODEL), tmp_path_factory.mktemp("contract_tiled") / f"{MODEL}.fpga",
                              calib=data.load_calib(MODEL), progress=False, engine="tiled")


def _on_the_f2_card_model(request, tmp_path_factory):
    """A tiled bundle for aws-f2 with the AFI record a build leaves, and the card model behind the
    libfpga_mgmt stand-in (tests/test_tiled_aws_f2.py tests the backend against it in detail)."""
    import json

    from fakes.f2_card import FakeFpgaMgmt
    from fakes.f2_tiled_card import F2TiledCard

    from fpga_accel import toolchain
    from fpga_accel.runtime.f2_driver import libs

    try:  # the card model computes with the engine's C simulation
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))
    bundle = fpga_accel.compile(data.model_path(MODEL), tmp_path_factory.mktemp("contract_tiled_f2") / f"{MODEL}.fpga",
                                calib=data.load_calib(MODEL), progress=False, engine="tiled", board="aws-f2")
    (bundle.path / "bitstream").mkdir(exist_ok=True)
    (bundle.path / "bitstream/afi.json").write_text(json.dumps({"agfi_id": "agfi-0fa4f2000000000f"}))
    lib = FakeFpgaMgmt(F2TiledCard(bundle.manifest["scripts"]["configuration"]))
    mp = pytest.MonkeyPatch()
    mp.setenv("FA_FPGA_MGMT_LIB", "/stand-in/libfpga_mgmt.so")
    mp.setattr(libs, "load", lambda path=None: libs.bind(lib))
    request.addfinalizer(mp.undo)
    return bundle


#: backends whose tiled bundle is compiled for their own board, with what stands in for the hardware
OWN_BUNDLE = {"f2": _on_the_f2_card_model}


@pytest.fixture(scope="module", params=TILED_BACKENDS)
def backend(request, tiled_bundle, tmp_path_factory):
    """(name, tiled bundle) of a backend that can run here."""
    if request.param in OWN_BUNDLE:
        tiled_bundle = OWN_BUNDLE[request.param](request, tmp_path_factory)
    why = get_backend(request.param).unavailable(tiled_bundle)
    if why is not None:
        pytest.skip(f"backend '{request.param}' unavailable: {why}")
    if request.param == "opencl":  # a CPU device may be listed yet unable to compile for this processor
        try:
            fpga_accel.Session(tiled_bundle, backend="opencl").close()
        except OpenCLBuildError as e:
            pytest.skip(f"backend 'opencl': {e}")
    return request.param, tiled_bundle


@pytest.fixture(scope="module")
def images():
    return data.load_test(MODEL)[0][:64]


@pytest.fixture(scope="module")
def reference(backend, images):
    with fpga_accel.Session(backend[1], backend="emulator") as em:
        t = em.qmodel.inputs[0]
        q = em.hardware_inputs(images)
        qt = t.qparams.qtype
        noise = {t.name: np.random.default_rng(7).integers(qt.min, qt.max + 1, (32, *t.shape[1:])).astype(qt.dtype)}
        assert em.backend.tiled is not None  # the reference is the tiled engine's executor
        return {"q": q, "noise": noise, "raw": em.run(q, raw=True), "raw_noise": em.run(noise, raw=True),
                "float": em.run(images)}


@pytest.fixture(scope="module")
def session(backend):
    name, bundle = backend
    s = fpga_accel.Session(bundle, backend=name, timeout=600)
    assert s.backend.tiled is not None
    yield s
    s.close()
