"""Which Vitis HLS the hls step drives: ``v++ -c --mode hls`` (Vitis 2024.2 and later) or ``vitis_hls``.

Vitis 2024.2 removed the ``vitis_hls`` executable; HLS runs through ``v++ -c --mode hls --config
FILE`` (or ``vitis-run --mode hls --tcl FILE``). Older releases keep ``vitis_hls -f``. Every bundle
holds both inputs (``hls/hls_config.cfg`` and ``hls/run_hls.tcl``); :func:`choose_hls_tool` picks
the tool from what is installed and the release v++ reports (``v++ --version``, else the release
in its install path or in ``$XILINX_VITIS``). Only that one version query runs, and only when both
tools are installed: a forced choice, or a single tool, runs nothing before the step (the release
then comes from the install path here and from the tool's log banner afterwards).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..procs import run_bounded
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


def tool_release(name: str, path: str, env: dict, timeout: float | None = 60.0) -> str | None:
    """The release of the tool at ``path``: its version output (asked in its own process group,
    stopped after ``timeout`` seconds or on Ctrl-C; None: do not run it), else its install path,
    else the release in its home variable."""
    found = None
    if timeout is not None:
        try:
            found = parse_release(run_bounded([path, _VERSION_FLAG[name]], timeout, env=env).output)
        except OSError:
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
        release = tool_release(choice, path, env, timeout=None) if path else None
        return HlsTool(choice, path, release, f"{choice} chosen with --hls-tool or FA_HLS_TOOL")
    vpp, hls = find_tool("v++", env), find_tool("vitis_hls", env)
    if vpp and hls:  # an older vitis_hls may sit on PATH beside a newer v++: the release decides
        vpp_release = tool_release("v++", vpp, env)
        key = release_key(vpp_release)
        if key and key >= UNIFIED:
            return HlsTool("v++", vpp, vpp_release, f"v++ {vpp_release} (2024.2 or later: HLS through v++ -c --mode hls)")
        release = tool_release("vitis_hls", hls, env, timeout=None)
        return HlsTool("vitis_hls", hls, release, f"vitis_hls {release or '(release unknown)'}; v++ reports "
                       f"{vpp_release or 'no release'}, before 2024.2")
    if vpp:
        release = tool_release("v++", vpp, env, timeout=None)
        return HlsTool("v++", vpp, release, f"v++ {release or '(release unknown)'}, no vitis_hls installed "
                       "(2024.2 and later have none): HLS through v++ -c --mode hls")
    if hls:
        release = tool_release("vitis_hls", hls, env, timeout=None)
        return HlsTool("vitis_hls", hls, release, f"vitis_hls {release or '(release unknown)'}, no v++ installed")
    return HlsTool("vitis_hls", None, None, "neither v++ nor vitis_hls is installed")
