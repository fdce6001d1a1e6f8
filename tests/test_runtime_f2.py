"""The f2 backend against a register/memory model of the F2 card (tests/fakes/f2_card.py) behind a
stand-in for libfpga_mgmt, and its ctypes bindings against a C library with fpga_pci.h's signatures.

The model computes with the emulator and decodes the buffers from the manifest itself, so these
tests check the host side: buffer layout in card memory, register offsets and 64-bit addresses,
the ap_ctrl_hs handshake, batching, the AFI check, timeouts and the messages when something is
missing. Nothing here ran on an F2 instance.
"""
from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes.f2_card import F2Card, FakeFpgaMgmt

import fpga_accel
from fpga_accel import Session
from fpga_accel.bundle_model import load_qmodel
from fpga_accel.runtime import BackendUnavailable, SessionTimeout
from fpga_accel.runtime.backends.f2 import F2Backend
from fpga_accel.runtime.f2_driver import FpgaPci, libs, runner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models"))
AGFI = "agfi-0fa4f2000000000f"


def compile_f2(name: str, out: Path):
    import data

    b = fpga_accel.compile(data.model_path(name), out, board="aws-f2", calib=data.load_calib(name), progress=False)
    (b.path / "bitstream").mkdir(exist_ok=True)
    (b.path / "bitstream/afi.json").write_text(json.dumps({"afi_id": "afi-0fa4f2000000000f", "agfi_id": AGFI}))
    return b


def images(name: str, n: int):
    import data

    x = data.load_test(name)
    x = x[0] if isinstance(x, tuple) else x
    return x[:n]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("f2")
    return {n: compile_f2(n, d / f"{n}.fpga") for n in ("mnist_cnn", "resnet_ds")}


@pytest.fixture
def card(monkeypatch):
    """Installs the stand-in library; ``card(bundle, **options)`` makes the card the next session opens."""
    monkeypatch.setenv("FA_FPGA_MGMT_LIB", "/stand-in/libfpga_mgmt.so")
    made = {}

    def make(bundle, **kw):
        made["card"] = F2Card(bundle.manifest, load_qmodel(bundle), **kw)
        made["lib"] = FakeFpgaMgmt(made["card"])
        monkeypatch.setattr(libs, "load", lambda path=None: libs.bind(made["lib"]))
        return made["card"]
    return make


def _emulated(bundle, x):
    with Session(bundle, backend="emulator") as s:
        return s.run(x)


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet_ds"])
def test_session_matches_emulator(card, bundles, name):
    b, x = bundles[name], images(name, 40)
    c = card(b)
    with Session(b, backend="f2") as s:
        got = s.run(x)
    want = _emulated(b, x)
    assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)
    assert c.violations == [] and c.starts == [40]
    # per run: 2 address words per buffer, n_images, ap_start; CTRL read for idle and for done
    n_buf = sum(a["kind"] == "m_axi" for a in b.manifest["kernel"]["args"])
    assert c.reg_writes == 2 * n_buf + 2 and c.reg_reads == 2


def test_buffers_above_4_gib_get_both_address_words(card, bundles, monkeypatch):
    b, x = bundles["mnist_cnn"], images("mnist_cnn", 5)
    base = (1 << 32) + 0x2000
    c = card(b, mem_bytes=1 << 20, mem_base=base)  # the model holds the card's memory from there
    monkeypatch.setattr(runner, "DEFAULT_WINDOW", 1 << 20)
    orig = runner.KernelRunner.__init__
    monkeypatch.setattr(runner.KernelRunner, "__init__", lambda self, *a, **k: orig(self, *a, **{**k, "base": base}))
    with Session(b, backend="f2") as s:
        got = s.run(x)
    assert all(np.array_equal(got[k], v) for k, v in _emulated(b, x).items()) and c.violations == []
    ptr = next(a for a in b.manifest["kernel"]["args"] if a["kind"] == "m_axi")
    assert c.regs[ptr["offset"] + 4] == 1 and c.regs[ptr["offset"]] == 0x2000


def test_batch_larger_than_the_memory_window_is_split(card, bundles, monkeypatch):
    b, x = bundles["mnist_cnn"], images("mnist_cnn", 23)
    c = card(b)
    # 10 images: 7,840 input bytes in two 4 KiB pages, then 100 output bytes in one 64-byte word; 11 do not fit
    monkeypatch.setattr(runner, "DEFAULT_WINDOW", 2 * 4096 + 128)
    with Session(b, backend="f2") as s:
        assert s.backend.max_batch == 10
        got = s.run(x)
    assert all(np.array_equal(got[k], v) for k, v in _emulated(b, x).items())
    assert c.starts == [10, 10, 3] and c.violations == []


def test_another_afi_in_the_slot_is_refused(card, bundles):
    card(bundles["mnist_cnn"], ids=(0x1D0F, 0xF001))
    with pytest.raises(BackendUnavailable, match=r"slot 0 holds PCI IDs 1d0f:f001, not the bundle's CL \(1d0f:f0fa\): "
                                                 rf"load its AFI with `sudo fpga-load-local-image -S 0 -I {AGFI}`"):
        Session(bundles["mnist_cnn"], backend="f2")


def test_kernel_that_never_finishes_times_out(card, bundles):
    c = card(bundles["mnist_cnn"], hang=True)
    with Session(bundles["mnist_cnn"], backend="f2", timeout=0.5) as s, pytest.raises(SessionTimeout):
        s.run(images("mnist_cnn", 3))
    assert c.starts == [3]


def test_unavailable_says_what_is_missing(bundles, tmp_path, monkeypatch):
    b = bundles["mnist_cnn"]
    monkeypatch.delenv("FA_FPGA_MGMT_LIB", raising=False)
    monkeypatch.setattr(libs.ctypes.util, "find_library", lambda name: None)
    assert "libfpga_mgmt is not installed" in F2Backend.unavailable(b)
    bare = fpga_accel.bundle.load_bundle(shutil.copytree(b.path, tmp_path / "bare.fpga"))
    (bare.path / "bitstream/afi.json").unlink()
    assert "no AFI record" in F2Backend.unavailable(bare) and "fpga-load-local-image" in F2Backend.unavailable(bare)
    with pytest.raises(BackendUnavailable, match="no AFI record"):
        Session(bare, backend="f2")


def test_other_boards_are_not_f2(tmp_path):
    import data

    b = fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "z.fpga", board="pynq-z2",
                           calib=data.load_calib("mnist_cnn"), progress=False)
    assert "not compiled for AWS F2" in F2Backend.unavailable(b)


STUB_C = r"""
#include <stdint.h>
#include <string.h>
static uint32_t regs[64]; static uint8_t mem[1 << 16]; static int inited;
int fpga_mgmt_init(void) { inited = 1; return 0; }
int fpga_pci_attach(int slot, int pf, int bar, uint32_t flags, int *handle) {
    if (!inited || slot != 0 || pf != 0) return -1; *handle = bar * 10 + (int)flags; return 0; }
int fpga_pci_detach(int handle) { return handle < 0; }
int fpga_pci_peek(int h, uint64_t off, uint32_t *v) { if (h != 0 || off >= 256) return -1; *v = regs[off / 4]; return 0; }
int fpga_pci_poke(int h, uint64_t off, uint32_t v) { if (h != 0 || off >= 256) return -1; regs[off / 4] = v; return 0; }
int fpga_pci_write_burst(int h, uint64_t off, uint32_t *d, uint64_t n) {
    if (h != 41 || off + 4 * n > sizeof mem) return -1; memcpy(mem + off, d, 4 * n); return 0; }
int fpga_pci_get_address(int h, uint64_t off, uint64_t n, void **p) {
    if (h != 41 || off + 4 * n > sizeof mem) return -1; *p = mem + off; return 0; }
struct map { uint16_t vendor_id, device_id, subsystem_device_id, subsystem_vendor_id; };
int fpga_pci_get_resource_map(int slot, int pf, struct map *m) {
    if (slot != 0 || pf != 0) return -1; m->vendor_id = 0x1D0F; m->device_id = 0xF0FA; return 0; }
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_ctypes_bindings_against_a_c_library(tmp_path):
    """The bindings' argument types against C functions declared as fpga_pci.h declares them:
    handles, 64-bit offsets, out-parameters and buffers cross the ctypes boundary intact."""
    src = tmp_path / "stub.c"
    src.write_text(STUB_C)
    lib = tmp_path / "libfpga_mgmt_stub.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)], check=True)
    dev = FpgaPci(libs.load(str(lib)))
    assert (dev.regs, dev.mem) == (0, 41)  # BAR0 plain, BAR4 burst-capable
    dev.poke(0x1C, 0xDEADBEEF)
    assert dev.peek(0x1C) == 0xDEADBEEF
    data = bytes(range(256)) * 3
    dev.write(0x1000, data)
    assert dev.read(0x1000, len(data)) == data and dev.read(0x1004, 6) == data[4:10]
    assert dev.pci_ids() == (0x1D0F, 0xF0FA)
    with pytest.raises(libs.FpgaLibError, match="fpga_pci_peek failed on slot 0"):
        dev.peek(0x400)
    with pytest.raises(libs.FpgaLibError, match="fpga_pci_get_address failed"):
        dev.read(1 << 16, 4)
    dev.close()
    assert ctypes  # the module under test loads the library with ctypes.CDLL
