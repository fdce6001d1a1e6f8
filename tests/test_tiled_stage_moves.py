"""The cost model counts the iterations the engine runs, stage by stage (docs/tiled.md §4): per layer
of a traced C simulation, the LOAD, COMPUTE and STORE events' iterations (FA_CYCLE + FA_MOVE) equal
the model's Step.load_moves, compute and store_moves summed over the layer's steps, the rest of the
layer's iterations (tables, a pool's per-position constants, a conv's held constants) its
fetch_moves; a layer whose load, compute and write are one loop (cost.SERIAL: add, requant, lut,
mul, the global pools) runs all of them in its pixel loop. Window and global pools, the pixel units
(their reads a bus word an iteration, their output path P lanes, also with fewer output lanes than the
bus word), depthwise constants read with the load, views of channel stride > 1; at W = 16 and 64,
outputs equal to the emulator's."""
import numpy as np
import pytest
from shufflenet_util import shufflenet_v2
from test_tiled_kinds import _se_block
from test_tiled_load_moves import pools_graph
from tiled_util import needs_toolchain, random_case  # noqa: F401 (an autouse fixture)

from fpga_accel.emulator import run_layers
from fpga_accel.tiled import build_program
from fpga_accel.tiled.cost import SERIAL, _conv_geometry, layer_steps
from fpga_accel.tiled.tiles import is_depthwise

LAYER, LOAD, COMPUTE, STORE = 1, 2, 3, 4  # tiled/trace.h Unit

CASES = {
    "pools": (pools_graph, dict(tm=4, tn=4, tile=(3, 4))),
    "se": (_se_block, dict(tm=5, tn=4, tile=(2, 3))),
    "shufflenet": (lambda: shufflenet_v2(0.5, 32, classes=10), dict(tm=8, tn=8)),
    # output paths of fewer lanes than the bus word (the engine's out_lanes): pools, units and convs alike
    "pools, 1 output lane": (pools_graph, dict(tm=4, tn=4, tile=(3, 4), out_lanes=1)),
    "se, 2 output lanes": (_se_block, dict(tm=5, tn=4, tile=(2, 3), out_lanes=2)),
}




def counted(events, i: int) -> dict:
    mine = events[events["layer"] == i]
    return {u: int(mine["iterations"][mine["unit"] == u].sum()) for u in (LAYER, LOAD, COMPUTE, STORE)}


def modelled(d: dict, engine: dict, w: int) -> dict:
    steps = list(layer_steps(d, engine, bus=w))
    total = lambda f: sum(getattr(s, f) for s in steps)
    if d["kind"] in SERIAL:  # one loop: all of it in the layer's own events
        return {"all": total("compute") + total("load_moves") + total("fetch_moves") + total("store_moves")}
    return {LAYER: total("fetch_moves"), LOAD: total("load_moves"), COMPUTE: total("compute"),
            STORE: total("store_moves")}


@pytest.mark.parametrize("w", [16, 64])
@pytest.mark.parametrize("case", list(CASES))
def test_every_stage_runs_the_iterations_the_model_counts(case, w):
    from fpga_accel.sim.tiled_build import TracedCsim

    graph, build = CASES[case]
    qm, q = random_case(graph(), seed=3, n=1)
    program = build_program(qm, **build)
    outs, trace = TracedCsim(program, axi_bits=8 * w).trace(q)
    for name, v in run_layers(qm, q, threads=1).items():
        np.testing.assert_array_equal(outs[name], v, err_msg=f"{case} output '{name}' at W = {w}")
    kinds = set()
    for i, d in enumerate(program.layers):
        got, want = counted(trace.events, i), modelled(d, program.engine, w)
        if "all" in want:
            got = {"all": sum(got.values())}
        elif d["kind"] in ("conv", "gemm") and not is_depthwise(_conv_geometry(d)):
            del got[LOAD], want[LOAD]  # dense loads: tests/test_tiled_load_moves.py
        assert got == want, (case, w, d["name"], d["kind"])
        kinds.add(d["kind"])
    assert {"pools": {"avgpool", "maxpool", "conv"}, "se": {"mul", "global_avgpool", "lut"},
            "shufflenet": {"maxpool", "global_avgpool", "conv"}}[case.split(",")[0]] <= kinds, kinds
    assert program.engine.get("out_lanes", w) == build.get("out_lanes", w)
