"""The Vivado release of a .hwh against the PYNQ that will parse it, shared by the build (warns
when it builds) and the pynq backend (warns when it loads).

PYNQ's metadata parser is built for the .hwh of the Vivado release its image was made with; a
.hwh from a newer release may not load. Known pairs, from the PYNQ changelogs: PYNQ 3.1.0 images
were built with Vivado 2024.1, PYNQ 4.0.0 with Vivado 2025.2. Nothing here imports pynq or the
build flow.
"""
from __future__ import annotations

import re
import warnings

#: PYNQ release (major.minor) -> the Vivado release its images were built with
PYNQ_VIVADO = {"3.1": "2024.1", "4.0": "2025.2"}
_RELEASE = re.compile(r"(20\d\d)\.(\d)")


class HwhVersionWarning(UserWarning):
    """The .hwh comes from a Vivado newer than the PYNQ that loads it was built for."""


def release_key(text) -> tuple[int, int] | None:
    m = _RELEASE.search(str(text or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def vivado_of_pynq(pynq_version) -> str | None:
    """The Vivado release of a PYNQ version (``3.1.2`` -> ``2024.1``), or None when not known."""
    m = re.match(r"(\d+)\.(\d+)", str(pynq_version or ""))
    return PYNQ_VIVADO.get(f"{m.group(1)}.{m.group(2)}") if m else None


def newer_than_image(vivado, vivado_max, pynq_image, board: str) -> str | None:
    """The warning text when the ``vivado`` release is newer than ``vivado_max``, else None."""
    have, limit = release_key(vivado), release_key(vivado_max)
    if have is None or limit is None or have <= limit:
        return None
    image = f"PYNQ {pynq_image}" if pynq_image else "the PYNQ"
    return (f"the .hwh was written by Vivado {have[0]}.{have[1]}, newer than {vivado_max}, the release {image} on "
            f"{board} was built with; its .hwh parser may fail to load the overlay. Build with Vivado {vivado_max} "
            f"or older, or run a PYNQ image built with Vivado {have[0]}.{have[1]} or later")


def check_overlay_release(record: dict | None, board: dict | None, pynq_version=None) -> str | None:
    """At load time: warn (:class:`HwhVersionWarning`) and return the text when the bitstream
    record's Vivado is newer than the running pynq was built for (or, when that pynq version is
    not known here, than the board file's ``vivado_max``)."""
    vivado = ((record or {}).get("tools") or {}).get("vivado")
    board = board or {}
    limit, image = vivado_of_pynq(pynq_version), (f"{pynq_version}" if pynq_version else None)
    if limit is None:
        limit, image = board.get("vivado_max"), board.get("pynq_image")
    text = newer_than_image(vivado, limit, image, board.get("name") or "this board")
    if text:
        warnings.warn(text, HwhVersionWarning, stacklevel=2)
    return text
