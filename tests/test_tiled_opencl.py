"""The tiled engine's OpenCL twin (fpga_accel/tiled/opencl_*.cl) on PoCL against the emulator
and the reference executor, bit for bit; the opencl backend on tiled bundles against the emulator
backend; corrupt descriptors refused with the HLS engine's status codes, nothing written outside
the activation arena.

One PoCL build per engine configuration (Tm × Tn and buffers), cached by PoCL across runs.
"""
import numpy as np
import pytest
from test_tiled_engine import GRAPHS, TILINGS
from tiled_util import quantised, random_case, raw_inputs

import fpga_accel
from fpga_accel.emulator import run_layers
from fpga_accel.tiled import TiledEngine, build_program, descriptors
from fpga_accel.tiled.csim import EngineStatusError
from fpga_accel.tiled.program import view_bytes
from models import data

opencl = pytest.importorskip("fpga_accel.tiled.opencl")


@pytest.fixture(scope="module")
def device():
    """The CPU OpenCL device the twin builds on (skips naming why there is none)."""
    try:
        dev = opencl.default_device()
    except opencl.TwinUnavailable as e:
        pytest.skip(str(e))
    import pyopencl

    qm, _ = random_case(GRAPHS["gemm"], seed=1)
    try:  # a device may be listed yet unable to compile for this processor
        opencl.TiledOpenCL(build_program(qm, tm=16, tn=16), device=dev).close()
    except pyopencl.Error as e:
        pytest.skip(f"the tiled engine's twin does not build on {dev.name}: {e}")
    return dev


def check_twin(device, qm, q, executor=True, **build):
    """The twin == emulator (outputs on the batch, every DDR tensor on the last image), and == the
    reference executor's DDR tensors when ``executor``. Returns the twin."""
    program = build_program(qm, **build)
    twin = opencl.TiledOpenCL(program, device=device, timeout=120)
    got = twin.run(q)
    want = run_layers(qm, q, threads=1)
    for name, w in want.items():
        assert got[name].dtype == w.dtype
        np.testing.assert_array_equal(got[name], w, err_msg=f"output '{name}' with {build}")
    last = {k: v[-1:] for k, v in q.items()}
    twin.run(last)
    every = run_layers(qm, last, keep=True, threads=1)
    ref = TiledEngine(program) if executor else None
    if ref is not None:
        ref.run(last)
    for t in program.data["tensors"]:
        np.testing.assert_array_equal(twin.tensor(t["name"]), every[t["name"]][0],
                                      err_msg=f"tensor '{t['name']}' {build}")
        if ref is not None:
            np.testing.assert_array_equal(twin.tensor(t["name"]), ref.tensor(t["name"]))
    assert twin.last_timing is None or twin.last_timing["kernel_ns"] > 0
    return twin


@pytest.mark.parametrize("tiling", TILINGS[:3], ids=str)
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_small_graphs_bit_exact(device, name, tiling):
    tm, tn, tile = tiling
    qm, q = random_case(GRAPHS[name], seed=len(name))
    check_twin(device, qm, q, tm=tm, tn=tn, tile=tile)


def test_sixteen_bit_activations_and_weights(device):
    qm, q = random_case(GRAPHS["residual"], seed=3, bits=12)
    check_twin(device, qm, q, tm=3, tn=5, tile=(2, 3))
    qm, q = random_case(GRAPHS["lut"], seed=3, bits=12)  # 4096-entry tables
    check_twin(device, qm, q, tm=4, tn=3, tile=(5, 1))


@pytest.mark.parametrize("name", ["mnist_cnn", "digits_cnn", "mlp", "resnet_ds"])
def test_example_models_bit_exact(device, name):
    _, qm = quantised(data.model_path(name), data.load_calib(name))
    x, _ = data.load_test(name)
    q = raw_inputs(qm, {qm.model_inputs[0].name: x[:4]})
    for tm, tn, tile in TILINGS:  # the executor is slow at 1 × 2 tiles: the emulator alone there
        check_twin(device, qm, q, executor=tm > 1, tm=tm, tn=tn, tile=tile)


# --- the backend --------------------------------------------------------------------------------
MODELS = ["mnist_cnn", "digits_cnn", "mlp", "resnet_ds"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiled-opencl")
    return {m: fpga_accel.compile(data.model_path(m), root / f"{m}.fpga", calib=data.load_calib(m), progress=False,
                                  engine="tiled")
            for m in MODELS}


@pytest.mark.parametrize("model", MODELS)
def test_opencl_session_equals_emulator_session(device, bundles, model):
    b = bundles[model]
    x, _ = data.load_test(model)
    feeds = {b.manifest["inputs"][0]["name"]: x[:16]}
    with fpga_accel.Session(b, backend="emulator") as s:
        q = s.hardware_inputs(feeds)
        want = s.run(q, raw=True)
        want_float = s.run(feeds)
    with fpga_accel.Session(b, backend="opencl") as s:
        assert s.backend.tiled is not None and s.backend.mode == "source"
        got = s.run(q, raw=True)
        got_float = s.run(feeds)
        assert s.backend.last_timing["kernel_ns"] > 0
    for k in want:
        assert got[k].dtype == want[k].dtype
        np.testing.assert_array_equal(got[k], want[k])
    for k in want_float:
        np.testing.assert_array_equal(got_float[k], want_float[k])


def test_backend_runs_the_bundles_own_descriptors(device, bundles):
    """The session's engine reads the bundle's descriptors.bin: a corrupt copy in memory is refused."""
    b = bundles["mlp"]
    with fpga_accel.Session(b, backend="opencl") as s:
        words = s.backend.tiled.descriptors
        assert words.tobytes() == b.read(b.manifest["tiled"]["descriptors"])
        s.backend.tiled.descriptors = _corrupt_words(words, 0, descriptors.LAYER["kind"], 99)
        x, _ = data.load_test("mlp")
        with pytest.raises(EngineStatusError, match=r"OpenCL on .*layer 0 .*status 3"):
            s.run({b.manifest["inputs"][0]["name"]: x[:2]})


# --- refusals -----------------------------------------------------------------------------------
def _corrupt_words(words: np.ndarray, layer: int, field: int, value: int) -> np.ndarray:
    w = words.reshape(-1, descriptors.RECORD_WORDS).copy()
    w[1 + layer, field] = value & 0xFFFFFFFF
    return w.reshape(-1)


@pytest.fixture(scope="module")
def residual(device):
    qm, q = random_case(GRAPHS["residual"], seed=len("residual"))
    program = build_program(qm, tm=3, tn=5, tile=(2, 3))
    return program, q, opencl.TiledOpenCL(program, device=device, timeout=60)


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
    program, q, twin = residual
    ends = {"act_end": program.data["activations_bytes"] - 1, "w_end": program.data["weights_bytes"] - 8}
    value = ends.get(value, value)
    twin.descriptors = _corrupt_words(descriptors.encode(program), layer, field, value)
    twin.acts.buf[:] = 0
    try:
        with pytest.raises(EngineStatusError) as e:
            twin.run({k: v[:1] for k, v in q.items()})
    finally:
        twin.descriptors = descriptors.encode(program)
    assert (e.value.code, e.value.layer) == (code, layer), str(e.value)
    assert f"layer {layer} '" in str(e.value) and "OpenCL" in str(e.value)
    # checked before the first layer ran: the arena came back holding the inputs and nothing else
    inputs = np.zeros_like(twin.acts.buf, bool)
    for name in program.data["inputs"]:
        inputs[slice(*view_bytes(program.tensor(name)["view"]))] = True
    assert not twin.acts.buf[~inputs].any()


def test_a_second_residual_add_is_refused_as_the_engine_refuses_it(residual):
    program, q, twin = residual
    at = next(i for i, d in enumerate(program.layers) if [s["op"] for s in d.get("post", [])] == ["add"])
    w = descriptors.encode(program).reshape(-1, descriptors.RECORD_WORDS).copy()
    first, n = descriptors.LAYER["post"], descriptors.POST_WORDS
    w[1 + at, first + n:first + 2 * n] = w[1 + at, first:first + n]
    w[1 + at, descriptors.LAYER["n_post"]] = 2
    twin.descriptors = w.reshape(-1)
    try:
        with pytest.raises(EngineStatusError) as e:
            twin.run({k: v[:1] for k, v in q.items()})
    finally:
        twin.descriptors = descriptors.encode(program)
    assert (e.value.code, e.value.layer) == (3, at), str(e.value)


class Guarded:
    """The twin's kernel called on buffers of its own: the activation arena a sub-buffer inside guard
    bytes, so a write outside the arena shows."""

    def __init__(self, twin):
        self.twin, cl = twin, twin.cl
        self.cl = cl
        self.guard = max(256, twin.device.mem_base_addr_align // 8)

    def run(self, words, weights, act_bytes, acts_fill=None):
        """(status, the whole activation buffer after the call: guard + arena + guard)."""
        cl, t = self.cl, self.twin
        mf = cl.mem_flags
        whole = np.full(act_bytes + 2 * self.guard, 0xA5, np.uint8)
        if acts_fill is not None:
            whole[self.guard:self.guard + act_bytes] = acts_fill
        bufs = [cl.Buffer(t.ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=np.ascontiguousarray(words, np.uint32)),
                cl.Buffer(t.ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=np.ascontiguousarray(weights, np.uint8)),
                cl.Buffer(t.ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=whole),
                cl.Buffer(t.ctx, mf.WRITE_ONLY, 4)]
        acts = bufs[2].get_sub_region(self.guard, act_bytes)
        t.kernel.set_args(bufs[0], np.uint32(len(words)), bufs[1], np.uint32(len(weights)), acts,
                          np.uint32(act_bytes), bufs[3])
        cl.enqueue_nd_range_kernel(t.queue, t.kernel, (t.work_items,), (t.work_items,))
        status = np.zeros(1, np.uint32)
        cl.enqueue_copy(t.queue, status, bufs[3])
        cl.enqueue_copy(t.queue, whole, bufs[2])
        t.queue.finish()
        for buf in (acts, *bufs):
            buf.release()
        return int(status[0]), whole


def test_header_and_arena_sizes_are_checked(residual):
    program, _, twin = residual
    g = Guarded(twin)
    words, w, n = descriptors.encode(program), program.weights, program.data["activations_bytes"]
    assert g.run(words, w, n)[0] == 0
    assert g.run(words, w, n - 1)[0] == 2  # an arena smaller than the program's
    assert g.run(words, w[:-1], n)[0] == 2
    assert g.run(words[:-1], w, n)[0] == 1  # the last record cut short
    assert g.run(words[:100], w, n)[0] == 1  # not even a header
    bad = words.copy()
    bad[descriptors.HEADER["magic"]] ^= 1
    assert g.run(bad, w, n)[0] == 1
    other = build_program(random_case(GRAPHS["residual"], seed=len("residual"))[0], tm=4, tn=3, tile=(5, 1))
    assert g.run(descriptors.encode(other), other.weights, n)[0] == 2  # built for another Tm × Tn


def test_fuzzed_descriptors_never_write_outside_the_arena_and_match_the_hls_engine(residual):
    """Random words in random fields: the twin refuses or runs, never writes a byte outside the
    activation arena, and gives the C simulation's status (its code; for a failure while running,
    one of the run-time codes of the same layer)."""
    from fpga_accel import toolchain
    from fpga_accel.tiled import csim

    program, q, twin = residual
    try:
        toolchain.compiler()
        lib = csim.engine_library(csim.EngineConfig.of(program))
    except toolchain.ToolchainError:
        lib = None
    g = Guarded(twin)
    good, n = descriptors.encode(program), program.data["activations_bytes"]
    start = TiledEngine(program)
    start.run({k: v[:1] for k, v in q.items()})  # an arena holding an image's tensors
    r = np.random.default_rng(7)
    codes = []
    for _ in range(150):
        w = good.copy()
        for _ in range(int(r.integers(1, 4))):
            i = descriptors.RECORD_WORDS + int(r.integers(0, w.size - descriptors.RECORD_WORDS))
            w[i] = int(r.choice([r.integers(0, 1 << 32), r.integers(0, 64), r.integers(n - 64, n + 64)])) & 0xFFFFFFFF
        status, whole = g.run(w, program.weights, n, start.acts.buf)
        assert (whole[:g.guard] == 0xA5).all() and (whole[g.guard + n:] == 0xA5).all()
        codes.append(status & 0xFF)
        if lib is not None:
            acts = start.acts.buf.copy()
            want = lib.run(w, program.weights, acts)
            if want & 0xFF in (8, 9, 10, 11) and status & 0xFF in (8, 9, 10, 11) and want >> 8 == status >> 8:
                continue  # failed while running: which value fails first depends on the order
            assert status == want, (status, want)
            if not want:
                np.testing.assert_array_equal(whole[g.guard:g.guard + n], acts)
    assert 0 in codes and len(set(codes)) >= 4  # refusals of several kinds, and runs


# --- the twin's copy of the binary format ---------------------------------------------------------
def test_twin_record_layout_matches_the_encoder():
    """The word positions, kinds, types and status codes of opencl_records.cl are descriptors.py's
    (which test_tiled_hls.py compares with the HLS engine's descriptor.h)."""
    import re

    from fpga_accel.tiled import csim

    text = opencl.KERNEL_SOURCES[0].read_text()
    consts = {m[0]: int(m[1], 0) for m in re.findall(r"\b([A-Z][A-Z0-9_]*) = (0x[0-9A-F]+|\d+)", text)}
    consts.update({m[0]: int(m[1], 0) for m in re.findall(r"#define ([A-Z_]+) (0x[0-9A-F]+|\d+)u?\b", text)})
    for prefix, table in (("H_", descriptors.HEADER), ("L_", descriptors.LAYER), ("V_", descriptors.VIEW),
                          ("B_", descriptors.BLOCK), ("P_", descriptors.POST), ("K_", descriptors.KIND_CODES),
                          ("D_", descriptors.DTYPE_CODES), ("POST_", descriptors.POST_CODES)):
        for k, v in table.items():
            assert consts.get(prefix + k.upper()) == v, (prefix + k.upper(), consts.get(prefix + k.upper()), v)
    for k in ("RECORD_WORDS", "MAGIC", "VERSION", "MAX_INPUTS", "MAX_POST", "VIEW_WORDS", "POST_WORDS"):
        assert consts[k] == getattr(descriptors, k), k
    codes = {v: k for k, v in consts.items() if k.startswith("S_") and k != "S_OK"}
    assert sorted(codes) == sorted(csim.STATUS)
