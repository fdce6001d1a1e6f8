"""The AWS F2 host side: ``libfpga_mgmt`` through ctypes (:mod:`.libs`) and the ``fa_kernel``
run sequence over its registers and the card's memory (:mod:`.runner`). Nothing here imports a
vendor package; the library is loaded only when the f2 backend opens."""
from .libs import FpgaLibError, FpgaPci, library_path, load
from .runner import KernelRunner

__all__ = ["FpgaLibError", "FpgaPci", "KernelRunner", "library_path", "load"]
