"""The shared backend contract (tests/test_backend_contract.py) run on the native backend: the
C++ host library behind ``fa-host``, driven through ctypes, on the OpenCL kernel of mnist_cnn.

Every test and fixture of the contract module is taken over as it is, so tests added there run
here too; only ``backend`` is replaced, to give the native backend its bundle."""
from __future__ import annotations

import pytest
import test_backend_contract as contract
from test_native_host import built_host

import fpga_accel
from fpga_accel.runtime import get_backend
from models import data

_OWN = {"backend", "compiled"}  # fixtures this module defines (or does not need)
for _name, _obj in vars(contract).items():
    if _name not in _OWN and (_name.startswith("test_") or type(_obj).__name__ == "FixtureFunctionDefinition"
                              or hasattr(_obj, "_pytestfixturefunction")):
        globals()[_name] = _obj


@pytest.fixture(scope="module")
def host_library():
    return built_host()


@pytest.fixture(scope="module")
def backend(tmp_path_factory, host_library):
    """The contract's fixture, for "native" only: mnist_cnn compiled with the OpenCL generator."""
    from fpga_accel.codegen.opencl import generate_opencl

    out = tmp_path_factory.mktemp("contract_native") / f"{contract.MODEL}.fpga"
    bundle = fpga_accel.compile(data.model_path(contract.MODEL), out, calib=data.load_calib(contract.MODEL),
                                progress=False, generators=[generate_opencl])
    why = get_backend("native").unavailable(bundle)
    if why is not None:
        pytest.skip(f"backend 'native' unavailable: {why}")
    return "native", bundle
