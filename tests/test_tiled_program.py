"""The tiled engine's program format: JSON + one uint8 array, read back exactly, and every field
checked on load with an error that names the layer (or part) and the field."""
import copy
import itertools
import json

import numpy as np
import pytest
from onnx import helper
from test_tiled_engine import GRAPHS
from tiled_util import check_exact, make_model, random_case

from fpga_accel.tiled import Program, ProgramError, TiledEngine, TiledUnsupportedError, build_program
from fpga_accel.tiled.program import FORMAT, VERSION


@pytest.fixture(scope="module")
def program():
    qm, q = random_case(GRAPHS["residual"], seed=1)
    return build_program(qm, tm=4, tn=3, tile=(3, 4)), q


def test_round_trip_through_json_and_npz(program, tmp_path):
    p, q = program
    d, arrays = p.to_dict()
    assert d["format"] == FORMAT and d["version"] == VERSION
    again = Program.from_dict(json.loads(json.dumps(d)), arrays)
    assert again.data == p.data
    p.save(tmp_path / "prog")
    loaded = Program.load(tmp_path / "prog")
    assert loaded.data == p.data and np.array_equal(loaded.weights, p.weights)
    a, b = TiledEngine(p).run(q), TiledEngine(loaded).run(q)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    with np.load(tmp_path / "prog" / "program.npz", allow_pickle=False) as z:
        assert z.files == ["weights"] and z["weights"].dtype == np.uint8


def test_regions_and_blocks_are_aligned_and_disjoint(program):
    p, _ = program
    d = p.data
    spans = sorted((r["offset"], r["offset"] + r["bytes"]) for r in d["regions"])
    assert all(a % 64 == 0 for a, _ in spans) and all(b <= c for (_, b), (c, _) in itertools.pairwise(spans))
    assert spans[-1][1] <= d["activations_bytes"]


def broken(p, edit):
    d, arrays = p.to_dict()
    d = copy.deepcopy(d)
    edit(d)
    return d, arrays


def set_in(path, value):
    def edit(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


@pytest.mark.parametrize("path, value, message", [
    (("layers", 0, "kind"), "fft", r"layer 0 '.*': field 'kind' = 'fft' must be one of conv, gemm"),
    (("layers", 1, "output", "offset"), 1 << 30, r"layer 1 '.*': field 'output.offset' = 1073741824 .*outside its region"),
    (("layers", 0, "inputs", 0, "h"), -3, r"layer 0 '.*': field 'inputs\[0\].h' = -3 must be in 1\.\.65536"),
    (("layers", 0, "weights", "offset"), 1 << 20, r"layer 0 '.*': field 'weights.offset' = 1048576 .*past the weights arena"),
    (("layers", 0, "weights", "count"), 5, r"layer 0 '.*': field 'weights.count' = 5 must be in"),
    (("layers", 0, "tile", "tm"), 99, r"layer 0 '.*': field 'tile.tm' = 99 must be in 1\.\.4"),
    (("layers", 0, "tile", "rows"), 0, r"layer 0 '.*': field 'tile.rows' = 0 must be in 1\.\."),
    (("layers", 0, "geometry", "strides"), [1, 0], r"layer 0 '.*': field 'geometry.strides\[1\]' = 0 must be in 1\.\."),
    (("layers", 0, "requant", "zp_out"), "7", r"layer 0 '.*': field 'requant.zp_out' = '7' must be an integer"),
    (("layers", 2, "post", 0, "residual", "region"), 99, r"layer 2 '.*' post\[0\]: field 'residual.region' = 99 must be in"),
    (("regions", 1, "offset"), 8, r"region 1: field 'offset' = 8 is not aligned to 64 bytes"),
    (("regions", 0, "bytes"), -1, r"region 0: field 'bytes' = -1 must be in 1\.\."),
    (("engine", "tm"), 0, r"engine: field 'tm' = 0 must be in 1\.\.1024"),
    # the output path's lanes become a compiler define: an integer, a power of two, bounded
    (("engine", "out_lanes"), 3, r"engine: field 'out_lanes' = 3 must be a power of two"),
    (("engine", "out_lanes"), 0, r"engine: field 'out_lanes' = 0 must be in 1\.\.128"),
    (("engine", "out_lanes"), 256, r"engine: field 'out_lanes' = 256 must be in 1\.\.128"),
    (("engine", "out_lanes"), "8; rm", r"engine: field 'out_lanes' = '8; rm' must be an integer"),
    (("engine", "out_lanes"), True, r"engine: field 'out_lanes' = True must be an integer"),
    (("version",), 99, r"field 'version' = 99 is not a version this fpga-accel reads"),
    (("inputs", 0), "nope", r"field 'inputs\[0\]' = 'nope' names no tensor"),
])
def test_malformed_fields_are_named(program, path, value, message):
    p, _ = program
    d, arrays = broken(p, set_in(path, value))
    with pytest.raises(ProgramError, match=message):
        Program.from_dict(d, arrays)


def test_a_tile_larger_than_the_buffers_is_refused(program):
    p, _ = program
    d, arrays = broken(p, set_in(("engine", "input_buffer"), 10))
    with pytest.raises(ProgramError, match=r"layer 0 '.*': field 'tile' = .* needs \d+ elements of the input buffer, "
                                           r"larger than the engine's 10"):
        Program.from_dict(d, arrays)


def test_overlapping_regions_and_blocks_are_refused(program):
    p, _ = program
    d, arrays = broken(p, lambda d: d["regions"][1].update(offset=d["regions"][0]["offset"]))
    with pytest.raises(ProgramError, match="overlap in the activation arena"):
        Program.from_dict(d, arrays)
    d, arrays = broken(p, lambda d: d["layers"][1]["weights"].update(offset=d["layers"][0]["weights"]["offset"]))
    with pytest.raises(ProgramError, match="overlap in the weights arena"):
        Program.from_dict(d, arrays)


def test_constants_outside_the_contract_are_refused(program):
    p, _ = program
    d, arrays = p.to_dict()
    bad = arrays["weights"].copy()
    blk = d["layers"][0]["requant"]["shift"]
    bad[blk["offset"]] = 0  # shift 0 is not a right shift
    with pytest.raises(ProgramError, match=r"layer 0 '.*': field 'requant.shift' = '0\.\.\d+' must hold values in 1\.\.62"):
        Program.from_dict(d, {"weights": bad})
    with pytest.raises(ProgramError, match="weights arena must be a uint8 array"):
        Program.from_dict(d, {"weights": arrays["weights"][:-1]})


def test_load_bounds_the_arena_before_reading(program, tmp_path):
    p, _ = program
    p.save(tmp_path)
    d = json.loads((tmp_path / "program.json").read_text())
    d["weights_bytes"] = 1 << 40
    (tmp_path / "program.json").write_text(json.dumps(d))
    with pytest.raises(ProgramError, match="'weights_bytes' = 1099511627776 must be an integer in 0.."):
        Program.load(tmp_path)
    d["weights_bytes"] = p.data["weights_bytes"] + 64
    (tmp_path / "program.json").write_text(json.dumps(d))
    with pytest.raises(ProgramError, match="its header says uint8"):
        Program.load(tmp_path)


def test_executor_bounds_the_activation_arena(program):
    p, _ = program
    with pytest.raises(ProgramError, match="activation arena needs .* bytes, more than the 100"):
        TiledEngine(p, max_activation_bytes=100)


def test_layers_without_an_engine_form_run_on_the_host_between_segments():
    # products broadcasting along the width (not a 1x1xC channel gate): no engine form
    model = make_model([helper.make_node("Mul", ["x", "y"], ["a"], name="m1"), helper.make_node("Relu", ["a"], ["r"]),
                        helper.make_node("Mul", ["r", "y"], ["b"], name="m2")], {"x": [4, 3], "y": [4, 1]})
    qm, q = random_case(model)
    engine = check_exact(qm, q)
    assert [getattr(s, "name", "engine") for s in engine.steps] == ["m1", "engine", "m2"]


def test_every_layer_neither_engine_nor_host_can_run_is_listed_at_once():
    model = make_model([helper.make_node("Mul", ["x", "y"], ["a"], name="m1"), helper.make_node("Relu", ["a"], ["r"]),
                        helper.make_node("Mul", ["r", "x"], ["b"], name="m2")], {"x": [2, 4, 3, 2], "y": [2, 4, 3, 2]})
    qm, _ = random_case(model)
    with pytest.raises(TiledUnsupportedError) as e:
        build_program(qm)
    assert len(e.value.problems) == 3
    assert "layer 'm1' (Mul): a tensor of rank above 4" in str(e.value) and "layer 'm2' (Mul)" in str(e.value)
    assert "its tensor 'x' of shape (1, 2, 4, 3, 2) has no place in the activation arena" in str(e.value)


def test_buffers_too_small_for_one_tile_name_the_layer():
    qm, _ = random_case(GRAPHS["residual"], seed=1)
    with pytest.raises(Exception, match=r"layer 'c1' \(conv\): even a 1x1 tile needs"):
        build_program(qm, tm=4, tn=4, buffers={"input": 1 << 12, "weight": 8, "output": 1 << 12})


def test_a_second_residual_add_in_the_output_path_is_refused(program):
    # each output-path lane has one residual adder's multiplies: the builder fuses at most one add, and a
    # program asking for two is refused by the format and by the engine's own checks
    p, _ = program
    at = next(i for i, d in enumerate(p.layers) if any(s["op"] == "add" for s in d.get("post", [])))
    d, arrays = broken(p, lambda d: d["layers"][at]["post"].append(dict(next(s for s in d["layers"][at]["post"]
                                                                             if s["op"] == "add"))))
    with pytest.raises(ProgramError, match=rf"layer {at} '.*' post\[\d\]: field 'op' = 'add' is a second residual add"):
        Program.from_dict(d, arrays)
