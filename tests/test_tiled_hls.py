"""The tiled engine's HLS (hls/include/fpga_accel/tiled_engine.h) in C simulation against the
reference executor and the emulator, bit for bit, and its refusal of corrupt descriptors.

One g++ build per engine configuration (Tm × Tn and buffers), cached across runs: the
configurations are TILINGS' four, most of which divide no channel count or output size, and one
of them again in the form synthesis sees (all lanes, ap_int types).
"""
import re

import numpy as np
import pytest
from test_tiled_engine import GRAPHS, TILINGS
from tiled_util import quantised, random_case, raw_inputs

from fpga_accel import toolchain
from fpga_accel.emulator import run_layers
from fpga_accel.tiled import TiledEngine, build_program, csim, descriptors
from fpga_accel.tiled.cost import _conv_geometry, layer_steps
from fpga_accel.tiled.program import view_bytes
from fpga_accel.tiled.tiles import tiles_per_step
from models import data


@pytest.fixture(autouse=True)
def _toolchain():
    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))


def check_csim(qm, q, executor=True, synthesis_form=False, **build):
    """C simulation == emulator (outputs on the batch, every DDR tensor on the last image), and ==
    the executor when ``executor``; its compute cycles == the cost model's. Returns the simulation."""
    program = build_program(qm, **build)
    sim = csim.TiledCsim(program, synthesis_form=synthesis_form)
    got = sim.run(q)
    want = run_layers(qm, q, threads=1)
    for name, w in want.items():
        assert got[name].dtype == w.dtype
        np.testing.assert_array_equal(got[name], w, err_msg=f"output '{name}' with {build}")
    last = {k: v[-1:] for k, v in q.items()}
    every = run_layers(qm, last, keep=True, threads=1)
    ref = TiledEngine(program) if executor else None
    if ref is not None:
        ref.run(last)
    for t in program.data["tensors"]:
        np.testing.assert_array_equal(sim.tensor(t["name"]), every[t["name"]][0], err_msg=f"tensor '{t['name']}' {build}")
        if ref is not None:
            np.testing.assert_array_equal(sim.tensor(t["name"]), ref.tensor(t["name"]))
    assert sim.layer_cycles() == [sum(s.compute for s in layer_steps(d, program.engine)) for d in program.layers]
    return sim


@pytest.mark.parametrize("tiling", TILINGS, ids=str)
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_small_graphs_bit_exact(name, tiling):
    tm, tn, tile = tiling
    qm, q = random_case(GRAPHS[name], seed=len(name))
    check_csim(qm, q, tm=tm, tn=tn, tile=tile)


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_synthesis_form_bit_exact(name):
    """The form synthesis sees (all Tm × Tn lanes, idle ones masked; ap_int types) on every kind."""
    qm, q = random_case(GRAPHS[name], seed=len(name))
    check_csim(qm, q, synthesis_form=True, tm=3, tn=5, tile=(2, 3))


def test_sixteen_bit_activations_and_weights():
    qm, q = random_case(GRAPHS["residual"], seed=3, bits=12)
    for tm, tn, tile in TILINGS[:3]:
        check_csim(qm, q, tm=tm, tn=tn, tile=tile)
    qm, q = random_case(GRAPHS["lut"], seed=3, bits=12)  # 4096-entry tables
    check_csim(qm, q, tm=3, tn=5, tile=(2, 3))


@pytest.mark.parametrize("name", ["mnist_cnn", "digits_cnn", "mlp", "resnet_ds"])
def test_example_models_bit_exact(name):
    _, qm = quantised(data.model_path(name), data.load_calib(name))
    x, _ = data.load_test(name)
    q = raw_inputs(qm, {qm.model_inputs[0].name: x[:2]})
    for tm, tn, tile in TILINGS:  # the executor is slow at 1 × 2 tiles: the emulator alone there
        check_csim(qm, q, executor=tm > 1, tm=tm, tn=tn, tile=tile)
    check_csim(qm, q, executor=False, synthesis_form=True, tm=3, tn=5, tile=(2, 3))


def wide_case():
    """Convolutions and a gemm whose input channels span many Tn tiles, and an engine whose buffers hold
    only some of them a step: (qm, raw inputs, build arguments)."""
    from onnx import helper
    from test_tiled_engine import W, conv
    from tiled_util import make_model

    r = np.random.default_rng(5)
    model = make_model(
        [conv("c1", "x", "w1", "a", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["b"]),
         conv("c2", "b", "w2", "c"), conv("c3", "c", "w3", "d", strides=[2, 2]), conv("c4", "d", "w5", "g"),
         conv("c6", "g", "w7", "k", pads=[1, 1, 1, 1]), conv("c5", "k", "w6", "h"), helper.make_node("Flatten", ["h"], ["f"]),
         helper.make_node("Gemm", ["f", "w4", "b4"], ["e"], transB=1)],
        {"x": [23, 7, 6]}, {"w1": W(r, 61, 23, 3, 3) * 0.3, "w1_b": W(r, 61), "w2": W(r, 10, 61, 1, 1) * 0.3,
                            "w2_b": W(r, 10), "w3": W(r, 23, 10, 1, 1), "w3_b": W(r, 23), "w5": W(r, 4, 23, 1, 1),
                            "w5_b": W(r, 4), "w7": W(r, 4, 4, 3, 3), "w7_b": W(r, 4), "w6": W(r, 23, 4, 1, 1), "w6_b": W(r, 23), "w4": W(r, 9, 276) * 0.2,
                            "b4": W(r, 9)})
    qm, q = random_case(model, seed=4)
    return qm, q, {"tm": 4, "tn": 3, "tile": (2, 3), "buffers": {"input": 180, "weight": 324, "output": 64}}


def test_steps_of_several_tn_tiles_bit_exact():
    """Dense steps of G Tn tiles: a 3x3 convolution three steps of three tiles (the last short), a 1x1 one
    three of seven, a resident input loaded in one step, a lone 3x3 Tm tile in two steps where one
    would hold it (a lone 1x1 one in one), a gemm in steps the weight buffer bounds — C simulation == emulator == executor, and the
    array's cycles == the cost model's (check_csim)."""
    qm, q, build = wide_case()
    sim = check_csim(qm, q, **build)
    program = sim.program
    got = {}
    for d in program.layers:
        if d["kind"] in ("conv", "gemm"):
            geo = _conv_geometry(d)
            nt = -(-geo["cin_per_group"] // d["tile"]["tn"])
            g = tiles_per_step(d, geo, program.engine)
            t = d["tile"]
            area = t["rows"] * t["cols"] if d["kind"] == "gemm" or geo["kernel"] == [1, 1] else None
            got[d["name"]] = (nt, g, -(-nt // g), bool(area and area * geo["cin_per_group"] <= 180
                                                      and geo["cout_per_group"] > t["tm"]))
    assert got["c1"] == (8, 3, 3, False)  # 20 halo pixels x 9 channels fill the 180-element input half
    assert got["c2"] == (21, 7, 3, False)  # 6 pixels: 30 channels a step at most, 3 steps of 7 tiles
    assert got["c3"] == (4, 4, 1, True)  # all 10 channels in one step, kept across the Tm tiles
    assert got["c4"] == (8, 8, 1, False)  # 23 channels in one step: a 1x1 step's products hide no load
    assert got["c6"] == (2, 1, 2, False)  # 4 channels fit one step, but its 4 outputs are one Tm tile
    gemm = [v for k, v in got.items() if not k.startswith("c")]
    assert gemm == [(92, 23, 4, False)]  # 324 / Tm = 81 channels of weights a step: 4 steps of 23 tiles


# --- the binary format ------------------------------------------------------------------------------
def test_descriptor_layout_matches_the_header():
    text = (toolchain.HLS_ROOT / "include" / "fpga_accel" / "tiled" / "descriptor.h").read_text()
    consts = {m[0]: int(m[1], 0) for m in re.findall(r"\b([A-Z][A-Z0-9_]*) = (0x[0-9A-F]+|\d+)", text)}
    for prefix, table in (("H_", descriptors.HEADER), ("L_", descriptors.LAYER), ("V_", descriptors.VIEW),
                          ("B_", descriptors.BLOCK), ("P_", descriptors.POST), ("K_", descriptors.KIND_CODES),
                          ("D_", descriptors.DTYPE_CODES), ("POST_", descriptors.POST_CODES)):
        for k, v in table.items():
            key = prefix + k.upper()
            assert consts.get(key) == v, (key, consts.get(key), v)
    for k in ("RECORD_WORDS", "MAGIC", "VERSION", "MAX_INPUTS", "MAX_POST", "VIEW_WORDS", "BLOCK_WORDS", "POST_WORDS"):
        assert consts[k] == getattr(descriptors, k), k
    assert descriptors.LAYER["post"] + descriptors.MAX_POST * descriptors.POST_WORDS == descriptors.RECORD_WORDS


def test_encoded_fields():
    qm, _ = random_case(GRAPHS["residual"], seed=len("residual"))
    p = build_program(qm, tm=3, tn=5, tile=(2, 3))
    w = descriptors.encode(p).reshape(-1, descriptors.RECORD_WORDS)
    H, L, V = descriptors.HEADER, descriptors.LAYER, descriptors.VIEW
    assert w.dtype == np.dtype("<u4") and w.shape[0] == 1 + len(p.layers)
    assert (w[0, H["magic"]], w[0, H["layers"]], w[0, H["tm"]], w[0, H["tn"]]) == (descriptors.MAGIC, len(p.layers), 3, 5)
    d, rec = p.layers[1], w[2]
    assert rec[L["kind"]] == descriptors.KIND_CODES["conv"] and rec[L["n_post"]] == len(d["post"]) == 1
    assert rec[L["output"] + V["offset"]] == d["output"]["offset"]
    assert rec[L["weights"]] == d["weights"]["offset"]
    assert [rec[L[k]] for k in ("pad_t", "pad_l", "pad_b", "pad_r")] == d["geometry"]["pads"]
    post = L["post"] + descriptors.POST["residual"]
    assert rec[post + V["offset"]] == d["post"][0]["residual"]["offset"]
    zp = d["requant"]["zp_out"]
    assert rec[L["zp_out"]] == zp & 0xFFFFFFFF  # two's complement


# --- refusals ---------------------------------------------------------------------------------------
GUARD = 256


def _guarded(n: int, fill: int = 0xA5) -> tuple[np.ndarray, np.ndarray]:
    """An n-byte arena inside guard bytes: (the whole buffer, the arena view)."""
    whole = np.full(n + 2 * GUARD, fill, np.uint8)
    return whole, whole[GUARD:GUARD + n]


@pytest.fixture(scope="module")
def residual():
    qm, q = random_case(GRAPHS["residual"], seed=len("residual"))
    return build_program(qm, tm=3, tn=5, tile=(2, 3)), q


def _corrupt(program, layer: int, field: int, value: int) -> np.ndarray:
    w = descriptors.encode(program).reshape(-1, descriptors.RECORD_WORDS).copy()
    w[1 + layer, field] = value & 0xFFFFFFFF
    return w.reshape(-1)


@pytest.mark.parametrize("layer, field, value, code", [
    (1, descriptors.LAYER["output"] + descriptors.VIEW["offset"], "act_end", 4),  # output past the arena
    (0, descriptors.LAYER["inputs"] + descriptors.VIEW["h"], 60000, 4),  # an input view grown past it
    (1, descriptors.LAYER["post"] + descriptors.POST["residual"] + descriptors.VIEW["offset"], "act_end", 4),
    (2, descriptors.LAYER["weights"] + descriptors.BLOCK["offset"], "w_end", 5),  # weights past their arena
    (2, descriptors.LAYER["bias"] + descriptors.BLOCK["count"], 1 << 20, 5),
    (0, descriptors.LAYER["tile_rows"], 1000, 7),  # more rows than the output has
    (0, descriptors.LAYER["tile_tm"], 4, 7),  # more than the array's Tm
    (1, descriptors.LAYER["groups"], 2, 6),
    (1, descriptors.LAYER["kind"], 99, 3),
    (1, descriptors.LAYER["post"] + descriptors.POST["shift"], 63, 11),
])
def test_corrupt_descriptor_is_refused_before_anything_runs(residual, layer, field, value, code):
    program, q = residual
    value = {"act_end": program.data["activations_bytes"] - 1, "w_end": program.data["weights_bytes"] - 8}.get(value, value)
    sim = csim.TiledCsim(program)
    sim.descriptors = _corrupt(program, layer, field, value)
    with pytest.raises(csim.EngineStatusError) as e:
        sim.run({k: v[:1] for k, v in q.items()})
    assert (e.value.code, e.value.layer) == (code, layer), str(e.value)
    assert f"layer {layer} '" in str(e.value)
    # checked before the first layer ran: the arena holds the inputs and nothing else
    inputs = np.zeros_like(sim.acts.buf, bool)
    for name in program.data["inputs"]:
        v = program.tensor(name)["view"]
        inputs[slice(*view_bytes(v))] = True
    assert not sim.acts.buf[~inputs].any()


def test_a_second_residual_add_is_refused_by_the_engine(residual):
    # an output-path lane has one residual adder: records whose post stages hold two adds are refused
    # (S_KIND) before anything runs, as Program refuses them
    program, q = residual
    at = next(i for i, d in enumerate(program.layers) if [s["op"] for s in d.get("post", [])] == ["add"])
    w = descriptors.encode(program).reshape(-1, descriptors.RECORD_WORDS).copy()
    first = descriptors.LAYER["post"]
    w[1 + at, first + descriptors.POST_WORDS:first + 2 * descriptors.POST_WORDS] = w[1 + at, first:first + descriptors.POST_WORDS]
    w[1 + at, descriptors.LAYER["n_post"]] = 2
    sim = csim.TiledCsim(program)
    sim.descriptors = w.reshape(-1)
    with pytest.raises(csim.EngineStatusError) as e:
        sim.run({k: v[:1] for k, v in q.items()})
    assert (e.value.code, e.value.layer) == (3, at), str(e.value)


def test_header_and_arena_sizes_are_checked(residual):
    program, _ = residual
    lib = csim.engine_library(csim.EngineConfig.of(program))
    words = descriptors.encode(program)
    acts = np.zeros(program.data["activations_bytes"], np.uint8)
    assert lib.run(words, program.weights, acts) == 0
    short = np.zeros(program.data["activations_bytes"] - 1, np.uint8)  # smaller than the program needs
    assert lib.run(words, program.weights, short) == 2
    assert lib.run(words, program.weights[:-1].copy(), acts) == 2
    assert lib.run(words[:-1].copy(), program.weights, acts) == 1  # the last record cut short
    bad = words.copy()
    bad[descriptors.HEADER["magic"]] ^= 1
    assert lib.run(bad, program.weights, acts) == 1
    other = build_program(random_case(GRAPHS["residual"], seed=len("residual"))[0], tm=4, tn=3, tile=(5, 1))
    assert lib.run(descriptors.encode(other), other.weights, acts) == 2  # built for another Tm × Tn


def test_fuzzed_descriptors_never_write_outside_the_arena(residual):
    """Random words in random fields: the engine refuses or runs, and never writes a byte outside the
    activation arena (guard bytes around it stay untouched)."""
    program, _ = residual
    lib = csim.engine_library(csim.EngineConfig.of(program))
    good = descriptors.encode(program)
    r = np.random.default_rng(5)
    outcomes = set()
    for _ in range(300):
        w = good.copy()
        for _ in range(int(r.integers(1, 4))):
            i = descriptors.RECORD_WORDS + int(r.integers(0, w.size - descriptors.RECORD_WORDS))
            w[i] = int(r.choice([r.integers(0, 1 << 32), r.integers(0, 64), w[i] + r.integers(-3, 4)])) & 0xFFFFFFFF
        whole, acts = _guarded(program.data["activations_bytes"])
        acts[:] = 0
        status = lib.run(w, program.weights, acts)
        outcomes.add(status & 0xFF)
        assert (whole[:GUARD] == 0xA5).all() and (whole[-GUARD:] == 0xA5).all(), f"status {status}"
    assert 0 in outcomes and len(outcomes) > 3, outcomes


@pytest.fixture(scope="module")
def sanitized_fuzzer(tmp_path_factory):
    """hls/tests/fuzz_tiled_engine.cpp built with AddressSanitizer and UBSan for Tm × Tn = 3 × 5."""
    import shutil
    import subprocess

    from fpga_accel.tiled.build import default_buffers

    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    b = default_buffers(3, 5)
    config = csim.EngineConfig(3, 5, b["input"], b["weight"], b["output"])
    exe = tmp_path_factory.mktemp("fuzz") / "fuzz_tiled_engine"
    cmd = ["g++", "-std=c++17", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
           *(f"-D{d}" for d in config.defines()), *(f"-I{d}" for d in toolchain.csim_include_dirs()),
           str(toolchain.HLS_ROOT / "tests" / "fuzz_tiled_engine.cpp"), "-o", str(exe)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0 and "asan" in res.stderr.lower():
        pytest.skip(f"this g++ cannot build with AddressSanitizer: {res.stderr[-300:]}")
    assert res.returncode == 0, res.stderr[-3000:]
    return exe


@pytest.mark.parametrize("name", ["residual", "depthwise", "grouped", "gemm", "pools", "lut", "concat", "scale",
                                  "add_of_inputs"])
def test_corrupt_descriptors_never_leave_the_arenas_under_sanitizers(sanitized_fuzzer, tmp_path, name):
    """400 random corruptions of each program's records: every run ends (refused, stopped or
    finished) without one access outside the descriptor array or either arena."""
    import subprocess

    qm, _ = random_case(GRAPHS[name], seed=len(name))
    p = build_program(qm, tm=3, tn=5, tile=(2, 3))
    descriptors.encode(p).tofile(tmp_path / "desc.bin")
    p.weights.tofile(tmp_path / "weights.bin")
    res = subprocess.run([str(sanitized_fuzzer), str(tmp_path / "desc.bin"), str(tmp_path / "weights.bin"),
                          str(p.data["activations_bytes"]), str(len(name)), "400"],
                         capture_output=True, text=True, check=False, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "runtime error" not in out and "Sanitizer" not in out, out[-3000:]
    m = re.search(r"fuzz_tiled_engine: 400 runs, (\d+) ran, statuses(( \d+:\d+)+)", res.stdout)
    assert m is not None, out[-2000:]
    assert int(m.group(1)) > 0 and len(m.group(2).split()) > 3, m.group(0)  # some ran, many refusals


def test_encode_refuses_what_the_records_cannot_hold(residual):
    import copy

    from fpga_accel.tiled.program import ProgramError

    program, _ = residual
    big = copy.copy(program)
    big.data = {**program.data, "activations_bytes": 1 << 32}  # past the engine's 32-bit addresses
    with pytest.raises(ProgramError, match="activations_bytes.*below 4294967296"):
        descriptors.encode(big)
    wide = copy.copy(program)
    layer = {**program.layers[0], "inputs": [program.layers[0]["inputs"][0]] * 5}
    wide.data = {**program.data, "layers": [layer]}
    with pytest.raises(ProgramError, match="5 inputs; the engine's records hold 4"):
        descriptors.encode(wide)


def test_engine_buffers_are_private_to_each_library(residual):
    """Two builds of one configuration (fast and synthesis forms) may be loaded together: their
    on-chip buffers differ in layout, so none may be a symbol the loader merges across libraries
    (g++ makes function-local statics of templates STB_GNU_UNIQUE)."""
    import shutil
    import subprocess

    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf (binutils) is not installed")
    program, q = residual
    for form in (False, True):
        lib = csim.engine_library(csim.EngineConfig.of(program, synthesis_form=form))
        symbols = subprocess.run([readelf, "-sW", str(lib.path)], capture_output=True, text=True, check=True).stdout
        merged = [ln for ln in symbols.splitlines() if " UNIQUE " in ln and ("Buffers" in ln or "TiledEngine" in ln)]
        assert merged == [], merged
    want = run_layers(*random_case(GRAPHS["residual"], seed=len("residual")), threads=1)
    for form in (False, True, False):  # both loaded, alternately
        got = csim.run_csim(program, q, synthesis_form=form)
        for name, w in want.items():
            np.testing.assert_array_equal(got[name], w)
