"""Finding the vendor tools, saying how to get a missing one, and reading their versions from logs."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

#: how to get each tool, shown when it is missing
HOW_TO_GET = {
    "vitis_hls": "install AMD Vitis and run `source <install>/Vitis/<version>/settings64.sh`: releases up to 2024.1 "
                 "put vitis_hls on PATH (or set XILINX_HLS); 2024.2 and later have no vitis_hls, and the build runs "
                 "their v++ -c --mode hls instead",
    "vivado": "install AMD Vivado (with the Zynq device support) and run "
              "`source <install>/Vivado/<version>/settings64.sh` (or set XILINX_VIVADO)",
    "v++": "install AMD Vitis and the platform of the board (e.g. an Alveo deployment/development platform), then "
           "`source <install>/Vitis/<version>/settings64.sh` and `source /opt/xilinx/xrt/setup.sh`",
    "create_vitis_afi.sh": "clone aws-fpga (branch f1_xdma_shell) and `source vitis_setup.sh`, which sets VITIS_DIR; "
                           "AWS retired F1 on 2025-12-20, so this works only for existing F1 accounts",
    "aws_build_dcp_from_cl.py": "clone aws-fpga (branch f2) and run `source hdk_setup.sh` there, which sets "
                                "HDK_SHELL_DIR (the script is in $HDK_SHELL_DIR/build/scripts); Vivado of a release "
                                "the F2 developer kit supports must be on PATH",
    "python3": "install Python 3 (the AWS HDK's build script runs with it)",
    "aws": "install the AWS CLI v2 (https://aws.amazon.com/cli/) and run `aws configure`",
    "bash": "install bash",
}

# environment variables whose bin/ (or tools/) directory may hold a tool that is not on PATH
_HOMES = {"vitis_hls": [("XILINX_HLS", "bin"), ("XILINX_VITIS", "bin")], "vivado": [("XILINX_VIVADO", "bin")],
          "v++": [("XILINX_VITIS", "bin")], "create_vitis_afi.sh": [("VITIS_DIR", "tools")],
          "aws_build_dcp_from_cl.py": [("HDK_SHELL_DIR", "build/scripts")]}


def find_tool(name: str, env: dict | None = None) -> str | None:
    """Full path of the executable ``name``: on PATH, else under its vendor home variable."""
    env = os.environ if env is None else env
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found:
        return found
    for var, sub in _HOMES.get(name, []):
        home = env.get(var)
        if home:
            cand = Path(home) / sub / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
    return None


# banners the AMD tools print first, e.g. "****** Vivado v2023.1 (64-bit)"
_BANNER = re.compile(r"^\*{6}\s+(.*?)\s+v(\d{4}\.\d[^\s]*|\S+)\s", re.MULTILINE)


def version_from_log(text: str) -> str | None:
    """The tool version from its log banner (``v2023.1`` → ``2023.1``), or None."""
    m = _BANNER.search(text)
    return m.group(2) if m else None


def tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log file (empty when it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


_RELATIVE = re.compile(r"(?<=[=,])\./|(?<=-I)\./")


def absolute_config(text: str, base: Path) -> str:
    """A v++ config whose ``./`` paths (file values, the files and ``-I`` folders of ``*_cflags``)
    are made absolute from ``base``: v++ and the compiler it runs need not agree on a working folder."""
    prefix = Path(base).resolve().as_posix().rstrip("/") + "/"
    return "\n".join(line if line.lstrip().startswith("#") else _RELATIVE.sub(prefix, line)
                     for line in text.split("\n"))
