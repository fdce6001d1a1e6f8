"""A tensor forked into layers and a hardware output: the depth each branch stream gets in the
manifest is the one the generated code gives it, the output's branch stays at the default depth
(its adapter drains it), the C simulation equals the emulator, and the timed simulation at the
generated depths neither deadlocks nor loses a cycle against unbounded FIFOs and the cost model."""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import need_toolchain
from sim_util import compile_net

from fpga_accel.fold.fifos import DEFAULT_DEPTH

NETS = ["fork_to_output", "residual_output"]
IMAGES = 4


@pytest.fixture(scope="module", params=NETS)
def bundle(request, tmp_path_factory):
    return compile_net(request.param, tmp_path_factory.mktemp("fork") / f"{request.param}.fpga")


def _fork_streams(b) -> dict[str, str]:
    """Stream -> the tensor it carries, for the streams a duplicate writes."""
    dup = {c["tensor"] for c in b.manifest["hls"]["plumbing"] if c["kind"] == "duplicate"}
    return {s["name"]: s["tensor"] for s in b.manifest["hls"]["streams"] if s["tensor"] in dup}


def test_manifest_depths_are_the_generated_ones(bundle):
    """Every stream's recorded depth is its pragma's in fa_top.cpp; a port (out<i>) has none and
    is the default depth, so the output's branch of the fork must be recorded at it too."""
    from fpga_accel.sim.simulate import stream_depths

    pragmas = stream_depths(bundle.path / "hls")
    streams = bundle.manifest["hls"]["streams"]
    outs = [s for s in streams if s["name"].startswith("out")]
    assert outs and all(s["depth"] == DEFAULT_DEPTH and f"{s['name']}_s" not in pragmas for s in outs)
    for s in streams:
        if s["name"].startswith("s"):
            assert pragmas[s["name"]] == s["depth"], s["name"]
    # the fork's output branch: the duplicate writes the port itself (same lanes)
    text = (bundle.path / "hls" / "src" / "fa_top.cpp").read_text()
    assert any(ln.strip().startswith("fa::duplicate<") and ", out0, " in ln for ln in text.splitlines())


def test_join_branch_keeps_its_depth(tmp_path):
    """Beside the output, the residual fork's branch into the Add holds the other branch's backlog:
    its pragma is deeper than the default, and at the default depth the network deadlocks."""
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.sim import DeadlockError, Simulator
    from fpga_accel.sim.simulate import stream_depths

    need_toolchain()
    b = compile_net("residual_output", tmp_path / "r.fpga")
    pragmas = stream_depths(b.path / "hls")
    join = max(_fork_streams(b), key=lambda s: pragmas.get(s, DEFAULT_DEPTH))
    assert pragmas[join] > DEFAULT_DEPTH
    sim = Simulator(b.path / "hls", load_qmodel(b), b.manifest)
    with pytest.raises(DeadlockError):
        sim.run(IMAGES, {join: DEFAULT_DEPTH})


def test_csim_equals_emulator(bundle, tmp_path, monkeypatch):
    import fpga_accel

    need_toolchain()
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(tmp_path / "cache"))
    x = np.random.default_rng(7).uniform(-1, 1, (3, 1, 12, 12)).astype(np.float32)
    with fpga_accel.Session(bundle, backend="emulator") as em:
        q = em.hardware_inputs(x)
        want = em.run(q, raw=True)
    with fpga_accel.Session(bundle, backend="csim") as cs:
        got = cs.run(q, raw=True)
    assert sorted(got) == sorted(want) and len(want) == 2
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def test_timed_simulation_at_the_generated_depths(bundle):
    """No deadlock, outputs == emulator, the interval of unbounded FIFOs (== the cost model's), and the
    output's branch never holds more than the default depth."""
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.sim import Simulator

    need_toolchain()
    sim = Simulator(bundle.path / "hls", load_qmodel(bundle), bundle.manifest)
    res = sim.run(IMAGES)
    assert res.deadlock is None and res.outputs_match is True
    tr, _, _ = sim.trace(IMAGES)
    free = sim.run(IMAGES, {s: 10 ** 6 for s in tr.streams if not s.startswith(("in", "out"))})
    assert res.cycles_per_image == free.cycles_per_image == bundle.manifest["fold"]["cycles_per_image"]
    occupancy = {f.name: f.max_occupancy for f in res.fifos}
    assert 0 < occupancy["out0_s"] <= DEFAULT_DEPTH
