"""``pynq.Overlay`` and ``pynq.DefaultIP`` over the board model."""
from __future__ import annotations

from pathlib import Path

from .mmio import MMIO


class DefaultIP:
    def __init__(self, description: dict):
        self.description = description
        self.mmio = MMIO(description["phys_addr"], description["addr_range"])

    @property
    def register_map(self):
        return self.description["registers"]

    def read(self, offset: int = 0) -> int:
        return self.mmio.read(offset)

    def write(self, offset: int, value: int) -> None:
        self.mmio.write(offset, value)


class Overlay:
    def __init__(self, bitfile_name: str, download: bool = True, **kwargs):
        import pynq

        from fakes.hwh_read import read_ip_dict

        bit = Path(bitfile_name)
        if not bit.is_file():
            raise OSError(f"Bitstream file {bitfile_name} does not exist.")
        hwh = bit.with_suffix(".hwh")
        if not hwh.is_file():
            raise RuntimeError(f"Unable to find metadata for bitstream ({hwh})")
        self.bitfile_name = str(bit)
        self.ip_dict = read_ip_dict(hwh)
        self._drivers = {}
        pynq.board = None
        if download:
            self.download()

    def download(self) -> None:
        """Program the "PL": a fresh board model computing the model of the bitstream's bundle."""
        import pynq

        from fakes.hw_system import BoardModel
        from fpga_accel.bundle import load_bundle
        from fpga_accel.compiler import load_qmodel

        bundle = load_bundle(Path(self.bitfile_name).parent.parent)
        if "segments" in bundle.manifest:  # one IP per dataflow segment, each computing its segment's model
            from fakes.hw_system import segments_board

            pynq.board = segments_board(self.ip_dict, bundle, **pynq.board_options)
        elif "tiled" in bundle.manifest:  # the tiled engine's design: its IP computes in C simulation
            from fakes.hw_tiled import TiledBoardModel

            pynq.board = TiledBoardModel(self.ip_dict, bundle.manifest, **pynq.board_options)
        else:
            pynq.board = BoardModel(self.ip_dict, bundle.manifest["kernel"]["axis"], load_qmodel(bundle),
                                    uram=bundle.manifest.get("uram_load"), **pynq.board_options)
        self._drivers = {}

    def __getattr__(self, name):
        if name.startswith("_") or name not in self.ip_dict:
            raise AttributeError(f"Could not find IP or hierarchy {name} in overlay")
        if name not in self._drivers:
            desc = self.ip_dict[name]
            if desc["type"].startswith("xilinx.com:ip:axi_dma:"):
                from .lib.dma import DMA

                self._drivers[name] = DMA(desc)
            else:
                self._drivers[name] = DefaultIP(desc)
        return self._drivers[name]
