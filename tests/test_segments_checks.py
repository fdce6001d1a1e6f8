"""Host steps: layers sent to the host by name keep the emulator's integers; a program's steps are
untrusted input, refused with the step, layer and op named; compile's host_layers option."""
import copy

import numpy as np
import pytest
from test_segments import alexnet_style, images
from tiled_util import check_exact, quantised, raw_inputs

import fpga_accel
from fpga_accel.errors import InputError, ModelError
from fpga_accel.tiled import Program, ProgramError, TiledEngine, build_program
from fpga_accel.tiled.segments import HostStep, plan_steps


@pytest.fixture(scope="module")
def case():
    _, qm = quantised(alexnet_style(), {"x": images(32, 40)})
    return qm, raw_inputs(qm, {"x": images(2, 41)})


def test_layers_sent_to_the_host_keep_the_integers(case):
    qm, q = case
    engine = check_exact(qm, q, host_layers=["pool1", "conv2"])
    hosts = [s.name for s in engine.steps if isinstance(s, HostStep)]
    assert hosts == ["norm1", "pool1", "conv2", "norm2"]
    assert [s.why for s in engine.steps if isinstance(s, HostStep)][1] == "sent to the host (host_layers)"
    # a host step writes its output into the arena: the engine's reads of it are those of the next layer
    assert engine.acts.writes["host:conv2"] > 0


def test_unknown_host_layer_is_refused_with_the_layers(case):
    with pytest.raises(ModelError, match=r"host layers \['nope'\] are not integer layers.*'conv1'"):
        build_program(case[0], host_layers=["nope"])


def _program(qm):
    p = build_program(qm)
    return copy.deepcopy(p.data), p.weights


def _refused(data, weights, match):
    with pytest.raises(ProgramError, match=match):
        plan_steps(Program(data, weights))


def test_steps_must_cover_every_layer_once_in_order(case):
    data, w = _program(case[0])
    n = len(data["layers"])
    bad = copy.deepcopy(data)
    bad["steps"][0] = {"engine": [0, n + 1]}
    _refused(bad, w, r"step 0: engine range \[0, \d+\] must be \[0, end\]")
    bad = copy.deepcopy(data)
    bad["steps"] = [s for s in bad["steps"] if "engine" in s][:-1] or bad["steps"][:1]
    _refused(bad, w, "every layer must be in a segment|must be \\[")
    bad = copy.deepcopy(data)
    bad["steps"].append({"shell": "rm -rf /"})
    _refused(bad, w, r"step 5: must be")


def test_a_host_step_reading_what_a_later_segment_writes_is_a_cycle(case):
    data, w = _program(case[0])
    bad = copy.deepcopy(data)
    host, seg = bad["steps"][1], bad["steps"][0]
    bad["steps"][0], bad["steps"][1] = host, seg  # the LRN now runs before the conv that feeds it
    _refused(bad, w, r"host step 0 'norm1' \(LRN\): reads \['.*'\] before any earlier step writes it \(a cycle")


def test_host_step_fields_are_checked(case):
    data, w = _program(case[0])

    def host(mut):
        bad = copy.deepcopy(data)
        mut(bad["steps"][1]["host"])
        return bad

    _refused(host(lambda h: h.update(inputs=["../../etc/passwd"])), w, "not a tensor of the program")
    _refused(host(lambda h: h.update(op="System", domain="")), w, r"'norm1' \(System\): the op has no integer")
    _refused(host(lambda h: h.update(outputs=[data["inputs"][0]])), w, "is an input of the program")
    _refused(host(lambda h: h["consts"]["table"].update(offset=len(w))), w,
             r"constant 'table'.*does not lie in the \d+-byte weights arena")
    _refused(host(lambda h: h["consts"]["table"].update(shape=[3, 5])), w, "does not lie in")
    _refused(host(lambda h: h["consts"]["table"].update(dtype="object")), w, "must be a block with a dtype")
    _refused(host(lambda h: h.update(config=[1])), w, "field 'config' must be an object")


def test_the_engine_runs_no_program_with_bad_steps(case):
    data, w = _program(case[0])
    data["steps"][1]["host"]["inputs"] = ["missing"]
    with pytest.raises(ProgramError, match="not a tensor of the program"):
        TiledEngine(Program(data, w))


def test_compile_host_layers(tmp_path):
    model, calib = alexnet_style(), images(32, 42)
    with pytest.raises(InputError, match=r"host_layers names \['nope'\], not layers of the quantised model"):
        fpga_accel.compile(model, tmp_path / "d.fpga", board="zcu104", calib=calib, progress=False,
                           host_layers=["nope"])
    b = fpga_accel.compile(model, tmp_path / "a.fpga", board="zcu104", calib=calib, progress=False, engine="tiled",
                           host_layers=["pool1"])
    assert b.manifest["engine"] == {"kind": "tiled", "reason": "--engine tiled given"}
    order = b.manifest["tiled"]["steps"]["order"]
    assert [s["host"] for s in order if "host" in s] == ["norm1", "pool1", "norm2"]
    x = images(2, 43)
    from fpga_accel.runtime.session import Session

    with Session(b, backend="emulator") as s:
        s.backend.use_program = True  # the program's steps, pool1 among the host ones
        got = s.run({"x": x})["y"]
    plain = fpga_accel.compile(model, tmp_path / "t.fpga", board="zcu104", calib=calib, progress=False, engine="tiled")
    with Session(plain, backend="emulator") as s:
        s.backend.use_program = True
        np.testing.assert_array_equal(got, s.run({"x": x})["y"])  # same integers, wherever pool1 runs


def test_a_host_step_whose_config_does_not_fit_its_op_is_named_when_it_runs(case):
    qm, q = case
    data, w = _program(qm)
    del data["steps"][1]["host"]["config"]["idx_shift"]
    with pytest.raises(ProgramError, match=r"host step 'norm1' \(LRN\) cannot run on its record \(KeyError"):
        TiledEngine(Program(data, w)).run(q)
