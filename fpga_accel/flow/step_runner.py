"""Running a bundle's build steps: resumable, timed, logged, with reports parsed after each step.

Everything a build writes stays inside the bundle: ``build/`` (tool projects, ``logs/<step>.log``,
``state.json``) and ``bitstream/`` (the binaries and ``bitstream.json``); the manifest gets a
``build`` section. ``build/state.json`` records each finished step with a key (its command and
the hashes of what it builds on) and the sha256 of its outputs, so a rerun skips a step whose key
and outputs are unchanged and redoes everything after a step that changed.

A tool runs in its own process group. Ctrl-C, SIGTERM (the CLI turns it into KeyboardInterrupt)
or the step's timeout kills the whole group and removes what the interrupted step had written
(its working directory and outputs); the step is recorded as interrupted and runs again on resume.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ..bundle import Bundle, load_bundle, sha256_file, write_manifest
from ..bundle_bitstream import RECORD, bundle_id, record_sealed
from ..procs import run_bounded, valid_seconds
from ..safe_fs import UnsafePathError, inside
from . import bitstream_registry as reg
from .aws_f2 import TARBALL as F2_TARBALL
from .collect import collect
from .errors import BuildError, ToolFailedError, ToolNotFoundError
from .hls_tool import HlsTool, choose_hls_tool
from .pynq_image import hwh_warning
from .record import build_record
from .segments_steps import segment_steps, xo_values
from .steps import Step, plan_steps
from .target import target_of
from .tiled_interface import top_of as tiled_top
from .tiled_interface import XCLBIN as TILED_XCLBIN
from .tiled_scripts import tiled_steps
from .timing import TimingNotMetError, check_timing
from .tools import HOW_TO_GET, absolute_config, find_tool, tail

STATE = "build/state.json"
LOGS = "build/logs"
FINAL = {"vivado": ["fa_overlay.bit", "fa_overlay.hwh"], "link": ["fa_kernel.xclbin"],
         "afi": ["fa_kernel.xclbin", "fa_kernel.awsxclbin"]}
#: AWS F2: the design checkpoint tarball and the AFI's ids
FINAL_HDK = {"afi": [F2_TARBALL, "afi.json"]}
#: the tiled engine (one build per board and configuration, any model's program runs on it)
FINAL_TILED = {**FINAL, "link": [TILED_XCLBIN],
               "afi": [TILED_XCLBIN, TILED_XCLBIN.removesuffix(".xclbin") + ".awsxclbin"]}


def build(bundle: Bundle | str | os.PathLike, steps: list[str] | None = None, jobs: int = 2, dry_run: bool = False,
          platform: str | None = None, s3_bucket: str | None = None, s3_prefix: str | None = None,
          registry: str | os.PathLike | None | bool = None, echo: Callable[[str], None] = print,
          timeout: float | None = None, hls_tool: str | None = None, allow_timing_failure: bool = False) -> dict:
    """Run the build steps of ``bundle`` (all, or the names in ``steps``) and return the build record.

    ``registry`` is the bitstreams directory to record a finished bitstream in (default
    :func:`registry.registry_dir`), or False for none. ``dry_run`` prints the commands only.
    ``timeout`` bounds each step in seconds (None: no limit; synthesis may take hours).
    ``hls_tool`` is ``auto`` (by the installed release: :func:`.hls_tool.choose_hls_tool`), ``v++``
    or ``vitis_hls``; None takes ``$FA_HLS_TOOL``, else ``auto``. A design that misses timing is refused (:class:`.timing.TimingNotMetError`)
    unless ``allow_timing_failure``.
    """
    if timeout is not None and not valid_seconds(timeout):
        raise BuildError(f"timeout {timeout!r}: give a positive, finite number of seconds, or none for no limit")
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    root = bundle.path.resolve()
    manifest = bundle.manifest
    scripts = manifest.get("scripts") or {}
    if scripts.get("error"):
        raise BuildError(f"{root}: no build scripts were generated: {scripts['error']}")
    if not (root / "scripts").is_dir() or ("tiled" in manifest and not scripts):
        what = "tiled engine's build scripts" if "tiled" in manifest else "build-script generator"
        raise BuildError(f"{root}: the bundle has no scripts/; recompile it with the {what}")
    target = target_of(manifest)
    tiled = scripts.get("engine") == "tiled"
    n_seg = len(manifest["segments"]["list"]) if "segments" in manifest else 0  # one bitstream, every segment
    if n_seg:
        _check_segment_streams(root, n_seg, scripts, target)
    elif not tiled:
        _check_streams(root, manifest, scripts, target)
    env = dict(os.environ)
    ident = bundle_id(manifest)
    state = _load_state(root, ident)
    tool = _hls_tool(hls_tool or env.get("FA_HLS_TOOL") or "auto", steps, state, env)
    plan = (tiled_steps(root, target, tool.name) if tiled else segment_steps(root, target, n_seg, tool.name) if n_seg
            else plan_steps(root, target, hls_tool=tool.name))
    _check_own_dirs(root, plan)
    chosen = _select(plan, steps)
    if any(s.name == "hls" and "--mode" not in s.argv and s.argv[:2] == ["v++", "-c"] for s in plan):
        tool = HlsTool("v++", find_tool("v++", env), None, "v++ -c from the sources (the bundle has no run_hls.tcl)")
    echo(f"HLS tool: {tool.why}")
    if allow_timing_failure:
        for s in plan:
            if s.name in ("vivado", "hdk"):
                s.env["FA_ALLOW_TIMING_FAILURE"] = "1"
    top = tiled_top(target.family) if tiled else "fa_axis" if target.is_zynq else "fa_kernel"
    values = {"B": str(root), "JOBS": str(int(jobs))}
    if target.family == "vitis":
        # aws-fpga's vitis_setup.sh exports the F1 shell's .xpfm as AWS_PLATFORM
        aws = env.get("AWS_PLATFORM") if target.flow == "aws-afi" else None
        values["PLATFORM"] = platform or env.get("FA_PLATFORM") or aws or target.platform or ""
    values["XO"] = _xo(root, top)
    values.update(xo_values(root, n_seg))
    todo = _pending(root, plan, chosen, state, values, ident)
    if not todo:
        echo("every selected step is up to date")
    if dry_run:
        for step in plan:
            mark = "run " if step in todo else ("done" if step in chosen else "skip")
            echo(f"[{mark}] {step.name}: cd {shlex.quote(str(root / step.cwd))} && {_cmdline(step, values)}")
        return manifest.get("build", {})
    _check_ready(root, target, todo, values, env, s3_bucket, s3_prefix)
    upstream: dict = {}
    ran, complete = False, True
    for step in plan:
        values["XO"] = _xo(root, top)
        values.update(xo_values(root, n_seg))
        key = _key(step, values, ident, upstream)
        entry = state["steps"].get(step.name)
        if step in chosen and not _fresh(root, entry, key):
            try:
                _run(root, step, key, values, env, state, echo, timeout, target.clock_mhz, allow_timing_failure)
            finally:  # a failed step's reports too: the record says what timing it reached
                e = state["steps"].get(step.name) or {}
                if e.get("status") in ("done", "failed", "timing_failed"):
                    e["report"] = collect(step.name, root, top, root / LOGS / f"{step.name}.log", target.clock_mhz)
                    if step.name == "hls" or step.name.startswith("hls_s"):
                        e["hls_tool"] = tool.to_dict()
                    _save_state(root, state)
            ran = True
        elif step in chosen:
            echo(f"{step.name}: up to date, skipped (finished {entry.get('started')})")
        else:
            complete = complete and _fresh(root, entry, key)  # a step left out may be stale after an earlier one
        upstream = (state["steps"].get(step.name) or {}).get("outputs", {})
    record = build_record(manifest, target, state)
    if allow_timing_failure and (record.get("timing") or {}).get("met") is False:
        record["timing"]["failure_allowed"] = True
    warning = hwh_warning(target, record.get("tools", {}).get("vivado")) if target.is_zynq else None
    if warning:
        record["hwh_warning"] = warning
        if "vivado" in [s.name for s in chosen]:
            echo(f"warning: {warning}")
    _write_manifest(root, manifest, record)
    final = _final_files(root, target, state, plan, tiled) if complete else []
    if final:
        if ran or not (root / RECORD).is_file():
            rec = reg.write_record(root, manifest, final, record)
        else:  # nothing was rebuilt: keep the record (and its date) of the build that made the files
            rec = _read_record(root, manifest, final, record)
        record["bitstream"] = RECORD
        record["bitstream_sha256"] = sha256_file(root / RECORD)  # the sealed manifest vouches for the record
        if registry is not False:
            entry = reg.register(reg.registry_dir(None if registry in (None, True) else registry), root, rec)
            record["registry_entry"] = entry["id"]
        _write_manifest(root, manifest, record)
    return record


def _check_streams(root: Path, manifest: dict, scripts: dict, target) -> None:
    """The DMAs of the block design were sized for the streams the HLS project has."""
    if not target.is_zynq:
        return
    keys = ("name", "direction", "tdata_bits", "beats_per_image")
    have = [{k: s.get(k) for k in keys} for s in ((manifest.get("kernel") or {}).get("axis") or {}).get("streams", [])]
    if have != scripts.get("streams"):
        raise BuildError(f"{root}: scripts/vivado_bd.tcl was generated for other streams ({scripts.get('streams')}) "
                         f"than the HLS project's ({have}); compile must run the script generator after the HLS "
                         "generator — recompile the bundle")


def _check_segment_streams(root: Path, n: int, scripts: dict, target) -> None:
    """Each segment's DMAs in the block design were sized for the streams of its HLS project."""
    from ..bundle import load_bundle
    from ..segments.check import segment_path

    listed = scripts.get("segments") or []
    if len(listed) != n:
        raise BuildError(f"{root}: the build scripts describe {len(listed)} segments, the bundle has {n}; recompile it")
    if not target.is_zynq:
        return
    keys = ("name", "direction", "tdata_bits", "beats_per_image")
    for k, rec in enumerate(listed):
        kernel = load_bundle(root / segment_path(k)).manifest.get("kernel") or {}
        have = [{key: s.get(key) for key in keys} for s in (kernel.get("axis") or {}).get("streams", [])]
        if have != rec.get("streams"):
            raise BuildError(f"{root}: scripts/vivado_bd.tcl was generated for other streams of segment {k} "
                             f"({rec.get('streams')}) than its HLS project's ({have}); recompile the bundle")


def _check_own_dirs(root: Path, plan: list[Step]) -> None:
    """The folders a build writes and empties stay inside the bundle: a bundle from elsewhere may
    hold a ``build`` or ``bitstream`` symlink, which would make the build delete or overwrite
    files wherever it points."""
    for rel in ["build", "bitstream", LOGS, STATE, *(s.cwd for s in plan), *(s.copy_in for s in plan if s.copy_in)]:
        try:
            inside(root, rel, "the bundle's folder")
        except UnsafePathError as e:
            raise BuildError(f"{e}; remove that symlink (the build writes there) and run `fpga-accel build` "
                             "again") from None


def _select(plan: list[Step], names: list[str] | None) -> list[Step]:
    if not names:
        return list(plan)
    known = [s.name for s in plan]
    bad = [n for n in names if n not in known]
    if bad:
        raise BuildError(f"unknown build step(s) {', '.join(bad)} for this board; its steps are {', '.join(known)}")
    return [s for s in plan if s.name in names]


def _key(step: Step, values: dict, ident: str, upstream: dict) -> str:
    fixed = {k: v for k, v in values.items() if k == "PLATFORM" and "{PLATFORM}" in step.argv}
    blob = json.dumps([step.name, step.argv, fixed, ident, upstream], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _pending(root, plan, chosen, state, values, ident) -> list[Step]:
    """The chosen steps that will (probably) run: not fresh, or after one that runs."""
    out, upstream, dirty = [], {}, False
    for step in plan:
        entry = state["steps"].get(step.name)
        if step in chosen and (dirty or not _fresh(root, entry, _key(step, values, ident, upstream))):
            out.append(step)
            dirty = True
        upstream = (entry or {}).get("outputs", {})
    return out


def _fresh(root: Path, entry: dict | None, key: str) -> bool:
    return bool(entry) and entry.get("status") == "done" and entry.get("key") == key and _outputs_ok(root, entry)


def _outputs_ok(root: Path, entry: dict) -> bool:
    outs = entry.get("outputs") or {}
    return isinstance(outs, dict) and bool(outs) and all(_output_ok(root, f, h) for f, h in outs.items())


def _output_ok(root: Path, rel: str, digest) -> bool:
    try:  # state.json is read back from disk: its paths must stay in the bundle
        path = inside(root, rel, "output")
    except UnsafePathError:
        return False
    return path.is_file() and sha256_file(path) == digest


def _xo(root: Path, top: str = "fa_kernel") -> str:
    found = sorted((root / "build/hls").glob("**/*.xo")) if (root / "build/hls").is_dir() else []
    return str(found[0]) if found else str(root / f"build/hls/{top}.xo")


def _cmdline(step: Step, values: dict) -> str:
    env = [f"{k}={shlex.quote(v)}" for k, v in sorted(step.env.items()) if k == "FA_TOP"]
    copy = f"cp -R {shlex.quote(str(Path(values['B']) / step.copy_in))}/. . && " if step.copy_in else ""
    return copy + " ".join(env + [shlex.quote(a) for a in step.command(values)])


def _check_ready(root: Path, target, todo, values, env, s3_bucket, s3_prefix) -> None:
    """Fail before running anything: missing tools, platform, S3 bucket."""
    manual = [f"cd {shlex.quote(str(root / s.cwd))} && {_cmdline(s, values)}" for s in todo]
    for step in todo:
        for tool in [step.tool, *step.needs]:
            path = find_tool(tool, env)
            if path is None:
                raise ToolNotFoundError(tool, step.name, HOW_TO_GET.get(tool, "install it"), manual)
            if tool == "create_vitis_afi.sh":
                step.env["CREATE_VITIS_AFI"] = path
            if tool == "aws_build_dcp_from_cl.py":
                step.env["AWS_BUILD_DCP"] = path
        if "{PLATFORM}" in step.argv and not values.get("PLATFORM"):
            raise BuildError(f"step '{step.name}' needs the Vitis platform of {target.board}; pass --platform or "
                             "set FA_PLATFORM to its name or .xpfm path")
        if step.name == "afi":
            bucket = s3_bucket or env.get("FA_S3_BUCKET")
            if not bucket:
                raise BuildError("step 'afi' needs an S3 bucket for the design checkpoint; pass --s3-bucket or set "
                                 f"FA_S3_BUCKET ({target.cloud.note})")
            step.env["FA_S3_BUCKET"] = bucket
            if s3_prefix:
                step.env["FA_S3_PREFIX"] = s3_prefix


def _run(root: Path, step: Step, key: str, values: dict, env: dict, state: dict, echo,
         timeout: float | None = None, clock_mhz: float = 100.0, allow_timing_failure: bool = False) -> None:
    argv = step.command(values)
    argv[0] = find_tool(argv[0], env) or argv[0]
    cwd = root / step.cwd
    log = root / LOGS / f"{step.name}.log"
    shown = _cmdline(step, values)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entry = {"status": "running", "key": key, "tool": step.tool, "command": shown, "cwd": step.cwd, "started": started,
             "log": f"{LOGS}/{step.name}.log"}
    state["steps"][step.name] = entry
    _save_state(root, state)  # a process killed outright leaves "running": the step is redone on resume
    echo(f"{step.name}: {step.what}\n  log: {log}")
    t0 = time.perf_counter()
    try:
        _prepare(root, step, log)
        with open(log, "a") as f:
            f.write(f"# fpga-accel build step '{step.name}'\n# command: {shown}\n# cwd: {cwd}\n# started: {started}\n\n")
            f.flush()
            try:
                status = run_bounded(argv, timeout, cwd=cwd, env={**env, **step.env}, stdout=f).code
            except OSError as e:
                f.write(f"\ncannot start {argv[0]}: {e}\n")
                status = 127
            if status is None:
                f.write(f"\n# fpga-accel: stopped after the step's timeout of {timeout:g} s\n")
    except BaseException as e:  # Ctrl-C, SIGTERM, a full disk: run_bounded has killed the tool's process group
        with _signals_held():
            _clear(root, step)
            entry.update(status="interrupted", seconds=round(time.perf_counter() - t0, 3))
            _save_state(root, state)
            _note(log, "\n# fpga-accel: interrupted; the step's partial outputs were removed\n")
        if isinstance(e, OSError):
            raise BuildError(f"step '{step.name}': cannot write its log {log} ({e.strerror or e}); free some space, "
                             "then run `fpga-accel build` again") from None
        raise
    seconds = round(time.perf_counter() - t0, 3)
    entry.update(status="failed", seconds=seconds, exit_status=status)
    if status is not None and step.name in ("vivado", "link") and not allow_timing_failure:
        _timing_gate(root, step, entry, state, clock_mhz)
    why = ""
    if status is None:
        _clear(root, step)
        why = f"it did not finish within the timeout of {timeout:g} s and was stopped with its child processes"
    elif status == 0:
        outputs, missing = {}, []
        for pattern in step.outputs:
            found = sorted(p for p in root.glob(pattern) if p.is_file())
            if not found:
                missing.append(pattern)
            outputs.update({p.relative_to(root).as_posix(): sha256_file(p) for p in found})
        if not missing:
            entry.update(status="done", outputs=outputs)
            _save_state(root, state)
            echo(f"{step.name}: done in {_secs(seconds)}")
            return
        why = f"it exited normally but did not write {', '.join(missing)}"
    _save_state(root, state)
    raise ToolFailedError(step.name, shown, str(log), tail(log), status, why)


def _timing_gate(root: Path, step: Step, entry: dict, state: dict, clock_mhz: float) -> None:
    """Refuse a design that misses timing: remove the binaries the step left in bitstream/ (the
    reports stay), record the step as ``timing_failed`` and raise :class:`TimingNotMetError`."""
    kept = None
    if step.name == "vivado":
        bit = sorted((root / step.cwd).glob("*/*.runs/impl_1/*.bit"))
        kept = str(bit[0]) if bit else None
    try:
        check_timing(root, step.name, clock_mhz, kept)
    except TimingNotMetError:
        for pattern in step.outputs:
            for p in root.glob(pattern):
                if p.is_file() and p.relative_to(root).parts[0] == "bitstream":
                    p.unlink()
        entry["status"] = "timing_failed"
        _save_state(root, state)
        raise


def _hls_tool(choice: str, steps: list[str] | None, state: dict, env: dict) -> HlsTool:
    """The HLS tool: chosen now, or, when the hls step is not selected, the one of its last run
    (a later step may run on a machine without HLS)."""
    prev = (state["steps"].get("hls") or {}).get("hls_tool") or {}
    if choice == "auto" and steps and "hls" not in steps and prev.get("tool") in ("v++", "vitis_hls"):
        return HlsTool(prev["tool"], None, prev.get("release"), f"{prev['tool']}, as the last hls step ran")
    return choose_hls_tool(choice, env)


def _prepare(root: Path, step: Step, log: Path) -> None:
    """An empty working directory (with a copy of the step's sources) and an empty log."""
    _clear(root, step)  # a step starts from nothing: no file of an earlier attempt passes for its output
    try:
        (root / step.cwd).mkdir(parents=True, exist_ok=True)
        (root / "bitstream").mkdir(exist_ok=True)  # v++ -o and the Vivado script write there
        if step.copy_in:  # the tool writes its project next to the sources: work on a copy, keep the bundle intact
            shutil.copytree(root / step.copy_in, root / step.cwd, dirs_exist_ok=True)
        if step.config:  # the tool may resolve relative paths from elsewhere: make the copy's absolute
            cfg = root / step.cwd / step.config
            cfg.write_text(absolute_config(cfg.read_text(), cfg.parent))
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
    except (OSError, shutil.Error) as e:
        raise BuildError(f"step '{step.name}': cannot prepare {root / step.cwd} ({e}); free some space or fix the "
                         "permissions, then run `fpga-accel build` again") from None


def _clear(root: Path, step: Step) -> None:
    """Remove what ``step`` writes: its working directory and the files matching its outputs."""
    shutil.rmtree(root / step.cwd, ignore_errors=True)
    for pattern in step.outputs:
        for p in root.glob(pattern):
            if p.is_file() or p.is_symlink():
                p.unlink(missing_ok=True)


class _signals_held:
    """Hold SIGINT and SIGTERM back while cleaning up, so a second Ctrl-C cannot cut the cleanup short;
    they are delivered when the block ends."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.old = signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS) if hasattr(signal, "pthread_sigmask") else None

    def __exit__(self, *exc):
        if self.old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old)


def _note(log: Path, text: str) -> None:
    try:
        with open(log, "a") as f:
            f.write(text)
    except OSError:
        pass


def _secs(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _load_state(root: Path, ident: str) -> dict:
    p = root / STATE
    try:
        state = json.loads(p.read_text())
    except (OSError, ValueError):
        state = {}
    # another compile of the bundle, or a state file that is not ours: nothing carries over
    if not isinstance(state, dict) or state.get("bundle_id") != ident or not isinstance(state.get("steps"), dict):
        return {"bundle_id": ident, "steps": {}}
    state["steps"] = {k: v for k, v in state["steps"].items() if isinstance(v, dict)}
    return state


def _read_record(root: Path, manifest: dict, final: list[str], record: dict) -> dict:
    """The bitstream record of the build that made the files; rewritten when it is unreadable."""
    try:
        rec = json.loads((root / RECORD).read_text())
    except (OSError, ValueError):
        rec = None
    if (not isinstance(rec, dict) or not isinstance(rec.get("board"), dict) or not isinstance(rec.get("files"), dict)
            or not record_sealed(rec)):
        rec = reg.write_record(root, manifest, final, record)
    return rec


def _save_state(root: Path, state: dict) -> None:
    reg._write_json(root / STATE, state)


def _final_files(root: Path, target, state: dict, plan: list[Step], tiled: bool = False) -> list[str]:
    """Names in bitstream/ of a finished build, or [] while the last step has not run."""
    last = plan[-1].name
    if (state["steps"].get(last) or {}).get("status") != "done":
        return []
    want = (FINAL_HDK if target.is_hdk else FINAL_TILED if tiled else FINAL).get(last, [])
    names = [n for n in want if (root / "bitstream" / n).is_file()]
    return names if want and len(names) == len(want) else []


def _write_manifest(root: Path, manifest: dict, record: dict) -> None:
    """Store the build record; the manifest is sealed again (it changed on purpose)."""
    manifest["build"] = record
    try:
        write_manifest(root, manifest)
    except OSError as e:  # the old manifest is left as it was
        raise BuildError(f"{root / 'manifest.json'}: cannot write ({e.strerror or e}); free some space or fix the "
                         "permissions, then run `fpga-accel build` again") from None
