"""The pynq backend on a tiled bundle, against a register-level model of the engine IP (no pynq installed).

The fake ``pynq`` package (tests/fakes/pynq) serves Overlay, MMIO and allocate; the engine IP
(tests/fakes/hw_tiled.py) latches the addresses and sizes written to its registers at ap_start and
runs the engine's C simulation on the bytes at those addresses in the model's DDR (behind a
non-coherent cache). A correct driver therefore reproduces the emulator bit for bit, and each
driver mistake (a missing flush or invalidate, a wrong offset, no polling) shows.
"""
from __future__ import annotations

import numpy as np
import pytest
from pynq_util import drop_pynq, use_fake_pynq

import fpga_accel
from fpga_accel import Session
from fpga_accel.flow.tiled_hwh import write_tiled_hwh
from fpga_accel.flow.tiled_interface import register_map
from fpga_accel.runtime import BackendUnavailable, SessionError, SessionTimeout
from fpga_accel.runtime.pynq_driver import OverlayMismatch, RegisterMapError
from fpga_accel.tiled import descriptors
from fpga_accel.tiled.csim import EngineStatusError
from models import data


@pytest.fixture(scope="module", autouse=True)
def _toolchain():
    """The engine model computes with the engine's C simulation: g++ and the ap_types headers."""
    from fpga_accel import toolchain

    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))


@pytest.fixture
def fake_pynq(monkeypatch):
    yield use_fake_pynq(monkeypatch)
    drop_pynq()


def _compile(name, dest, board="pynq-z2"):
    calib = data.HERE / data.info(name)["calib"]["path"]
    return fpga_accel.compile(data.model_path(name), dest, calib=calib, progress=False, engine="tiled", board=board)


def place_overlay(bundle, **hwh_options):
    d = bundle.path / "bitstream"
    d.mkdir(exist_ok=True)
    (d / "fa_design.bit").write_bytes(b"stand-in: the design is served by the board model\n")
    return write_tiled_hwh(d / "fa_design.hwh", bundle.manifest, **hwh_options)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiled-pynq")
    out = {"mnist_cnn": _compile("mnist_cnn", d / "mnist.fpga"),
           "resnet_ds": _compile("resnet_ds", d / "resnet.fpga", board="zcu104")}
    for b in out.values():
        place_overlay(b)
    return out


def _inputs(bundle, n, seed=0):
    r = np.random.default_rng(seed)
    return {t["name"]: r.uniform(0, 1, (n, *t["shape"][1:])).astype(np.float32) for t in bundle.manifest["inputs"]}


def _equal(got, want):
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])

def _equals_the_emulator(fake_pynq, b, x):
    """Run x on the engine model through the pynq backend, require the emulator's outputs; the board."""
    with Session(b, backend="pynq") as s:
        got = s.run(x)
        board = fake_pynq.board
    with Session(b, backend="emulator") as e:
        want = e.run(x)
    _equal(got, want)
    return board


def test_register_map_is_vitis_hls_layout_for_the_top_signature():
    # ap_return first at 0x10, then the arguments in order: 64-bit pointers 12 bytes, 32-bit scalars 8
    assert register_map() == {"ap_return": 0x10, "desc": 0x18, "desc_words": 0x24, "weights": 0x2C,
                              "weights_bytes": 0x38, "acts": 0x40, "act_bytes": 0x4C}


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet_ds"])
def test_session_on_the_engine_model_equals_the_emulator(fake_pynq, bundles, name):
    b = bundles[name]
    x = _inputs(b, 3)
    board = _equals_the_emulator(fake_pynq, b, x)
    assert board.violations == []
    assert board.ip.starts == 3  # one ap_start per image
    # the engine read its buffers where the driver allocated them, the same ones every image
    assert len({tuple(r.values()) for r in board.runs}) == 1
    # descriptors and weights flushed once at load, the arena before every image; invalidated after each
    assert (board.memory.flushes, board.memory.invalidates) == (2 + 3, 3)


def test_raw_mode_equals_the_csim_backend(fake_pynq, bundles):
    b = bundles["mnist_cnn"]
    with Session(b, backend="pynq") as s, Session(b, backend="csim") as c:
        t = s.qmodel.inputs[0]
        q = t.qparams.qtype
        raw = {t.name: np.random.default_rng(1).integers(q.min, q.max + 1, (4, *t.shape[1:])).astype(q.dtype)}
        _equal(s.run(raw, raw=True), c.run(raw, raw=True))


def test_a_driver_that_does_not_flush_computes_on_stale_ddr(fake_pynq, bundles, monkeypatch):
    # the model is strict about the cache: without the flush of the arena the engine sees old bytes
    b = bundles["mnist_cnn"]
    x = _inputs(b, 1)
    with Session(b, backend="emulator") as e:
        want = e.run(x)
    with Session(b, backend="pynq") as s:
        monkeypatch.setattr(s.backend.tiled._acts, "flush", lambda: None)
        got = s.run(x)
    assert any(not np.array_equal(got[k], want[k]) for k in want)


def test_wrong_register_offset_in_the_hwh_is_refused(fake_pynq, bundles):
    b = bundles["mnist_cnn"]
    place_overlay(b, registers={"act_bytes": 0x54})
    try:
        with pytest.raises(RegisterMapError, match=r"'act_bytes' is at 0x54 in the \.hwh but at 0x4c in the manifest"):
            Session(b, backend="pynq")
    finally:
        place_overlay(b)


def test_an_overlay_without_the_engine_is_refused(fake_pynq, bundles):
    from fpga_accel.bundle_kernel import kernel_interface
    from fpga_accel.codegen.hwh import write_hwh
    from fpga_accel.compiler import load_qmodel

    b = bundles["mnist_cnn"]
    man = {**b.manifest, "kernel": kernel_interface(load_qmodel(b))}
    write_hwh(b.path / "bitstream" / "fa_design.hwh", man)  # a dataflow design's handoff beside the tiled bundle
    try:
        with pytest.raises(OverlayMismatch, match="no instance called 'fa_tiled_0'.*the tiled engine"):
            Session(b, backend="pynq")
    finally:
        place_overlay(b)


def test_an_engine_that_never_finishes_times_out_and_is_not_started_again(fake_pynq, bundles):
    b = bundles["mnist_cnn"]
    fake_pynq.board_options.update(hang=True)
    with Session(b, backend="pynq", timeout=0.5) as s:
        with pytest.raises(SessionTimeout, match="did not finish an image within"):
            s.run(_inputs(b, 1))
        with pytest.raises(SessionError, match="cannot run any more"):
            s.run(_inputs(b, 1))
        starts = fake_pynq.board.ip.starts
        raw = {t.name: np.zeros((1, *t.shape[1:]), t.qparams.qtype.dtype) for t in s.qmodel.inputs}
        with pytest.raises(SessionError, match="cannot be reset from software"):
            s.backend.run_raw(raw)  # the driver itself refuses to start a hung engine again
        assert fake_pynq.board.ip.starts == starts == 1


def test_status_of_an_engine_built_for_another_configuration(fake_pynq, bundles):
    b = bundles["mnist_cnn"]
    cfg = dict(b.manifest["scripts"]["configuration"])
    cfg["tm"] = cfg["tm"] // 2 or 1
    fake_pynq.board_options.update(config=cfg)
    pattern = r"tiled engine \(PYNQ\): the program: status 2.*another engine configuration"
    with Session(b, backend="pynq") as s, pytest.raises(EngineStatusError, match=pattern) as e:
        s.run(_inputs(b, 1))
    assert e.value.code == 2


def test_status_naming_a_layer(fake_pynq, bundles):
    # descriptors whose second layer's output view lies past the arena: the engine refuses with code 4
    b = bundles["mnist_cnn"]
    with Session(b, backend="pynq") as s:
        eng = s.backend.tiled
        words = descriptors.encode(eng.program).reshape(-1, descriptors.RECORD_WORDS).copy()
        words[2, descriptors.LAYER["output"] + descriptors.VIEW["offset"]] = eng.program.data["activations_bytes"] - 1
        eng.descriptors = words.reshape(-1)
        with pytest.raises(EngineStatusError, match=r"layer 1 '.*': status 4, a view outside the activation arena"):
            s.run(_inputs(b, 1))


def test_pynq_is_unavailable_without_a_bitstream_or_engine_description(bundles, tmp_path):
    b = _compile("mnist_cnn", tmp_path / "nobit.fpga")
    with pytest.raises(BackendUnavailable, match="no bitstream"):
        Session(b, backend="pynq")


def test_a_hostile_register_map_in_the_manifest_is_refused(fake_pynq, bundles, tmp_path):
    import json
    import shutil

    from fpga_accel.bundle import write_manifest

    src = bundles["mnist_cnn"]
    dst = tmp_path / "hostile.fpga"
    shutil.copytree(src.path, dst)
    m = json.loads((dst / "manifest.json").read_text())
    m["scripts"]["ip"]["registers"]["acts"] = 0x10000  # a write far outside the engine's register block
    write_manifest(dst, m)
    write_tiled_hwh(dst / "bitstream" / "fa_design.hwh", m)
    with pytest.raises(RegisterMapError, match=r"scripts\.ip\) is not the register map of fa_tiled_top"):
        Session(dst, backend="pynq")


@pytest.fixture(scope="module")
def forms(bundles, tmp_path_factory):
    """The pynq-z2 bundle in either engine form (``tiled.array.split``), each with the handoff of its own build."""
    from tiled_split_util import with_form

    d = tmp_path_factory.mktemp("tiled-pynq-forms")
    out = {split: with_form(bundles["mnist_cnn"], d / f"mnist-{split}.fpga", split) for split in (False, True)}
    for b in out.values():
        place_overlay(b)
    return out


def test_register_map_of_a_split_engine_appends_the_second_pointers():
    assert register_map(split=True) == {**register_map(), "weights_b": 0x54, "acts_b": 0x60}


def test_a_split_engine_is_given_the_arenas_again_and_equals_the_emulator(fake_pynq, forms):
    b = forms[True]
    x = _inputs(b, 2)
    board = _equals_the_emulator(fake_pynq, b, x)
    assert board.violations == [] and board.ip.split and board.ip.starts == 2
    # the second masters read the weights and activation arenas at the addresses the first ones do
    for run in board.runs:
        assert run["weights_b"] == run["weights"] and run["acts_b"] == run["acts"]
        assert len({run["desc"], run["weights"], run["acts"]}) == 3


def test_a_driver_that_leaves_the_second_activation_address_out_is_seen(fake_pynq, forms, monkeypatch):
    # acts_b never written: the engine's odd input rows would come from address 0, a bus error
    b = forms[True]
    with Session(b, backend="pynq", timeout=0.5) as s:
        monkeypatch.setattr(s.backend.tiled, "aliases", {"weights_b": "weights"})
        with pytest.raises(SessionTimeout):
            s.run(_inputs(b, 1))
        assert len(fake_pynq.board.violations) == 1 and "outside DDR" in fake_pynq.board.violations[0]


@pytest.mark.parametrize("bundle_split, overlay_split, pattern", [
    (False, True, r"'fa_tiled_0' is a split tiled engine \(registers weights_b, acts_b\) but the bundle's engine is not"),
    (True, False, r"register 'weights_b' \(manifest offset 0x54\) is missing"),
])
def test_an_overlay_of_the_other_engine_form_is_refused(fake_pynq, forms, bundle_split, overlay_split, pattern):
    b = forms[bundle_split]
    place_overlay(b)
    write_tiled_hwh(b.path / "bitstream" / "fa_design.hwh", forms[overlay_split].manifest)
    try:
        with pytest.raises(RegisterMapError, match=pattern):
            Session(b, backend="pynq")
    finally:
        place_overlay(b)
