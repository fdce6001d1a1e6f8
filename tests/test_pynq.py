"""The pynq backend against a register- and DMA-level model of the board (no pynq installed).

The fake ``pynq`` package (tests/fakes/pynq) serves Overlay, MMIO, allocate and the DMA driver
from ``fakes.hw_system.BoardModel``: AXI DMAs with PG021's registers, the streaming IP with
ap_ctrl_hs and TLAST checks, DDR behind a non-coherent cache. The IP computes with the emulator,
so a correct driver reproduces the emulator bit for bit and each driver mistake shows.
"""
from __future__ import annotations

import numpy as np
import pytest
from pynq_util import compile_axis_bundle, drop_pynq, place_overlay, sample_images, use_fake_pynq

from fpga_accel import Session
from fpga_accel.runtime import BackendUnavailable, SessionTimeout
from fpga_accel.runtime.backends.pynq import PynqBackend
from fpga_accel.runtime.pynq_driver import AxisRunner, DmaError, OverlayMismatch, RegisterMapError
from fpga_accel.runtime.pynq_driver.runner import StreamError


@pytest.fixture
def fake_pynq(monkeypatch):
    """``import pynq`` gives the fake package; its board model is ``pynq.board`` once opened."""
    yield use_fake_pynq(monkeypatch)
    drop_pynq()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("pynq")
    return {"mnist_cnn": compile_axis_bundle("mnist_cnn", d / "mnist_cnn.fpga"),
            "resnet_ds": compile_axis_bundle("resnet_ds", d / "resnet_ds.fpga")}


@pytest.fixture(scope="module")
def lanes2(tmp_path_factory):
    """mnist_cnn with 7 elements per input beat and 5 per output beat (56- and 40-bit TDATA on
    64-bit DMAs, through width converters)."""
    return compile_axis_bundle("mnist_cnn", tmp_path_factory.mktemp("lanes") / "m.fpga", lanes={0: 7, 1: 5})


def _reference(bundle, x):
    with Session(bundle, backend="emulator") as s:
        return s.run(x)


def _assert_equal(got, want):
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet_ds"])
def test_session_matches_emulator_on_100_images(fake_pynq, bundles, name):
    b = bundles[name]
    x = sample_images(name, 100)
    with Session(b, backend="pynq") as s:
        got = s.run(x)
        board = fake_pynq.board
    _assert_equal(got, _reference(b, x))
    assert board.violations == []
    assert board.started_with == [100]  # one ap_start, n_images = 100
    # the batch of 100 is one MM2S and one S2MM transfer (TLAST once, at the run's end), receive armed first
    kinds = [t[0] for t in board.transfers]
    assert kinds.count("dma_in0 MM2S") == 1 and kinds.count("dma_out0 S2MM") == 1
    out = next(st for st in b.manifest["kernel"]["axis"]["streams"] if st["name"] == "out0")
    assert [t[2] for t in board.transfers if t[0] == "dma_out0 S2MM"] == [100 * out["beats_per_image"] * out["tdata_bits"] // 8]
    assert kinds[0] == "dma_out0 S2MM"
    assert board.memory.flushes >= 1 and board.memory.invalidates >= 1


def test_several_lanes_per_beat_and_raw_mode(fake_pynq, lanes2):
    x = sample_images("mnist_cnn", 20)
    with Session(lanes2, backend="pynq") as s, Session(lanes2, backend="emulator") as e:
        _assert_equal(s.run(x), e.run(x))
        t = s.qmodel.inputs[0]
        q = t.qparams.qtype
        raw_in = {t.name: np.random.default_rng(0).integers(q.min, q.max + 1, (7,) + tuple(t.shape[1:]))
                  .astype(q.dtype)}
        _assert_equal(s.run(raw_in, raw=True), e.run(raw_in, raw=True))
        assert fake_pynq.board.violations == []
    hwh = (lanes2.path / "bitstream" / "fa_design.hwh").read_text()
    assert hwh.count('MODTYPE="axis_dwidth_converter"') == 2 and 'INSTANCE="width_in0"' in hwh


def test_batches_split_by_dma_transfer_limit(fake_pynq, tmp_path):
    # TLAST once per run: a run is one transfer, so a 12-bit LENGTH (4095 bytes) holds 5 images
    b = compile_axis_bundle("mnist_cnn", tmp_path / "m.fpga", sg_length_width=12)
    x = sample_images("mnist_cnn", 23)
    with Session(b, backend="pynq") as s:
        got = s.run(x)
        board = fake_pynq.board
    _assert_equal(got, _reference(b, x))
    assert board.started_with == [5, 5, 5, 5, 3]
    assert board.violations == []
    assert max(t[2] for t in board.transfers) <= 4095


def test_image_larger_than_dma_transfer_is_refused(fake_pynq, tmp_path, bundles):
    b = bundles["mnist_cnn"]
    place_overlay(b, sg_length_width=9)  # 511 bytes < 784-byte image
    try:
        with pytest.raises(DmaError, match=r"784 bytes per image.*c_sg_length_width"):
            Session(b, backend="pynq")
    finally:
        place_overlay(b)


def test_register_map_mismatch_is_refused(fake_pynq, bundles):
    b = bundles["mnist_cnn"]
    place_overlay(b, registers={"n_images": 0x18})
    try:
        with pytest.raises(RegisterMapError, match=r"'n_images' is at 0x18 in the \.hwh but at 0x10 in the manifest"):
            Session(b, backend="pynq")
    finally:
        place_overlay(b)


def test_bitstream_built_for_another_bundle_is_refused(fake_pynq, bundles):
    from fpga_accel.bundle_bitstream import RECORD
    from fpga_accel.flow.bitstream_registry import write_record

    b = bundles["mnist_cnn"]
    place_overlay(b)
    other = {**b.manifest, "board": {**b.manifest["board"], "clock_mhz": 125.0}}
    write_record(b.path, other, ["fa_design.bit", "fa_design.hwh"], {"family": "zynq"})
    try:
        with pytest.raises(BackendUnavailable, match=r"does not belong to this bundle: built for board "
                                                     r"clock_mhz 125\.0, the bundle has 100\.0"):
            Session(b, backend="pynq")
        write_record(b.path, b.manifest, ["fa_design.bit", "fa_design.hwh"], {"family": "zynq"})
        with Session(b, backend="pynq") as s:  # the record of this very bundle: accepted
            assert s.run(sample_images("mnist_cnn", 3))
    finally:
        (b.path / RECORD).unlink()


def test_missing_dma_is_refused(fake_pynq, bundles):
    b = bundles["mnist_cnn"]
    hwh = b.path / "bitstream" / "fa_design.hwh"
    hwh.write_text(hwh.read_text().replace("dma_out0", "axi_dma_1"))
    try:
        with pytest.raises(OverlayMismatch, match="no instance called 'dma_out0'"):
            Session(b, backend="pynq")
    finally:
        place_overlay(b)


def test_unavailable_reasons(bundles, tmp_path):
    b = bundles["mnist_cnn"]
    assert "pynq is not installed" in PynqBackend.unavailable(b)  # the dev machine has no pynq
    bare = compile_axis_bundle("mnist_cnn", tmp_path / "bare.fpga")
    for f in (bare.path / "bitstream").iterdir():
        f.unlink()
    assert "no bitstream" in PynqBackend.unavailable(bare)


# --- driver mistakes the model catches ------------------------------------------------------

def _run_wrong(bundle, x, timeout=0.5):
    with Session(bundle, backend="pynq", timeout=timeout) as s:
        return s.run(x)


def test_missing_flush_sends_stale_memory(fake_pynq, bundles, monkeypatch):
    monkeypatch.setattr(AxisRunner, "_flush", lambda self, view: None)
    b, x = bundles["mnist_cnn"], sample_images("mnist_cnn", 10)
    got = next(iter(_run_wrong(b, x).values()))
    assert fake_pynq.board.memory.flushes == 0  # the DMA read DDR as it was: zeros, not the images
    assert not np.array_equal(got, next(iter(_reference(b, x).values())))


def test_missing_invalidate_reads_the_cache(fake_pynq, bundles, monkeypatch):
    monkeypatch.setattr(AxisRunner, "_invalidate", lambda self, view: None)
    b, x = bundles["mnist_cnn"], sample_images("mnist_cnn", 10)
    got = next(iter(_run_wrong(b, x).values()))
    assert not np.array_equal(got, next(iter(_reference(b, x).values())))


def test_send_waited_on_before_receive_is_armed_times_out(fake_pynq, bundles, monkeypatch):
    """The classic deadlock: send everything and wait for it, then arm the receive. The IP stops
    taking input once its output FIFO is full, so the send never completes."""
    def kick(self, queues, k):
        self.ip.write(self.n_off, k)
        self.ip.write(0, 1)
        send = next(lay for lay in self.layouts if lay.direction == "in")
        ch = self.channels[send.name]
        import time
        end = time.monotonic() + 0.3
        while queues[send.name] or ch.busy:
            if not ch.busy:
                self._next(send, queues)
            ch.poll()
            if time.monotonic() > end:
                raise SessionTimeout("send never completed")
        for lay in self.layouts:
            if lay.direction == "out":
                self._next(lay, queues)

    monkeypatch.setattr(AxisRunner, "_kick", kick)
    with pytest.raises(SessionTimeout):
        _run_wrong(bundles["mnist_cnn"], sample_images("mnist_cnn", 10))
    sent = [t for t in fake_pynq.board.transfers if t[0] == "dma_in0 MM2S"]
    assert 0 < len(sent) < 10  # stalled part way
    assert fake_pynq.board.violations == []


@pytest.mark.parametrize("delta", [-1, +1])
def test_wrong_n_images_is_caught(fake_pynq, bundles, monkeypatch, delta):
    """Too few images: the run's TLAST comes one image early and the short S2MM transfer says so;
    too many: the S2MM transfer fills without a TLAST, which the DMA reports as an internal error."""
    kick = AxisRunner._kick
    monkeypatch.setattr(AxisRunner, "_kick", lambda self, queues, k: kick(self, queues, k + delta))
    with (pytest.raises(DmaError, match="longer than the transfer") if delta > 0 else
          pytest.raises(StreamError, match="TLAST came early")):
        _run_wrong(bundles["mnist_cnn"], sample_images("mnist_cnn", 6))
    assert fake_pynq.board.started_with == [6 + delta]


def test_one_send_per_image_works_too(fake_pynq, bundles, monkeypatch):
    """The IP ignores input TLAST (axis_io.h), so the per-image sends of earlier drivers give the
    same results: the batched send changes the host's cost, not the data."""
    monkeypatch.setattr(AxisRunner, "one_transfer", staticmethod(lambda lay: lay.direction == "out"))
    b, x = bundles["mnist_cnn"], sample_images("mnist_cnn", 6)
    with Session(b, backend="pynq") as s:
        got = s.run(x)
        board = fake_pynq.board
    _assert_equal(got, _reference(b, x))
    assert [t[0] for t in board.transfers].count("dma_in0 MM2S") == 6 and board.violations == []


def test_wrong_lane_order_in_a_beat_gives_wrong_results(fake_pynq, lanes2, monkeypatch):
    from fpga_accel.runtime.pynq_driver import StreamLayout

    pack = StreamLayout.pack

    def swapped(self, x):  # lane 0 in the high byte: the bug of packing big-endian
        raw = pack(self, x)
        return raw.reshape(raw.shape[0], -1, self.beat_bytes)[:, :, ::-1].reshape(raw.shape)

    monkeypatch.setattr(StreamLayout, "pack", swapped)
    x = sample_images("mnist_cnn", 10)
    got = next(iter(_run_wrong(lanes2, x).values()))
    assert not np.array_equal(got, next(iter(_reference(lanes2, x).values())))


def test_short_output_packet_is_reported(fake_pynq, bundles, monkeypatch):
    """An IP whose images are shorter (a bitstream of another bundle): the run's one S2MM
    transfer ends at TLAST short of the 2 x 10 bytes the manifest gives."""
    import fakes.hw_ip

    encode = fakes.hw_ip.encode
    monkeypatch.setattr(fakes.hw_ip, "encode", lambda x, s: encode(x, s)[:-1])
    from fpga_accel.runtime.pynq_driver import StreamError

    with pytest.raises(StreamError, match=r"stream 'out0' \(dma_out0 S2MM\) delivered 18 bytes where 20 were"):
        _run_wrong(bundles["mnist_cnn"], sample_images("mnist_cnn", 2))


# --- timeouts and errors --------------------------------------------------------------------

def test_hung_ip_times_out_and_later_runs_are_refused(fake_pynq, bundles):
    from fpga_accel.runtime import SessionError

    b, x = bundles["mnist_cnn"], sample_images("mnist_cnn", 3)
    with Session(b, backend="pynq", timeout=0.3) as s:
        fake_pynq.board.ip.step = lambda: False  # the IP never moves
        with pytest.raises(SessionTimeout):
            s.run(x)
        with pytest.raises(SessionError):
            s.run(x)
    with Session(b, backend="pynq", timeout=0.3) as s:  # the driver's own diagnosis, and its refusal
        fake_pynq.board.ip.step = lambda: False
        t = s.qmodel.inputs[0]
        q = {t.name: np.zeros((3,) + tuple(t.shape[1:]), t.qparams.qtype.dtype)}
        with pytest.raises(SessionTimeout, match=r"did not finish a run of 3 images.*ap_done not seen; "
                                                 r"in0 \(dma_in0 MM2S\): 0/1 transfers done, one in flight"):
            s.backend.run_raw(q)
        with pytest.raises(SessionError, match="left the accelerator busy"):
            s.backend.run_raw(q)
    with Session(b, backend="pynq", timeout=0.3) as s:  # a new session downloads the overlay again
        _assert_equal(s.run(x), _reference(b, x))


def test_dma_error_is_reported_and_cleared(fake_pynq, bundles, monkeypatch):
    b, x = bundles["mnist_cnn"], sample_images("mnist_cnn", 5)
    nxt = AxisRunner._next
    calls = {"n": 0}

    def bad_address_once(self, lay, queues):
        if calls["n"] == 0 and lay.direction == "out":
            calls["n"] += 1
            queues[lay.name].popleft()
            self._expect[lay.name] = lay.image_bytes
            ch = self.channels[lay.name]
            ch.mmio.write(ch.base + 0x18, 0x0100_0000)  # nothing is mapped there
            ch.mmio.write(ch.base + 0x28, lay.image_bytes)
            ch.busy = True
            return
        nxt(self, lay, queues)

    from fpga_accel.runtime import SessionError

    with Session(b, backend="pynq", timeout=1.0) as s:
        monkeypatch.setattr(AxisRunner, "_next", bad_address_once)
        with pytest.raises(DmaError, match=r"dma_out0 S2MM reported decode error"):
            s.run(x)
        monkeypatch.setattr(AxisRunner, "_next", nxt)
        dmasr = fake_pynq.board.dmas["out0"].s2mm.sr
        assert dmasr & 0x71 == 0  # the soft reset cleared the error and the channel runs again
        with pytest.raises(SessionError, match="left the accelerator busy"):  # the IP holds half a run
            s.run(x)
    with Session(b, backend="pynq", timeout=1.0) as s:
        _assert_equal(s.run(x), _reference(b, x))


# --- the model against pynq's own DMA API ---------------------------------------------------

@pytest.mark.parametrize("send_first", [False, True])
def test_model_serves_pynq_style_dma_calls(fake_pynq, bundles, send_first):
    """pynq's documented usage on the model. Starting the send before arming the receive is fine
    as long as nothing waits on the send first (pynq's own examples do it), and the model agrees."""
    b = bundles["mnist_cnn"]
    ol = fake_pynq.Overlay(str(b.path / "bitstream" / "fa_design.bit"))
    ip, din, dout = ol.fa_axis_0, ol.dma_in0, ol.dma_out0
    t_in = fake_pynq.board.ip.qmodel.inputs[0]
    q = np.random.default_rng(1).integers(t_in.qparams.qtype.min, t_in.qparams.qtype.max + 1,
                                          (1,) + tuple(t_in.shape[1:])).astype(t_in.qparams.qtype.dtype)
    with Session(b, backend="emulator") as e:
        want = e.run({t_in.name: q}, raw=True)
    src = fake_pynq.allocate((784,), np.uint8)
    dst = fake_pynq.allocate((10,), np.uint8)
    src[:] = q.reshape(-1).view(np.uint8)
    ip.write(0x10, 1)
    if send_first:
        din.sendchannel.transfer(src)
        dout.recvchannel.transfer(dst)
    else:
        dout.recvchannel.transfer(dst)
        din.sendchannel.transfer(src)
    ip.write(0x00, 1)
    din.sendchannel.wait()
    dout.recvchannel.wait()
    assert dout.recvchannel.transferred == 10
    assert ip.read(0x00) & 0x2  # ap_done, then cleared on read
    assert not ip.read(0x00) & 0x2
    np.testing.assert_array_equal(np.asarray(dst).view(np.int8), next(iter(want.values())).reshape(-1))
    assert fake_pynq.board.violations == []
