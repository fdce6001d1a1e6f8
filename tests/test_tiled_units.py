"""An engine is built with the units its program uses (tiled/checks.h Unit, FA_TILED_UNITS): the C
simulation of that engine computes the emulator's integers bit for bit, and an engine lacking a unit
the program needs refuses the program before the first layer runs (S_ENGINE, naming the first layer
of that unit) — the C simulation and the OpenCL twin alike. The bundle's build records and defines
its program's units."""
import numpy as np
import pytest
from test_tiled_kinds import se_block  # noqa: F401 (a fixture)
from test_tiled_opencl import device  # noqa: F401 (a fixture: the OpenCL device, or skip)
from tiled_util import needs_toolchain  # noqa: F401 (an autouse fixture)

from fpga_accel.emulator import run_layers
from fpga_accel.tiled import build_program, csim
from fpga_accel.tiled.csim import ALL_UNITS, U_ELTWISE, U_GLOBAL, U_MUL, UNIT_OF_KIND, TiledCsim, units_of
from fpga_accel.tiled.program import view_bytes

S_ENGINE = 2  # tiled/checks.h Status: "built for another engine configuration"


@pytest.fixture(scope="module")
def se(se_block):  # noqa: F811
    qm, q = se_block
    return qm, {k: v[:1] for k, v in q.items()}, build_program(qm, tm=5, tn=4, tile=(2, 3))


def test_the_programs_units_are_the_kinds_it_runs(se):
    _, _, program = se
    kinds = {d["kind"] for d in program.layers}
    assert {"mul", "global_avgpool"} <= kinds  # squeeze-excitation: a global pool, a gate, x * sigmoid(x)
    want = 0
    for k in kinds:
        want |= UNIT_OF_KIND.get(k, 0)
    assert units_of(program) == want and want & U_MUL and want & U_GLOBAL and want != ALL_UNITS


def test_an_engine_of_its_own_units_equals_the_emulator(se):
    qm, q, program = se
    got = TiledCsim(program, units=units_of(program)).run(q)
    for name, want in run_layers(qm, q, threads=1).items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)


@pytest.mark.parametrize("missing", [U_MUL, U_GLOBAL])
def test_an_engine_without_a_unit_refuses_the_program(se, missing):
    _, q, program = se
    first = next(i for i, d in enumerate(program.layers) if UNIT_OF_KIND.get(d["kind"], 0) & missing)
    sim = TiledCsim(program, units=units_of(program) & ~missing)
    with pytest.raises(csim.EngineStatusError) as e:
        sim.run(q)
    assert (e.value.code, e.value.layer) == (S_ENGINE, first), str(e.value)
    inputs = np.zeros_like(sim.acts.buf, bool)  # refused before any layer ran: the inputs and nothing else
    for name in program.data["inputs"]:
        inputs[slice(*view_bytes(program.tensor(name)["view"]))] = True
    assert not sim.acts.buf[~inputs].any()


def test_the_opencl_twin_refuses_as_the_c_simulation(se, device):  # noqa: F811
    opencl = pytest.importorskip("fpga_accel.tiled.opencl")
    _, q, program = se
    twin = opencl.TiledOpenCL(program, device=device, timeout=60, units=units_of(program) & ~U_ELTWISE)
    first = next(i for i, d in enumerate(program.layers) if UNIT_OF_KIND.get(d["kind"], 0) & U_ELTWISE)
    with pytest.raises(csim.EngineStatusError) as e:
        twin.run(q)
    assert (e.value.code, e.value.layer) == (S_ENGINE, first), str(e.value)


def test_out_of_range_units_are_refused():
    from fpga_accel.tiled.program import ProgramError

    for bad in (-1, 32, True):
        with pytest.raises(ProgramError, match="units"):
            csim.EngineConfig(4, 4, 64, 64, 64, units=bad).defines()
    assert "FA_TILED_UNITS=5" in csim.EngineConfig(4, 4, 64, 64, 64, units=5).defines()
    assert not any(d.startswith("FA_TILED_UNITS") for d in csim.EngineConfig(4, 4, 64, 64, 64).defines())
