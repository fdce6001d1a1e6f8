"""The f2 backend on tiled bundles, against a register/memory model of an F2 card whose custom logic holds
the engine IP ``fa_tiled_top`` (tests/fakes/f2_tiled_card.py: the engine's C simulation on the bytes at
the addresses the host wrote into the modelled card memory), behind the libfpga_mgmt stand-in the
dataflow f2 tests use. A correct host side reproduces the emulator bit for bit; wrong addresses, sizes,
a missing arena write or read, or no polling show. Nothing here ran on an F2 instance.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fakes.f2_card import FakeFpgaMgmt
from fakes.f2_tiled_card import F2TiledCard
from test_segments import alexnet_style
from test_segments import images as alexnet_images

import fpga_accel
from fpga_accel import Session
from fpga_accel.bundle_tiled import load_program
from fpga_accel.flow.tiled_interface import register_map
from fpga_accel.runtime import BackendUnavailable, SessionError, SessionTimeout
from fpga_accel.runtime.backends.f2 import F2Backend
from fpga_accel.runtime.f2_driver import FpgaPci, libs
from fpga_accel.runtime.f2_driver.tiled import TiledF2, _span, check_registers
from fpga_accel.tiled import descriptors
from fpga_accel.tiled.csim import EngineStatusError
from models import data

AGFI = "agfi-0fa4f2000000000f"


@pytest.fixture(scope="module", autouse=True)
def _toolchain():
    """The card model computes with the engine's C simulation: g++ and the ap_types headers."""
    from fpga_accel import toolchain

    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))


def _with_afi(b):
    (b.path / "bitstream").mkdir(exist_ok=True)
    (b.path / "bitstream/afi.json").write_text(json.dumps({"afi_id": "afi-0fa4f2000000000f", "agfi_id": AGFI}))
    return b


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiled-f2")
    out = {n: _with_afi(fpga_accel.compile(data.model_path(n), d / f"{n}.fpga", calib=data.load_calib(n),
                                           progress=False, engine="tiled", board="aws-f2"))
           for n in ("mnist_cnn", "resnet_ds")}
    out["alexnet"] = _with_afi(fpga_accel.compile(alexnet_style(), d / "alexnet.fpga", board="aws-f2",
                                                  calib=alexnet_images(48, 32), progress=False, engine="tiled"))
    return out


@pytest.fixture
def card(monkeypatch):
    """Installs the stand-in library; ``card(bundle, **options)`` makes the card the next session opens,
    its engine built for the bundle's configuration unless ``config`` says otherwise."""
    monkeypatch.setenv("FA_FPGA_MGMT_LIB", "/stand-in/libfpga_mgmt.so")

    def make(bundle, config=None, **kw):
        c = F2TiledCard(config or bundle.manifest["scripts"]["configuration"], **kw)
        lib = FakeFpgaMgmt(c)
        c.lib = lib
        monkeypatch.setattr(libs, "load", lambda path=None: libs.bind(lib))
        return c
    return make


def _inputs(bundle, n, seed=0):
    r = np.random.default_rng(seed)
    return {t["name"]: r.uniform(0, 1, (n, *t["shape"][1:])).astype(np.float32) for t in bundle.manifest["inputs"]}


def _emulated(bundle, x, raw=False):
    with Session(bundle, backend="emulator") as s:
        return s.run(x, raw=raw)


def _equal(got, want):
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet_ds"])
def test_session_on_the_card_model_equals_the_emulator(card, bundles, name):
    b = bundles[name]
    x = _inputs(b, 3)
    c = card(b)
    with Session(b, backend="f2") as s:
        assert s.backend.tiled is not None
        got = s.run(x)
    _equal(got, _emulated(b, x))
    assert c.violations == [] and len(c.starts) == 3  # one ap_start per image
    assert len({tuple(r.values()) for r in c.starts}) == 1  # the same buffers every image
    # weights once, descriptors once, then the arena before every image; the arena read back after each
    assert c.lib.calls.count("fpga_pci_write_burst") == 2 + 3 and c.lib.calls.count("fpga_pci_get_address") == 3


def test_raw_mode_equals_the_csim_backend(card, bundles):
    b = bundles["mnist_cnn"]
    card(b)
    with Session(b, backend="f2") as s, Session(b, backend="csim") as c:
        t = s.qmodel.inputs[0]
        q = t.qparams.qtype
        raw = {t.name: np.random.default_rng(1).integers(q.min, q.max + 1, (4, *t.shape[1:])).astype(q.dtype)}
        _equal(s.run(raw, raw=True), c.run(raw, raw=True))


def test_host_steps_chain_engine_segments(card, bundles):
    b = bundles["alexnet"]
    x = {b.manifest["inputs"][0]["name"]: alexnet_images(2, 5)}
    c = card(b)
    with Session(b, backend="f2") as s:
        got = s.run(x)
    _equal(got, _emulated(b, x))
    assert b.manifest["tiled"]["steps"]["segments"] == 3 and len(c.starts) == 2 * 3 and c.violations == []


def test_a_layer_the_engine_refuses_is_its_status_error(card, bundles):
    b = bundles["resnet_ds"]
    card(b)
    with Session(b, backend="f2") as s:
        words = s.backend.tiled.descriptors.reshape(-1, descriptors.RECORD_WORDS).copy()
        words[2, descriptors.LAYER["tile_tm"]] = 10_000
        s.backend.tiled.descriptors = words.reshape(-1)
        with pytest.raises(EngineStatusError, match=r"tiled engine \(F2\): layer 1 .*status 7, a tile larger") as e:
            s.run(_inputs(b, 1))
    assert (e.value.code, e.value.layer) == (7, 1)


def test_an_afi_of_another_configuration_says_so(card, bundles):
    b = bundles["mnist_cnn"]
    other = {**b.manifest["scripts"]["configuration"], "tm": 2 * b.manifest["scripts"]["configuration"]["tm"]}
    card(b, config=other)
    with Session(b, backend="f2") as s, pytest.raises(EngineStatusError, match="status 2.*another engine configuration"):
        s.run(_inputs(b, 1))


def test_an_engine_that_never_finishes_times_out_and_is_not_started_again(card, bundles):
    b = bundles["mnist_cnn"]
    c = card(b, hang=True)
    with Session(b, backend="f2", timeout=0.5) as s:
        with pytest.raises(SessionTimeout, match="did not finish within 0.45 s"):
            s.run(_inputs(b, 1))
        with pytest.raises(SessionError, match="cannot run any more"):
            s.run(_inputs(b, 1))
        assert "reload the AFI" in s.backend.tiled.wedged  # the driver refuses too, the session aside
    assert len(c.starts) == 1


def test_buffers_above_4_gib_get_both_address_words(card, bundles):
    b = bundles["mnist_cnn"]
    base = (1 << 32) + 0x3000
    c = card(b, mem_bytes=4 << 20, mem_base=base)
    program, words = load_program(b)
    dev = FpgaPci(libs.bind(c.lib))
    engine = TiledF2(program, dev, register_map(), timeout=10.0, descriptors=words, base=base, window=4 << 20)
    with Session(b, backend="emulator") as e:
        q = e.hardware_inputs(_inputs(b, 2))
    _equal(engine.run(q), _emulated(b, q, raw=True))
    assert c.violations == []
    regs = register_map()
    assert all(c.regs[regs[p] + 4] == 1 for p in ("desc", "weights", "acts"))  # the high words
    assert c.regs[regs["weights"]] == 0x3000 and c.regs[regs["acts"]] % 4096 == 0
    dev.close()


def test_a_program_larger_than_the_window_is_refused(card, bundles):
    b = bundles["mnist_cnn"]
    c = card(b)
    program, words = load_program(b)
    with pytest.raises(SessionError, match="bytes of card memory .*more than the 4096 the driver uses"):
        TiledF2(program, FpgaPci(libs.bind(c.lib)), register_map(), descriptors=words, window=4096)


def test_unavailable_says_what_is_missing(bundles, tmp_path, monkeypatch):
    monkeypatch.setenv("FA_FPGA_MGMT_LIB", "/stand-in/libfpga_mgmt.so")
    assert F2Backend.unavailable(bundles["mnist_cnn"]) is None
    bare = fpga_accel.bundle.load_bundle(shutil.copytree(bundles["mnist_cnn"].path, tmp_path / "bare.fpga"))
    (bare.path / "bitstream/afi.json").unlink()
    assert "no AFI record" in F2Backend.unavailable(bare)
    with pytest.raises(BackendUnavailable, match="no AFI record"):
        Session(bare, backend="f2")
    zynq = fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "z.fpga", calib=data.load_calib("mnist_cnn"),
                              progress=False, engine="tiled", board="pynq-z2")
    assert "not compiled for AWS F2" in F2Backend.unavailable(zynq)


@pytest.mark.parametrize("layer, kept", [("host:norm", True), ("host", False)])
def test_a_host_step_result_keeps_the_engine_bytes_in_its_memory_words(card, bundles, layer, kept):
    """A host step's result written as a channel slice (2 of 4 channels a pixel) reaches the card without
    changing the other channels, which the engine wrote: the driver reads the words it touches first.
    The image's inputs are written without that read (every other tensor is written before it is read)."""
    b = bundles["mnist_cnn"]
    c = card(b)
    program, words = load_program(b)
    dev = FpgaPci(libs.bind(c.lib))
    engine = TiledF2(program, dev, register_map(), descriptors=words)
    at = engine.addr["acts"] - c.mem_base
    c.mem[at:at + 256] = b"\xab" * 256  # what the engine left in the card's arena
    view = {"offset": 64, "h": 2, "w": 3, "c": 2, "pixel_stride": 4, "dtype": "uint8"}
    engine._set(layer, engine.weights, engine.acts)
    engine.acts.write(view, 0, 0, 1, np.arange(1, 13).reshape(2, 3, 2))
    engine._flush()
    got = np.frombuffer(c.mem[at + 64:at + 64 + 24], np.uint8).reshape(6, 4)
    np.testing.assert_array_equal(got[:, 1:3], np.arange(1, 13).reshape(6, 2))
    others = np.concatenate([got[:, 0], got[:, 3], np.frombuffer(c.mem[at + 88:at + 128], np.uint8)])
    assert (others == 0xAB).all() if kept else (others == 0).all()
    assert engine.moved["written"] == 64 and engine.moved["read"] == (64 if kept else 0)
    dev.close()


def test_a_register_map_that_is_not_the_engines_is_refused():
    good = {"name": "fa_tiled_top", "registers": {**register_map(), "act_bytes": 0x54}}  # a build's measured map
    assert check_registers(good) == good["registers"]
    for bad in ({**good, "name": "fa_kernel"}, {**good, "registers": {**register_map(), "acts": 0x00}},
                {**good, "registers": {**register_map(), "acts": 0x41}},
                {**good, "registers": {**register_map(), "acts": 0x400}},
                {**good, "registers": {k: v for k, v in register_map().items() if k != "acts"}}):
        with pytest.raises(SessionError, match=r"not the register map of fa_tiled_top .*word offsets in 0x10\.\.0x78"):
            check_registers(bad)


def test_the_bytes_of_a_strided_view_block():
    # element (y, x, ch) at offset + ((y·w + x)·pixel_stride + ch·channel_stride)·itemsize
    v = {"offset": 128, "h": 4, "w": 5, "c": 3, "pixel_stride": 8, "dtype": "int16", "channel_stride": 2}
    assert _span(v, 0, 0, 0, (4, 5, 3)) == (128, 128 + ((3 * 5 + 4) * 8 + 2 * 2 + 1) * 2)
    assert _span(v, 1, 2, 1, (1, 1, 1)) == (128 + ((5 + 2) * 8 + 2) * 2, 128 + ((5 + 2) * 8 + 2 + 1) * 2)
    assert _span({**v, "channel_stride": 1}, 0, 0, 0, (1, 1, 3))[1] == 128 + 3 * 2  # no stride: packed channels
