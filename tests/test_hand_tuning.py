"""Tuning the generated HLS: hand edits adopted into the manifest (`fpga-accel adopt`), and FIFO
depths set at compile (`--fifo-depth`, the config's fifo_depths).

A pragma-only edit keeps the C simulation bit-exact with the emulator; an edit of the arithmetic
(a bias in a params header) is adopted too, and `check` reports it as not bit-exact. What adopt
refuses (files outside hls/ and scripts/, symlinks, new files without --add, removals) and the
messages that name them are pinned here.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from fpga_accel.bundle import BundleError, load_bundle
from fpga_accel.cli import main

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "models" / "mlp"
TOP = "hls/src/fa_top.cpp"
PARAMS = "hls/src/params/L02_5_Gemm.h"
STREAM = "s1__2_Relu_output_0"
#: the last Gemm's input (s2 is a width converter's stream, where the folding puts one)
STREAM2 = "s3__4_Relu_output_0"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    import fpga_accel

    b = fpga_accel.compile(MLP / "model.onnx", tmp_path_factory.mktemp("tune") / "mlp.fpga",
                           calib=MLP / "calib.npz", progress=False)
    return b.path


@pytest.fixture
def bundle(compiled, tmp_path):
    return Path(shutil.copytree(compiled, tmp_path / "mlp.fpga"))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    z = np.load(MLP / "test.npz")
    path = tmp_path_factory.mktemp("x") / "x.npy"
    np.save(path, (z["x"][:32] / z["divisor"]).astype(np.float32))
    return str(path)


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def set_depth(bundle: Path, stream: str, depth: int) -> int:
    """Edit the depth pragma of ``stream`` in fa_top.cpp; its depth before."""
    text = (bundle / TOP).read_text()
    pragma = re.compile(rf"(variable = {stream} depth = )(\d+)\n")
    found = pragma.search(text)
    assert found
    (bundle / TOP).write_text(pragma.sub(rf"\g<1>{depth}\n", text, count=1))
    return int(found.group(2))


def deepen(bundle: Path, by: int = 2) -> int:
    """Deepen the first FIFO by ``by`` words (a pragma-only edit); its new depth."""
    old = set_depth(bundle, STREAM, 0)
    set_depth(bundle, STREAM, old + by)
    return old + by


def test_edited_bundle_is_refused_with_the_way_out(bundle, capsys):
    deepen(bundle)
    with pytest.raises(BundleError, match=r"modified \['hls/src/fa_top.cpp'\].*fpga-accel adopt .*mlp.fpga"):
        load_bundle(bundle)
    assert main(["build", str(bundle), "--dry-run"]) == 2
    assert "`fpga-accel adopt" in capsys.readouterr().err


def test_adopt_records_the_edit_and_the_bundle_loads(bundle, capsys):
    compiled = json.loads((bundle / "manifest.json").read_text())["files"][TOP]
    depth = deepen(bundle)
    assert main(["adopt", str(bundle), "--diff"]) == 0
    out = capsys.readouterr().out
    assert f"adopted         {TOP}: +1 -1 lines against the compiled text" in out
    assert f"-#pragma HLS STREAM variable = {STREAM} depth = {depth - 2}\n" in out
    assert f"+#pragma HLS STREAM variable = {STREAM} depth = {depth}\n" in out
    assert "sealed again; the bundle carries 1 hand-edited file(s)" in out
    m = load_bundle(bundle).manifest  # seal, structure and every file's hash
    [o] = m["overrides"]
    assert (o["file"], o["compiled_sha256"], o["sha256"], o["lines"]) == (TOP, compiled, sha(bundle / TOP),
                                                                          {"added": 1, "removed": 1})
    assert m["files"][TOP] == o["sha256"] and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:]{8}\+00:00", o["when"])
    assert main(["report", str(bundle)]) == 0
    assert f"hand edits      {TOP} (+1 -1 lines, adopted {o['when']})" in capsys.readouterr().out
    assert main(["build", str(bundle), "--dry-run"]) == 0
    # a second edit of the same file keeps the compiled sha256 and counts against the compiled text
    depth2 = set_depth(bundle, STREAM2, 0)
    set_depth(bundle, STREAM2, depth2 + 6)  # the other stream
    assert main(["adopt", str(bundle), f"{bundle}/{TOP}"]) == 0
    assert f"{TOP}: +2 -2 lines" in capsys.readouterr().out
    [o2] = load_bundle(bundle).manifest["overrides"]
    assert o2["compiled_sha256"] == compiled and o2["sha256"] == sha(bundle / TOP)
    # back to the compiled text: no longer a hand edit
    set_depth(bundle, STREAM, depth - 2)
    set_depth(bundle, STREAM2, depth2)
    assert main(["adopt", str(bundle), TOP]) == 0
    assert "back to its compiled text" in capsys.readouterr().out
    m = load_bundle(bundle).manifest
    assert "overrides" not in m and m["files"][TOP] == compiled
    assert main(["adopt", str(bundle)]) == 0
    assert "nothing to adopt" in capsys.readouterr().out


def test_pragma_edit_keeps_csim_bit_exact(bundle, images, capsys):
    from codegen_util import need_toolchain

    need_toolchain()
    deepen(bundle, 14)
    assert main(["adopt", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["check", str(bundle), "--input", images, "--backend", "csim"]) == 0
    out = capsys.readouterr().out
    assert f"hand edit {TOP} (+1 -1 lines" in out
    assert re.search(r"csim\s+bit-exact\s+0 of 320", out)


def test_arithmetic_edit_is_caught_by_check(bundle, images, capsys):
    from codegen_util import need_toolchain

    need_toolchain()
    text = (bundle / PARAMS).read_text()
    first = re.search(r"_mvau_bias, [^)]*\) = \{\{(-?\d+),", text)  # the first logit's bias
    bias = int(first.group(1))
    edit(bundle / PARAMS, first.group(0), first.group(0).replace(f"{{{bias},", f"{{{bias * 100 + 1000},"))
    assert main(["adopt", str(bundle), PARAMS]) == 0
    capsys.readouterr()
    assert main(["check", str(bundle), "--input", images, "--backend", "csim"]) == 1
    out = capsys.readouterr().out
    assert f"hand edit {PARAMS} (+1 -1 lines" in out
    assert re.search(r"csim\s+DIFFERS\s+[1-9]\d* of 320", out)
    assert "FAIL: backend csim differs from the emulator" in out


@pytest.mark.parametrize("rel, why", [
    ("weights.npz", "only files under hls/ and scripts/ can be adopted (the runtime reads it)"),
    ("opencl/fa_kernel.cl", "only files under hls/ and scripts/ can be adopted (the runtime reads it)"),
    ("manifest.json", "only files under hls/ and scripts/ can be adopted (it is the manifest)"),
])
def test_files_the_runtime_reads_are_refused(bundle, rel, why):
    from fpga_accel.overrides import adopt

    if rel != "manifest.json":
        with open(bundle / rel, "ab") as f:
            f.write(b"\n")
    with pytest.raises(BundleError, match=re.escape(f"{rel}: {why}")):
        adopt(bundle, [rel])


def test_an_edited_manifest_is_never_sealed_again(bundle):
    from fpga_accel.overrides import adopt

    edit(bundle / "manifest.json", '"clock_mhz": 100', '"clock_mhz": 125')
    deepen(bundle)
    with pytest.raises(BundleError, match=r"the manifest is not the one compile wrote \(its sha256 differs"):
        adopt(bundle)


def test_refusals(bundle):
    from fpga_accel.overrides import adopt

    before = (bundle / "manifest.json").read_bytes()
    (bundle / "weights.npz").write_bytes((bundle / "weights.npz").read_bytes() + b"x")
    deepen(bundle)
    with pytest.raises(BundleError, match=r"weights.npz: only files under hls/ and scripts/"):
        adopt(bundle)  # every difference: one outside hls/ and scripts/ refuses them all
    # a symlink in place of a generated file, a new file, a removed one
    target = bundle.parent / "outside.h"
    target.write_text("// elsewhere\n")
    os.remove(bundle / "hls/include/fpga_accel/pool.h")
    os.symlink(target, bundle / "hls/include/fpga_accel/pool.h")
    with pytest.raises(BundleError, match=r"hls/include/fpga_accel/pool.h: hls/include/fpga_accel/pool.h is a symlink"):
        adopt(bundle, ["hls/include/fpga_accel/pool.h"])
    (bundle / "hls/src/extra.h").write_text("// new\n")
    with pytest.raises(BundleError, match=r"hls/src/extra.h: a new file the manifest never listed; pass --add"):
        adopt(bundle, ["hls/src/extra.h"])
    os.remove(bundle / "hls/src/params/L00_0_Gemm.h")
    with pytest.raises(BundleError, match=r"L00_0_Gemm.h: it was removed; adopt records edits, not removals"):
        adopt(bundle, ["hls/src/params/L00_0_Gemm.h"])
    with pytest.raises(BundleError, match=r"is not inside the bundle"):
        adopt(bundle, [str(target)])
    with pytest.raises(BundleError, match=r"\.\./outside.h: not a plain path inside the bundle"):
        adopt(bundle, ["hls/../../outside.h"])
    assert (bundle / "manifest.json").read_bytes() == before  # nothing was written
    # a symlinked folder is refused too
    os.rename(bundle / "scripts", bundle.parent / "scripts")
    os.symlink(bundle.parent / "scripts", bundle / "scripts")
    with pytest.raises(BundleError, match=r"scripts/build.sh: scripts is a symlink"):
        adopt(bundle, ["scripts/build.sh"])


def test_python_api(bundle):
    import fpga_accel

    deepen(bundle)
    res = fpga_accel.adopt(bundle)
    assert [(e.file, e.kind, e.added, e.removed) for e in res.edits] == [(TOP, "modified", 1, 1)]
    assert res.left == [] and not res.rebuild
    assert load_bundle(bundle).manifest["overrides"][0]["sha256"] == sha(bundle / TOP)


def test_add_adopts_a_new_file(bundle, capsys):
    (bundle / "hls/src/tuning.h").write_text("#define FA_TUNED 1\n#define FA_II 1\n")
    assert main(["adopt", str(bundle)]) == 2
    assert "pass --add" in capsys.readouterr().err
    assert main(["adopt", str(bundle), "--add"]) == 0
    assert "hls/src/tuning.h: +2 -0 lines against the empty file" in capsys.readouterr().out
    [o] = load_bundle(bundle).manifest["overrides"]
    assert o["file"] == "hls/src/tuning.h" and o["compiled_sha256"] is None


def test_a_forged_override_record_is_refused(bundle):
    from fpga_accel.bundle import write_manifest

    m = json.loads((bundle / "manifest.json").read_text())
    m["overrides"] = [{"file": "weights.npz", "compiled_sha256": None, "sha256": m["files"]["weights.npz"],
                       "when": "now"}]
    write_manifest(bundle, m)
    with pytest.raises(BundleError, match=r"manifest key 'overrides\[0\].file' names 'weights.npz'"):
        load_bundle(bundle)


# --- FIFO depths at compile ------------------------------------------------------------------------
def test_compile_fifo_depth_writes_and_records_the_pragma(tmp_path, capsys):
    out = tmp_path / "d.fpga"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"fifo_depths": {"s3": 32, "s1": 4}}))
    code = main(["compile", str(MLP / "model.onnx"), "--calib", str(MLP / "calib.npz"), "-o", str(out),
                 "--config", str(cfg), "--fifo-depth", f"{STREAM}=16"])
    assert code == 0, capsys.readouterr().err
    top = (out / TOP).read_text()
    assert f"#pragma HLS STREAM variable = {STREAM} depth = 16\n" in top  # the option wins over the config
    assert f"#pragma HLS STREAM variable = {STREAM2} depth = 32\n" in top
    m = load_bundle(out).manifest
    assert m["fifo_depths"] == {STREAM: 16, STREAM2: 32}
    assert {s["name"]: s["depth"] for s in m["hls"]["streams"]}[STREAM] == 16
    from fpga_accel.sim.simulate import stream_depths

    assert stream_depths(out / "hls")[STREAM] == 16


@pytest.mark.parametrize("arg, message", [
    ("s9=4", ("error: no stream named 's9' in this network (a FIFO depth names a stream as `fpga-accel simulate` "
              "and fa_top.cpp do: its full name or its s<k> prefix); its streams: {streams}")),
    ("s1=0", "error: --fifo-depth 's1=0': expected STREAM=DEPTH with a positive integer depth"),
    ("s1=4000000", "error: FIFO depth of stream 's1' must be an integer from 1 to 1048576, got 4000000"),
])
def test_compile_fifo_depth_errors_name_the_stream(compiled, tmp_path, capsys, arg, message):
    # the same compile's streams between stages (the top's in<i>/out<i> ports are not named by depth)
    streams = [s["name"] for s in load_bundle(compiled).manifest["hls"]["streams"] if re.match(r"s\d+_", s["name"])]
    assert STREAM in streams and STREAM2 in streams
    message = message.replace("{streams}", ", ".join(streams))
    code = main(["compile", str(MLP / "model.onnx"), "--calib", str(MLP / "calib.npz"), "-o",
                 str(tmp_path / "e.fpga"), "--fifo-depth", arg])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "e.fpga").exists()


def test_config_fifo_depths_are_checked():
    from fpga_accel.errors import InputError
    from fpga_accel.quant.config import QuantConfig

    with pytest.raises(InputError, match=r"config key 'fifo_depths', stream 's3': the depth must be a positive "
                                         r"integer, got -1"):
        QuantConfig.from_mapping({"fifo_depths": {"s3": -1}})
    with pytest.raises(InputError, match=r"config key 'fifo_depths' must map stream names to depths"):
        QuantConfig.from_mapping({"fifo_depths": [64]})
