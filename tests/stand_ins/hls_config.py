"""A reader of v++ config files (``key=value`` lines, ``[section]`` headers, ``#`` comments, keys
that repeat) and the checks the v++ stand-in makes on an ``hls_config.cfg`` before it "runs".

Independent of fpga_accel's own code, so a test that parses a generated config with it checks the
generator rather than the generator's idea of the format. Relative paths are taken from the
config file's folder.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

#: the [hls] keys the generated configs may use (UG1399, 2024.2)
KNOWN = {"flow_target", "clock", "syn.top", "syn.file", "syn.file_cflags", "tb.file", "tb.file_cflags",
         "csim.code_analyzer", "syn.output.format", "package.output.format", "package.output.syn",
         "package.output.file", "package.ip.vendor", "package.ip.library", "package.ip.name"}


class ConfigError(ValueError):
    pass


def parse_cfg(text: str) -> dict[str, list[tuple[str, str]]]:
    """Section name ("" before the first header) -> [(key, value), ...] in file order."""
    out: dict[str, list[tuple[str, str]]] = {"": []}
    section = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[([A-Za-z0-9_.-]+)\]", line)
        if m:
            section = m.group(1)
            out.setdefault(section, [])
            continue
        if "=" not in line:
            raise ConfigError(f"line {n}: neither a section, a comment nor key=value: {raw!r}")
        key, value = (p.strip() for p in line.split("=", 1))
        if not re.fullmatch(r"[A-Za-z0-9_.]+", key):
            raise ConfigError(f"line {n}: bad key {key!r}")
        out[section].append((key, value))
    return out


def _path(base: Path, p: str) -> Path:
    q = Path(p)
    return q if q.is_absolute() else base / q


def check_hls_config(path: Path) -> dict:
    """The [hls] settings of ``path`` after the checks v++ would fail on; ConfigError otherwise."""
    base = Path(path).parent
    sections = parse_cfg(Path(path).read_text())
    top = dict(sections[""])
    hls = sections.get("hls")
    if hls is None:
        raise ConfigError("no [hls] section")
    unknown = sorted({k for k, _ in hls} - KNOWN)
    if unknown:
        raise ConfigError(f"unknown [hls] key(s) {unknown}")
    single = {}
    for k, v in hls:
        if k in single and k not in ("syn.file", "syn.file_cflags", "tb.file", "tb.file_cflags"):
            raise ConfigError(f"{k} given twice")
        single[k] = v
    part = top.get("part")
    if not part:
        raise ConfigError("no part= (a v++ option, before the [hls] section)")
    for key in ("syn.top", "flow_target", "clock", "package.output.format"):
        if key not in single:
            raise ConfigError(f"[hls] has no {key}")
    # the tops fpga-accel generates: a dataflow segment's carry its index (fa_axis_s0, ...)
    if not re.fullmatch(r"(fa_axis|fa_kernel)(_s\d+)?|fa_tiled_top|fa_tiled_kernel", single["syn.top"]):
        raise ConfigError(f"syn.top {single['syn.top']!r}")
    fmt, target = single["package.output.format"], single["flow_target"]
    if (target, fmt) not in (("vivado", "ip_catalog"), ("vitis", "xo")):
        raise ConfigError(f"flow_target {target} with package.output.format {fmt}")
    if single.get("syn.output.format", fmt) != fmt:
        raise ConfigError("syn.output.format and package.output.format disagree")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns)?", single["clock"])
    if not m:
        raise ConfigError(f"clock {single['clock']!r} is not a period in ns")
    files = {"syn": [v for k, v in hls if k == "syn.file"], "tb": [v for k, v in hls if k == "tb.file"]}
    if not files["syn"]:
        raise ConfigError("no syn.file")
    includes: dict[str, list[str]] = {}
    for kind in ("syn", "tb"):
        for f in files[kind]:
            if not _path(base, f).is_file():
                raise ConfigError(f"{kind}.file {f} does not exist (from {base})")
        for k, v in hls:
            if k != f"{kind}.file_cflags":
                continue
            f, _, flags = v.partition(",")
            if f not in files[kind]:
                raise ConfigError(f"{k} names {f}, which is no {kind}.file")
            incs = [a[2:] for a in shlex.split(flags) if a.startswith("-I")]
            for d in incs:
                if not _path(base, d).is_dir():
                    raise ConfigError(f"{k} of {f}: include folder {d} does not exist (from {base})")
            includes[f] = incs
    return {**single, "part": part, "period_ns": float(m.group(1)), "syn.file": files["syn"],
            "tb.file": files["tb"], "includes": includes}
