"""Concat at any channel offset: with a PE that divides the output's channels but not the inputs',
the layer lowers to channel_concat links (each input at lanes dividing its own channels) and the C
simulation equals the emulator bit for bit; the cycle model is what C simulation counts."""
import numpy as np
import pytest
from codegen_util import Csim, make_model, need_toolchain, quantise
from onnx import helper

from fpga_accel.ops import lookup
from fpga_accel.pe import LowerContext
from fpga_accel.pe.channel_concat import input_lanes, pixel_iterations


def concat_model(channels):
    ins = {f"i{k}": [3, 2, c] for k, c in enumerate(channels)}  # graph inputs keep their layout
    nodes = [helper.make_node("Concat", list(ins), ["y"], name="cat", axis=-1)]
    return quantise(make_model(nodes, ins), seed=len(channels))


def test_input_lanes_and_the_iteration_count():
    assert [input_lanes(c, 4) for c in (3, 4, 6, 58, 7)] == [3, 4, 6, 29, 7]
    assert pixel_iterations(8, 3, 3, 5, 5) == 2  # read 3, read 5 and write
    assert pixel_iterations(4, 58, 29, 58, 29) == 29  # the output side sets the pace
    assert pixel_iterations(2, 4, 2, 4, 2) == 4  # aligned: one word in, one out


@pytest.mark.parametrize("channels,pe", [((3, 5), 8), ((3, 5), 4), ((6, 10), 4), ((3, 2, 3), 8), ((1, 4, 1), 3)])
def test_unaligned_concat_csim_equals_the_emulator(tmp_path, channels, pe):
    qm = concat_model(channels)
    cat = qm.layers[0]
    stages = lookup("Concat").lower(cat, LowerContext(qm, {"pe": pe}))
    assert "channel_concat" in [s.kind for s in stages] and stages[-1].outputs[0].lanes == pe
    need_toolchain()
    cs = Csim(qm, tmp_path, [{"name": cat.name, "folding": {"pe": pe}}])
    ins = cs.inputs(3, np.random.default_rng(sum(channels)))
    cs.check(ins, what=f"concat {channels} at PE={pe}")
    counted = cs.lib.stage_cycles()  # by "layer/kind": a chain's last stage of each kind
    last = {f"cat/{s.kind}": s for s in stages}
    assert "cat/channel_concat" in counted
    for name, s in last.items():
        assert counted[name] == 3 * s.cycles(), (name, counted[name], s.cycles())
