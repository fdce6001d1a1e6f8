"""The timed simulation on branchy networks: deadlock of a too-shallow fork FIFO, none at the
generated depths, outputs == emulator, the simulated interval with unbounded FIFOs == the cost model,
and the command's exit code, table and JSON."""
from __future__ import annotations

import json

import pytest
from codegen_util import need_toolchain
from sim_util import compile_net

IMAGES = 4


@pytest.fixture(scope="module")
def residual(tmp_path_factory):
    need_toolchain()
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.sim import Simulator

    b = compile_net("residual", tmp_path_factory.mktemp("sim") / "residual.fpga")
    return b, Simulator(b.path / "hls", load_qmodel(b), b.manifest)


def bypass_stream(sim) -> str:
    """The deepest stream a duplicate writes: the residual fork's bypass FIFO."""
    tr, procs, _ = sim.trace(IMAGES)
    forks = [s for i, s in enumerate(tr.streams)
             if procs.writer[i] >= 0 and procs.names[procs.writer[i]].endswith("/duplicate")]
    assert len(forks) == 2
    return max(forks, key=lambda s: sim.generated.get(s, 2))


def test_residual_fork_too_shallow_deadlocks(residual):
    from fpga_accel.sim import DeadlockError

    _, sim = residual
    bypass = bypass_stream(sim)
    with pytest.raises(DeadlockError) as e:
        sim.run(IMAGES, {bypass: 8})
    d = e.value.result.deadlock
    stuck = {b.process: (b.waits_for, b.stream) for b in d["blocked"]}
    assert stuck["a_nhwc/duplicate"] == ("slot", bypass)  # the fork waits for room in its bypass FIFO
    assert d["cycle"] > 0 and bypass in str(e.value) and f"cycle {d['cycle']:,}" in str(e.value)
    # the same FIFO at its generated depth runs
    res = sim.run(IMAGES)
    assert res.deadlock is None and res.outputs_match
    occupancy = {f.name: f.max_occupancy for f in res.fifos}
    assert 8 < occupancy[bypass] <= sim.generated[bypass]


def test_unbounded_fifos_give_the_cost_model(residual):
    b, sim = residual
    tr, _, _ = sim.trace(IMAGES)
    res = sim.run(IMAGES, {s: 10 ** 6 for s in tr.streams if s not in ("in0", "out0")})
    assert res.cycles_per_image == b.manifest["fold"]["cycles_per_image"]


@pytest.mark.parametrize("name", ["inception", "forks_in_a_row"])
def test_generated_depths_do_not_deadlock(name, tmp_path):
    need_toolchain()
    from fpga_accel.sim import simulate

    b = compile_net(name, tmp_path / f"{name}.fpga")
    res = simulate(b, images=IMAGES)
    assert res.deadlock is None and res.outputs_match is True
    assert res.cycles_per_image >= b.manifest["fold"]["cycles_per_image"]
    assert len(res.image_done) == IMAGES and res.latency == res.image_done[0]
    for f in res.fifos:
        assert f.max_occupancy <= f.depth or f.depth == 0, f.name


def test_cli_deadlock_exit_code_and_json(residual, tmp_path, capsys):
    from fpga_accel.cli import main

    b, sim = residual
    bypass = bypass_stream(sim)
    out = tmp_path / "sim.json"
    assert main(["simulate", str(b.path), "--images", "3", "--fifo-depth", f"{bypass}=4", "--json", str(out)]) == 3
    text = capsys.readouterr().out
    assert "deadlocks at cycle" in text and bypass in text and "a_nhwc/duplicate" in text
    data = json.loads(out.read_text())
    assert data["deadlock"]["blocked"] and data["cycles_per_image"] is None
    assert main(["simulate", str(b.path), "--images", "3", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["outputs_match"] is True and data["cycles_per_image"] > 0
    assert "steady state" in capsys.readouterr().out
    assert main(["simulate", str(b.path), "--fifo-depth", "nosuch=4"]) == 2
    assert "no single stream named 'nosuch'" in capsys.readouterr().err


def test_sized_depths_in_the_generated_design(residual, tmp_path):
    """Sizing keeps the unbounded interval within 0.5 %; written into the regenerated project (as
    depth pragmas) the network runs at that interval with outputs == emulator."""
    import copy

    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.sim import Simulator
    from fpga_accel.sim.sizing import size_fifos

    b, sim = residual
    z = size_fifos(sim, images=IMAGES)
    model = b.manifest["fold"]["cycles_per_image"]
    # the generated depths already keep the model's interval (burst-shaped input slack); sizing
    # keeps it too, with the smallest depths it finds
    assert z.target == model and z.before <= model * 1.005 and z.after <= model * 1.005
    manifest = copy.deepcopy(b.manifest)
    manifest["fifo_depths"] = z.sized
    qm = load_qmodel(b)
    generate_hls(tmp_path, qm, manifest)
    top = (tmp_path / "hls" / "src" / "fa_top.cpp").read_text()
    for s, d in z.sized.items():
        assert f"#pragma HLS STREAM variable = {s} depth = {d}\n" in top
    sized = Simulator(tmp_path / "hls", qm, manifest)
    assert sized.generated == {**sim.generated, **z.sized}
    res = sized.run(IMAGES)
    assert res.deadlock is None and res.outputs_match and res.cycles_per_image == z.after


def test_cut_and_occupancy_in_cpp_equal_numpy(residual):
    """The C++ cut (fa_timed_cut / fa_timed_ends) gives the numpy cut's processes, field for field, and
    the replay's largest occupancy per FIFO is the one counted from its word times."""
    import numpy as np

    from fpga_accel.sim.processes import cut

    _, sim = residual
    tr, fast, _ = sim.trace(IMAGES)
    slow = cut(tr)
    assert fast.names == slow.names
    for field in ("offsets", "iters", "ev_stream", "ev_write", "ev_iter", "writer", "reader", "host_sink"):
        a, b = getattr(fast, field), getattr(slow, field)
        assert np.array_equal(np.asarray(a, np.int64), np.asarray(b, np.int64)), field
    res = sim.run(IMAGES)
    depth = sim.depths(tr, fast, None)
    _, ev_time, _, _ = sim.lib.replay(fast.offsets, fast.iters, fast.ev_stream, fast.ev_write, fast.ev_iter, depth,
                                      fast.writer, fast.reader)
    index = {s: i for i, s in enumerate(tr.streams)}
    for f in res.fifos:
        mine = fast.ev_stream == index[f.name]
        w = ev_time[mine & (fast.ev_write == 1)]
        r = ev_time[mine & (fast.ev_write == 0)]
        assert f.words == len(w) and f.max_occupancy == int(np.max(np.arange(1, len(w) + 1) - np.searchsorted(r, w)))
