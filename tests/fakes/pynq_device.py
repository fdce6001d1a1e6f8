"""An emulated board for the REAL pynq package: a ``pynq.pl_server.device.Device`` subclass.

Registered the way pynq registers its own devices (a ``_probe_`` classmethod and a unique
``_probe_priority_``, picked up by ``DeviceMeta``), it serves what ``EmbeddedDevice`` serves on
a Zynq board, from the register/DMA model of ``fakes.hw_system``:

* ``get_bitfile_metadata``: the .hwh parsed by pynqmetadata's ``Metadata`` and pynq's
  ``RuntimeMetadataParser`` — the parser pynq 3.x uses on the board for a full bitstream;
* ``download``: "programs" the PL by building the board model of the bundle the bitstream
  belongs to, then pynq's ``post_download`` bookkeeping;
* ``read_registers`` / ``write_registers`` (capability ``REGISTER_RW``): every ``MMIO`` access;
* ``allocate`` / ``flush`` / ``invalidate``: ``PynqBuffer`` arrays whose physical address is in
  the model's DDR, the array itself playing the CPU cache.

It needs numpy < 2 (pynq's PynqBuffer sets ``self.device``) and is imported only inside the venv
that ``.ci/pynq_env.sh`` creates. ``PsClocks`` stands in for the SLCR / CRL_APB clock registers
that ``Overlay.download`` programs (pynq refuses them off-board).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from pynq.buffer import PynqBuffer
from pynq.pl_server.device import Device

from fakes.hw_system import BoardModel


class PsClocks:
    """The PS's PL clock generators: records what pynq programs (src PLL / div0 / div1)."""

    def __init__(self, pll_mhz: float):
        self.pll_mhz, self.set = pll_mhz, {}

    def set_pl_clk(self, clk_idx, div0=None, div1=None, clk_mhz=None):
        self.set[clk_idx] = (div0, div1, clk_mhz)

    def get_pl_clk(self, clk_idx):
        div0, div1, mhz = self.set.get(clk_idx, (None, None, None))
        return mhz if mhz else self.pll_mhz / (div0 * div1)


class EmulatedZynq(Device):
    _probe_priority_ = 7

    @classmethod
    def _probe_(cls):
        return [cls()]

    def __init__(self):
        super().__init__("emulated-zynq")
        self.name = "emulated-zynq"
        self.capabilities = {"REGISTER_RW": True}
        self.board: BoardModel | None = None
        self.board_options: dict = {}
        self.bitfile_name = None
        self.timestamp = ""
        self._bos: dict[int, tuple[np.ndarray, int]] = {}

    # --- metadata and download ----------------------------------------------------------------
    def get_bitfile_metadata(self, bitfile_name, partial: bool = False):
        from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
        from pynqmetadata.frontends import Metadata

        hwh = Path(bitfile_name).with_suffix(".hwh")
        if not hwh.is_file():
            raise RuntimeError(f"Unable to find metadata for bitstream {bitfile_name}")
        return RuntimeMetadataParser(Metadata(input=hwh))

    def download(self, bitstream, parser=None):
        from fpga_accel.bundle import load_bundle
        from fpga_accel.compiler import load_qmodel

        bundle = load_bundle(Path(bitstream.bitfile_name).parent.parent)
        if "segments" in bundle.manifest:  # one IP per dataflow segment
            from fakes.hw_system import segments_board

            self.board = segments_board(dict(parser.ip_dict), bundle, **self.board_options)
        elif "tiled" in bundle.manifest:  # the tiled engine's design: its IP computes in C simulation
            from fakes.hw_tiled import TiledBoardModel

            self.board = TiledBoardModel(dict(parser.ip_dict), bundle.manifest, **self.board_options)
        else:
            self.board = BoardModel(dict(parser.ip_dict), bundle.manifest["kernel"]["axis"], load_qmodel(bundle),
                                    **self.board_options)
        self._bos.clear()
        self.downloads = getattr(self, "downloads", 0) + 1
        self.post_download(bitstream, parser, self.name)

    def gen_cache(self, bitstream, parser=None):
        pass

    # --- registers ----------------------------------------------------------------------------
    def read_registers(self, address, length):
        if length != 4 or address % 4:
            raise MemoryError(f"register read of {length} bytes at {address:#x}: AXI-Lite is 32-bit")
        return self.board.read(address).to_bytes(4, "little")

    def write_registers(self, address, data):
        if len(data) % 4 or address % 4:
            raise MemoryError(f"register write of {len(data)} bytes at {address:#x}: AXI-Lite is 32-bit")
        for i in range(0, len(data), 4):
            self.board.write(address + i, int.from_bytes(data[i:i + 4], "little"))

    # --- memory -------------------------------------------------------------------------------
    def allocate(self, shape, dtype, **kwargs):
        host = np.zeros(shape, dtype)
        phys = self.board.memory.allocate(host.nbytes)
        bo = len(self._bos) + 1
        self._bos[bo] = (host, phys)
        return PynqBuffer(shape, dtype, buffer=host, device_address=phys, bo=bo, coherent=False, device=self)

    def _span(self, bo, offset, vaddr, nbytes):
        host, phys = self._bos[bo]
        return host.reshape(-1).view(np.uint8)[offset:offset + nbytes], phys + offset

    def flush(self, bo, offset, vaddr, nbytes):
        cache, phys = self._span(bo, offset, vaddr, nbytes)
        self.board.memory.write(phys, cache.tobytes())
        self.board.memory.flushes += 1

    def invalidate(self, bo, offset, vaddr, nbytes):
        cache, phys = self._span(bo, offset, vaddr, nbytes)
        cache[:] = np.frombuffer(self.board.memory.read(phys, nbytes), np.uint8)
        self.board.memory.invalidates += 1

    @property
    def default_memory(self):
        return self
