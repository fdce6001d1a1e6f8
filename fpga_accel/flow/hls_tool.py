"""Which Vitis HLS the hls step drives: ``v++ -c --mode hls`` (Vitis 2024.2 and later) or ``vitis_hls``.

Vitis 2024.2 removed the ``vitis_hls`` executable; HLS runs through ``v++ -c --mode hls --config
FILE`` (or ``vitis-run --mode hls --tcl FILE``). Older releases keep ``vitis_hls -f``. Every bundle
holds both inputs (``hls/hls_config.cfg`` and ``hls/run_hls.tcl``); :func:`choose_hls_tool` picks
the tool from what is installed and the release it reports (``v++ --version``, ``vitis_hls
-version``, else the release in the install path or in ``$XILINX_HLS`` / ``$XILINX_VITIS``).
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

from .errors import BuildError
from .tools import find_tool

#: the first release without vitis_hls, whose HLS runs through v++ -c --mode hls
UNIFIED = (2024, 2)
CHOICES = ("auto", "v++", "vitis_hls")
_RELEASE = re.compile(r"(?<![\d.])v?(20\d\d)\.(\d)(?![\d])")
_VERSION_FLAG = {"v++": "--version", "vitis_hls": "-version"}
_HOMES = {"v++": ("XILINX_VITIS",), "vitis_hls": ("XILINX_HLS", "XILINX_VITIS")}


@dataclass
class HlsTool:
    name: str                 # "v++" or "vitis_hls": the executable the hls step runs
    path: str | None          # where it was found (None: not installed; the step reports it missing)
    release: str | None       # e.g. "2024.2", None when no release could be read
    why: str                  # one line on how it was chosen, for the progress output and the record

    def to_dict(self) -> dict:
        return {"tool": self.name, "release": self.release, "why": self.why}


def parse_release(text: str) -> str | None:
    """The first AMD release (``2023.2``, ``2025.1``) in a banner, version output or install path."""
    m = _RELEASE.search(text or "")
    return f"{m.group(1)}.{m.group(2)}" if m else None


def release_key(release: str | None) -> tuple[int, int] | None:
    if not release:
        return None
    year, _, minor = release.partition(".")
    try:
        return int(year), int(minor)
    except ValueError:
        return None


def tool_release(name: str, path: str, env: dict, timeout: float = 120.0) -> str | None:
    """The release of the tool at ``path``: its version output, else its install path, else the
    release in its home variable."""
    try:
        proc = subprocess.run([path, _VERSION_FLAG[name]], capture_output=True, text=True, timeout=timeout,
                              env=env, check=False, stdin=subprocess.DEVNULL)
        found = parse_release(proc.stdout + "\n" + proc.stderr)
    except (OSError, subprocess.SubprocessError):
        found = None
    if found:
        return found
    found = parse_release(os.path.realpath(path))
    if found:
        return found
    for var in _HOMES[name]:
        found = parse_release(env.get(var, ""))
        if found:
            return found
    return None


def choose_hls_tool(choice: str = "auto", env: dict | None = None) -> HlsTool:
    """The HLS tool for ``choice`` (``auto``, ``v++``, ``vitis_hls``).

    ``auto``: ``v++`` when it reports 2024.2 or later; else ``vitis_hls`` when installed; else
    ``v++`` when installed (its release unknown or older); else ``vitis_hls`` (missing, so the
    build says how to get Vitis)."""
    env = dict(os.environ) if env is None else env
    if choice not in CHOICES:
        raise BuildError(f"--hls-tool {choice!r}: choose one of {', '.join(CHOICES)}")
    if choice != "auto":
        path = find_tool(choice, env)
        release = tool_release(choice, path, env) if path else None
        return HlsTool(choice, path, release, f"{choice} chosen with --hls-tool")
    vpp = find_tool("v++", env)
    vpp_release = tool_release("v++", vpp, env) if vpp else None
    key = release_key(vpp_release)
    if vpp and key and key >= UNIFIED:
        return HlsTool("v++", vpp, vpp_release, f"v++ {vpp_release} (2024.2 or later: HLS through v++ -c --mode hls)")
    hls = find_tool("vitis_hls", env)
    if hls:
        release = tool_release("vitis_hls", hls, env)
        return HlsTool("vitis_hls", hls, release, f"vitis_hls {release or '(release unknown)'} on PATH"
                       + (f"; v++ is {vpp_release}" if vpp_release else ""))
    if vpp:
        return HlsTool("v++", vpp, vpp_release, f"v++ {vpp_release or '(release unknown)'}, no vitis_hls installed")
    return HlsTool("vitis_hls", None, None, "neither v++ nor vitis_hls is installed")
