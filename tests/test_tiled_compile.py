"""`compile --engine tiled|auto`: the tiled program in the bundle, checked on load, run by the
emulator backend (run_layers, or the program's reference executor) and the csim backend (the HLS
engine's C simulation), equal bit for bit to the dataflow bundle of the same model; the array
searched against the board's budgets."""
import io
import json
import shutil

import numpy as np
import pytest
from onnx import helper
from tiled_util import make_model

import fpga_accel
from fpga_accel.bundle import BundleError, load_bundle, write_manifest
from fpga_accel.bundle_tiled import load_program
from fpga_accel.errors import InputError
from fpga_accel.runtime.errors import BackendUnavailable
from fpga_accel.tiled import ProgramError
from fpga_accel.tiled.cost import bound_cycles, ddr_rates, program_cost
from fpga_accel.tiled.ports import axi_bits
from fpga_accel.tiled.target import buffer_bram18, choose_array, ramb18
from models import data

MODELS = ["mnist_cnn", "resnet_ds"]


def calib_file(name):
    return data.HERE / data.info(name)["calib"]["path"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """{(model, engine): Bundle}, each model compiled for both engines with the same calibration."""
    root = tmp_path_factory.mktemp("tiled-compile")
    return {(m, e): fpga_accel.compile(data.model_path(m), root / f"{m}-{e}.fpga", calib=calib_file(m),
                                       progress=False, engine=e)
            for m in MODELS for e in ("dataflow", "tiled")}


def _inputs(bundle, n=3, seed=0):
    r = np.random.default_rng(seed)
    return {t["name"]: r.uniform(0, 1, (n, *t["shape"][1:])).astype(np.float32) for t in bundle.manifest["inputs"]}


def _toolchain():
    from fpga_accel import toolchain

    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("model", MODELS)
def test_tiled_bundle_holds_the_program_with_hashes(made, model):
    b = made[(model, "tiled")]
    m = b.manifest
    assert m["engine"]["kind"] == "tiled" and "fold" not in m
    for key in ("program", "arena", "descriptors"):
        assert m["tiled"][key] in m["files"]
    program, words = load_program(b)
    assert (program.engine["tm"], program.engine["tn"]) == (m["tiled"]["array"]["tm"], m["tiled"]["array"]["tn"])
    # the recorded estimates are the cost model's for the stored program
    assert m["tiled"]["cost"]["cycles"] == pytest.approx(program_cost(program, m["board"]["name"]).cycles)
    assert len(words) > 0 and not list(b.path.rglob("*.pkl"))


def _raw_outputs(bundle, backend, x):
    """(hardware input integers, hardware output integers) of ``bundle`` on float inputs ``x``."""
    with fpga_accel.Session(bundle, backend=backend) as s:
        q = s.hardware_inputs(x)
        out = s.run(q, raw=True)
        cycles = s.backend.stage_cycles() if backend == "csim" else None
    return q, out, cycles


def _equal(got, want):
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype
        np.testing.assert_array_equal(got[k], want[k])


@pytest.mark.parametrize("model", MODELS)
def test_emulator_session_equals_the_dataflow_bundle(made, model):
    x = _inputs(made[(model, "dataflow")])
    q, want, _ = _raw_outputs(made[(model, "dataflow")], "emulator", x)
    q2, got, _ = _raw_outputs(made[(model, "tiled")], "emulator", x)
    _equal(q2, q)  # the same quantisation
    _equal(got, want)
    with fpga_accel.Session(made[(model, "tiled")], backend="emulator") as s:
        assert s.backend.tiled is not None and not s.backend.use_program  # the program loaded; run_layers ran
        s.backend.use_program = True  # the program in the reference executor: the same integers
        _equal(s.run(q, raw=True), want)
        assert sum(s.backend.tiled.acts.reads.values()) > 0  # it did run the program


@pytest.mark.parametrize("model", MODELS)
def test_csim_session_equals_the_dataflow_bundle(made, model):
    _toolchain()
    x = _inputs(made[(model, "dataflow")], n=2, seed=1)
    _, want, _ = _raw_outputs(made[(model, "dataflow")], "emulator", x)
    _, got, cycles = _raw_outputs(made[(model, "tiled")], "csim", x)
    _equal(got, want)
    per_layer = {lay["name"]: lay["compute_cycles"] for lay in made[(model, "tiled")].manifest["tiled"]["cost"]["layers"]}
    assert {k: v // 2 for k, v in cycles.items()} == per_layer  # simulated == estimated compute cycles


def test_other_backends_refuse_a_tiled_bundle_naming_what_is_missing(made):
    b = made[("mnist_cnn", "tiled")]
    for name in ("native",):
        with pytest.raises(BackendUnavailable, match="tiled engine.*no .* form yet"):
            fpga_accel.Session(b, backend=name)


def _copy(b, tmp_path):
    dst = tmp_path / b.path.name
    shutil.copytree(b.path, dst)
    return dst


def test_a_tampered_program_is_refused(made, tmp_path):
    p = _copy(made[("mnist_cnn", "tiled")], tmp_path)
    data_ = json.loads((p / "tiled/program.json").read_text())
    data_["layers"][0]["tile"]["rows"] += 1
    (p / "tiled/program.json").write_text(json.dumps(data_))
    with pytest.raises(BundleError, match=r"modified \['tiled/program.json'\]"):
        load_bundle(p)
    with pytest.raises(BundleError, match="does not match its sha256"):  # verify=False still hashes on read
        fpga_accel.Session(load_bundle(p, verify=False), backend="emulator")


def test_tampered_descriptors_or_arena_are_refused(made, tmp_path):
    p = _copy(made[("mnist_cnn", "tiled")], tmp_path)
    raw = bytearray((p / "tiled/descriptors.bin").read_bytes())
    raw[200] ^= 1
    (p / "tiled/descriptors.bin").write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="descriptors.bin"):
        load_bundle(p)


def _reseal(p, rel, raw):
    """Write ``raw`` to ``rel`` and seal a manifest listing its hash: a program sealed in."""
    import hashlib

    (p / rel).write_bytes(raw)
    m = json.loads((p / "manifest.json").read_text())
    m = {k: v for k, v in m.items() if not k.startswith("manifest_")}
    m["files"][rel] = hashlib.sha256(raw).hexdigest()
    write_manifest(p, m)


def test_a_hostile_program_sealed_in_is_refused_by_its_checks(made, tmp_path):
    p = _copy(made[("mnist_cnn", "tiled")], tmp_path)
    d = json.loads((p / "tiled/program.json").read_text())
    d["layers"][0]["output"]["region"] = 99
    _reseal(p, "tiled/program.json", json.dumps(d).encode())
    b = load_bundle(p)
    with pytest.raises(ProgramError, match="layer 0.*region"):
        fpga_accel.Session(b, backend="emulator")
    # descriptors that are not the program's encoding are refused even when their hash is sealed in
    p2 = _copy(made[("mnist_cnn", "tiled")], tmp_path / "two")
    words = bytearray((p2 / "tiled/descriptors.bin").read_bytes())
    words[-4:] = b"\xff\xff\xff\x7f"
    _reseal(p2, "tiled/descriptors.bin", bytes(words))
    with pytest.raises(BundleError, match="not the encoding"):
        fpga_accel.Session(load_bundle(p2), backend="emulator")


def test_a_hostile_weights_arena_sealed_in_is_refused_before_it_is_read(made, tmp_path):
    p = _copy(made[("mnist_cnn", "tiled")], tmp_path)
    buf = io.BytesIO()
    np.savez(buf, weights=np.zeros(1 << 20, np.int16))  # another type and size than the program declares
    _reseal(p, "tiled/program.npz", buf.getvalue())
    with pytest.raises(ProgramError, match=r"tiled/program.npz: the weights arena must be uint8"):
        fpga_accel.Session(load_bundle(p), backend="csim")


def test_manifest_tiled_section_is_checked(made, tmp_path):
    p = _copy(made[("mnist_cnn", "tiled")], tmp_path)
    m = json.loads((p / "manifest.json").read_text())
    m = {k: v for k, v in m.items() if not k.startswith("manifest_")}
    m["tiled"]["program"] = "../elsewhere.json"
    write_manifest(p, m)
    with pytest.raises(BundleError, match="tiled.program"):
        load_bundle(p)
    # the engine's form: a bool, absent in older bundles (unsplit)
    m = {k: v for k, v in json.loads((_copy(made[("mnist_cnn", "tiled")], tmp_path / "two") / "manifest.json")
                                     .read_text()).items() if not k.startswith("manifest_")}
    assert m["tiled"]["array"]["split"] is True  # pynq-z2 (the default board): a split engine on four HP ports
    for split, ok in (("yes", False), (1, False), (None, False), (False, True)):
        m["tiled"]["array"]["split"] = split
        write_manifest(tmp_path / "two" / p.name, m)
        if ok:
            assert load_bundle(tmp_path / "two" / p.name).manifest["tiled"]["array"]["split"] is split
            continue
        with pytest.raises(BundleError, match="tiled.array.split"):
            load_bundle(tmp_path / "two" / p.name)
    del m["tiled"]["array"]["split"]
    write_manifest(tmp_path / "two" / p.name, m)
    assert "split" not in load_bundle(tmp_path / "two" / p.name).manifest["tiled"]["array"]


def test_auto_picks_dataflow_when_it_fits(tmp_path):
    b = fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "a.fpga", calib=calib_file("mnist_cnn"),
                           progress=False, engine="auto")
    assert b.manifest["engine"] == {"kind": "dataflow", "reason": "auto: the dataflow design fits the board"}
    assert "fold" in b.manifest and "tiled" not in b.manifest


def _wide_model():
    """A convolution stack whose weights (about 2.4 M) exceed a pynq-z2's BRAM for the dataflow engine."""
    r = np.random.default_rng(3)
    nodes, inits, x = [], {}, "x"
    for i, (ci, co) in enumerate([(3, 256), (256, 512), (512, 512), (512, 512)]):
        inits[f"w{i}"] = r.standard_normal((co, ci, 3, 3)) * 0.05
        nodes.append(helper.make_node("Conv", [x, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        x = f"r{i}"
    return make_model(nodes, {"x": [3, 8, 8]}, inits)


def test_auto_picks_tiled_when_the_dataflow_design_does_not_fit(tmp_path):
    calib = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    b = fpga_accel.compile(_wide_model(), tmp_path / "w.fpga", calib=calib, progress=False, engine="auto")
    assert b.manifest["engine"]["kind"] == "tiled"
    why = b.manifest["engine"]["reason"]
    assert why.startswith("auto: the dataflow design does not fit the board (model") and "BRAM18: needs" in why
    from tiled_util import raw_inputs

    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.emulator import run_layers

    qm = load_qmodel(b.path)
    q = raw_inputs(qm, {"x": calib[:2]})
    _, got, _ = _raw_outputs(b, "emulator", {"x": calib[:2]})
    _equal(got, run_layers(qm, q))


def test_array_search_respects_the_board_budgets():
    from tiled_util import quantised

    from fpga_accel.fold import get_board
    from fpga_accel.fold.design import budget

    _, qm = quantised(data.model_path("resnet_ds"), calib_file("resnet_ds"))
    for board, ceiling in (("pynq-z2", 0.8), ("zcu104", 0.8), ("pynq-z2", 0.5)):
        c = choose_array(qm, board, ceiling=ceiling)
        lim = budget(get_board(board), ceiling)
        e = c.program.engine
        assert c.dsp <= lim["dsp"] and c.bram18 <= lim["bram18"]
        d = c.to_dict()
        assert c.bram18 == buffer_bram18(e["tm"], e["tn"], d["buffers"], d["acc_bits"], d["memory"] == "uram",
                                         d["lut_entries"], axi_bits(get_board(board)), d["split"])
        # no feasible candidate tried beats the choice
        assert all(t["cycles"] >= c.cost.cycles for t in c.tried if "cycles" in t)
    with pytest.raises(InputError, match="fits no array"):
        choose_array(qm, "pynq-z2", ceiling=0.001)


def test_ramb18_aspect_ratios():
    assert ramb18(1024, 18) == 1 and ramb18(1025, 18) == 2
    assert ramb18(512, 36) == 1 and ramb18(49, 256) == 8  # 8 × 36 bits wide
    assert ramb18(16384, 1) == 1 and ramb18(2048, 9) == 1 and ramb18(0, 8) == 0


def test_unknown_engine_is_refused():
    with pytest.raises(InputError, match="engine must be one of"):
        fpga_accel.compile(data.model_path("mnist_cnn"), engine="systolic")


def test_cli_compile_and_report_print_per_layer_tiled_figures(tmp_path, capsys):
    from fpga_accel.cli import main
    from fpga_accel.fold import get_board

    out = tmp_path / "r.fpga"
    assert main(["compile", str(data.model_path("resnet_ds")), "--calib", str(calib_file("resnet_ds")),
                 "--engine", "tiled", "--board", "zcu104", "-o", str(out)]) == 0
    compiled = capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    report = capsys.readouterr().out
    cost = load_bundle(out).manifest["tiled"]["cost"]
    for text in (compiled, report):
        for lay in cost["layers"]:  # each layer's row: name, kind, compute cycles, bound
            row = [line for line in text.splitlines() if line.startswith(lay["name"] + " ")][-1]
            assert f"{lay['compute_cycles']:,}" in row and row.rstrip().endswith(lay["bound"])
        assert f"{cost['fps']:,.1f} frames/s" in text and "[estimate]" in text
        # the DSP roofline over all the board's DSPs, as the dataflow report and benchmarks/tiled.py give it
        pack, dsps = load_bundle(out).manifest["tiled"]["array"]["pack"], get_board("zcu104").dsp
        roofline = sum(lay["macs"] for lay in cost["layers"]) * cost["fps"] / (dsps * pack * cost["clock_mhz"] * 1e6)
        assert f"DSP roofline    {roofline:.2%} of {dsps:,} DSPs x {pack} MAC x {cost['clock_mhz']:g} MHz" in text
        # the port bound: the same MACs over the bound's cycles, never below the estimate's share
        bound = bound_cycles(cost["layers"], ddr_rates(get_board("zcu104")))
        share = sum(lay["macs"] for lay in cost["layers"]) / (bound * dsps * pack)
        assert f"port bound      {share:.2%}:" in text and share >= roofline
    assert main(["report", str(out), "--html", str(tmp_path / "r.html")]) == 2
    capsys.readouterr()
    assert main(["report", str(out), "--board", "pynq-z2"]) == 0  # the same program re-costed
    other = program_cost(load_program(load_bundle(out))[0], "pynq-z2")
    text = capsys.readouterr().out
    assert f"{other.fps:,.1f} frames/s" in text and other.cycles != cost["cycles"]
    assert f"of {get_board('pynq-z2').dsp:,} DSPs x" in text  # pynq-z2's DSPs for the re-costed program
