"""The build orchestration end to end with recording stand-ins for vitis_hls, vivado, v++ and aws:
steps, logs, resume, failures, missing tools, report parsing, the registry, the bitstream check."""
from __future__ import annotations

import json
import shutil

import pytest
from stand_ins.helpers import calls, compile_bundle, use_stand_ins

from fpga_accel.bundle import load_bundle, sha256_file, write_manifest
from fpga_accel.bundle_bitstream import check_bitstream
from fpga_accel.cli import main
from fpga_accel.flow import BitstreamMismatchError, BuildError, ToolFailedError, ToolNotFoundError, build
from fpga_accel.flow.bitstream_registry import read_index

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")


@pytest.fixture
def zynq(tmp_path, monkeypatch):
    bundle = compile_bundle(tmp_path / "m.fpga", "pynq-z2")
    record = use_stand_ins(monkeypatch, tmp_path)
    return bundle, record, tmp_path


def tools_called(record):
    return [c["tool"] for c in calls(record)]


def test_zynq_build_end_to_end(zynq):
    bundle, record, tmp = zynq
    predicted = bundle.manifest["kernel"]["axis"]["registers"]["n_images"]
    lines = []
    rec = build(bundle.path, registry=tmp / "reg", echo=lines.append)
    assert tools_called(record) == ["vitis_hls", "vivado"]
    hls_call, viv_call = calls(record)
    assert hls_call["cwd"] == str(bundle.path / "build/hls")
    assert viv_call["argv"][:5] == ["-mode", "batch", "-nojournal", "-source", str(bundle.path / "scripts/vivado_bd.tcl")]
    # the bundle's own files are untouched: the tools worked on a copy of hls/
    assert load_bundle(bundle.path).manifest["build"]["bitstream"] == "bitstream/bitstream.json"
    state = json.loads((bundle.path / "build/state.json").read_text())
    for step in ("hls", "vivado"):
        entry = state["steps"][step]
        assert entry["status"] == "done" and entry["seconds"] >= 0
        log = (bundle.path / entry["log"]).read_text()
        assert log.startswith(f"# fpga-accel build step '{step}'") and "stand-in" in log
        for rel, digest in entry["outputs"].items():
            assert sha256_file(bundle.path / rel) == digest
    assert any("hls: done in" in line for line in lines)
    # reports parsed from the files the stand-ins wrote
    assert rec["tools"] == {"vitis_hls": "0000.0-stand-in", "vivado": "0000.0-stand-in"}
    assert rec["hls"]["latency_cycles"]["interval_max"] == 800
    assert rec["resources"]["hls_estimate"] == {"lut": 1000, "ff": 2000, "dsp": 3, "bram18": 6, "uram": 0}
    assert rec["resources"]["implemented"] == {"lut": 1111, "ff": 2222, "bram18": 7, "dsp": 4}
    assert rec["timing"]["wns_ns"] == 1.25 and rec["timing"]["met"] is True
    clock = bundle.manifest["board"]["clock_mhz"]
    assert rec["timing"]["fmax_mhz"] == round(1000 / (1000 / clock - 1.25), 2)
    # the generated driver's offset replaces the prediction in the manifest
    m = json.loads((bundle.path / "manifest.json").read_text())
    measured = rec["registers"]["offsets"]["n_images"]
    assert measured != predicted and m["kernel"]["axis"]["registers"]["n_images"] == measured
    assert rec["registers"]["changed_from_prediction"] == [{"name": "n_images", "predicted": predicted,
                                                            "measured": measured}]
    assert m["kernel"]["axis"]["offsets_source"].endswith("xfa_axis_hw.h")
    # estimates (when the folder wrote them) side by side with the reports
    ests = [lay.get("estimate") for lay in m["layers"] if lay.get("estimate")]
    if ests:
        dsp = next(r for r in rec["comparison"] if r["resource"] == "dsp")
        assert dsp["estimate"] == sum(e["dsp"] for e in ests) and dsp["hls"] == 3 and dsp["implemented"] == 4
    # the registry entry and the bitstream record
    index = read_index(tmp / "reg")
    (entry,) = index["bitstreams"]
    assert entry["board"] == "pynq-z2" and entry["clock_mhz"] == clock
    assert entry["model_sha256"] == m["model"]["sha256"]
    assert entry["files"]["fa_overlay.bit"] == sha256_file(bundle.path / "bitstream/fa_overlay.bit")
    assert (tmp / "reg" / entry["id"] / "fa_overlay.hwh").is_file()
    checked = check_bitstream(bundle.path)
    assert checked["paths"]["fa_overlay.bit"] == str(bundle.path / "bitstream/fa_overlay.bit")


def test_rerun_skips_finished_steps_and_redoes_changed_ones(zynq):
    bundle, record, tmp = zynq
    build(bundle.path, registry=False, echo=lambda s: None)
    first = json.loads((bundle.path / "bitstream/bitstream.json").read_text())
    lines = []
    rec = build(bundle.path, registry=tmp / "reg", echo=lines.append)
    assert tools_called(record) == ["vitis_hls", "vivado"]
    assert "every selected step is up to date" in lines
    # nothing rebuilt: the record keeps its date, and the registry still gets the entry
    assert json.loads((bundle.path / "bitstream/bitstream.json").read_text()) == first
    assert read_index(tmp / "reg")["bitstreams"][0]["id"] == rec["registry_entry"]
    # an output of the vivado step changed: only vivado runs again
    (bundle.path / "bitstream/fa_overlay.bit").write_text("changed")
    rec = build(bundle.path, registry=False, echo=lambda s: None)
    assert tools_called(record) == ["vitis_hls", "vivado", "vivado"]
    # the register offsets measured by the first run still say what they replaced
    assert [c["name"] for c in rec["registers"]["changed_from_prediction"]] == ["n_images"]
    # --jobs is not part of a step's identity
    build(bundle.path, jobs=7, registry=False, echo=lambda s: None)
    assert len(calls(record)) == 3


def test_selected_steps_only(zynq):
    bundle, record, tmp = zynq
    rec = build(bundle.path, steps=["hls"], registry=tmp / "reg", echo=lambda s: None)
    assert tools_called(record) == ["vitis_hls"]
    assert "bitstream" not in rec and not (tmp / "reg/index.json").exists()
    assert rec["hls"]["top"] == "fa_axis"
    with pytest.raises(BuildError, match="unknown build step.*link.*steps are hls, vivado"):
        build(bundle.path, steps=["link"])


def test_failed_tool_shows_command_log_and_tail(zynq, monkeypatch):
    bundle, record, _tmp = zynq
    monkeypatch.setenv("FA_STANDIN_FAIL", "vivado")
    with pytest.raises(ToolFailedError) as err:
        build(bundle.path, registry=False, echo=lambda s: None)
    e = err.value
    assert e.exit_code == 4 and e.status == 1 and e.step == "vivado"
    assert "vivado -mode batch" in e.command and e.log == str(bundle.path / "build/logs/vivado.log")
    msg = str(e)
    assert "ERROR: [stand-in vivado] the failure this test asked for" in msg
    assert "progress line 39" in msg and "progress line 5\n" not in msg  # the tail, not the whole log
    state = json.loads((bundle.path / "build/state.json").read_text())
    assert state["steps"]["hls"]["status"] == "done" and state["steps"]["vivado"]["status"] == "failed"
    with pytest.raises(BitstreamMismatchError, match="no bitstream"):
        check_bitstream(bundle.path)
    monkeypatch.delenv("FA_STANDIN_FAIL")
    build(bundle.path, registry=False, echo=lambda s: None)
    assert tools_called(record) == ["vitis_hls", "vivado", "vivado"]


def test_missing_tool_exits_3_with_manual_commands(tmp_path, monkeypatch, capsys):
    bundle = compile_bundle(tmp_path / "m.fpga", "pynq-z2")
    record = use_stand_ins(monkeypatch, tmp_path, skip=("vivado",))
    with pytest.raises(ToolNotFoundError) as err:
        build(bundle.path, registry=False)
    assert err.value.tool == "vivado" and err.value.exit_code == 3
    assert "settings64.sh" in str(err.value)
    assert any("vivado -mode batch -nojournal -source" in c for c in err.value.commands)
    assert calls(record) == []  # nothing ran: the check comes first
    assert main(["build", str(bundle.path), "--no-registry"]) == 3
    out = capsys.readouterr().err
    assert "needs 'vivado'" in out and "FA_TOP=fa_axis vitis_hls -f run_hls.tcl" in out


def test_dry_run_prints_commands_and_runs_nothing(zynq, capsys):
    bundle, record, _tmp = zynq
    assert main(["build", str(bundle.path), "--dry-run", "--jobs", "5"]) == 0
    out = capsys.readouterr().out
    assert "[run ] hls:" in out and "[run ] vivado:" in out and out.rstrip().endswith(" 5")
    assert calls(record) == [] and not (bundle.path / "build").exists()


def test_cli_build_and_bitstreams_listing(zynq, capsys):
    bundle, _record, tmp = zynq
    assert main(["build", str(bundle.path), "--registry", str(tmp / "reg")]) == 0
    out = capsys.readouterr().out
    assert "WNS +1.250 ns, met" in out and "registry entry main_graph-pynq-z2-" in out
    assert main(["bitstreams", "--registry", str(tmp / "reg")]) == 0
    out = capsys.readouterr().out
    assert "main_graph-pynq-z2-" in out and "1111" in out and "vivado 0000.0-stand-in" in out
    assert main(["bitstreams", "--registry", str(tmp / "reg"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bitstreams"][0]["board"] == "pynq-z2"


def test_bitstream_of_another_bundle_is_refused(zynq):
    bundle, _record, tmp = zynq
    build(bundle.path, registry=False, echo=lambda s: None)
    other = compile_bundle(tmp / "other.fpga", "pynq-z2", bits=6)
    shutil.copytree(bundle.path / "bitstream", other.path / "bitstream")
    with pytest.raises(BitstreamMismatchError, match="does not belong to this bundle: bundle files differ from the build.s: hls/"):
        check_bitstream(other.path)
    faster = compile_bundle(tmp / "fast.fpga", "pynq-z2", clock_mhz=125.0)
    shutil.copytree(bundle.path / "bitstream", faster.path / "bitstream")
    with pytest.raises(BitstreamMismatchError, match="board clock_mhz 100.0, the bundle has 125.0"):
        check_bitstream(faster.path)
    # a changed binary in the right bundle
    (bundle.path / "bitstream/fa_overlay.hwh").write_text("edited")
    with pytest.raises(BitstreamMismatchError, match="fa_overlay.hwh changed since the build"):
        check_bitstream(bundle.path)


def test_vitis_build_links_an_xclbin(tmp_path, monkeypatch):
    bundle = compile_bundle(tmp_path / "u50.fpga", "alveo-u50")
    args = [a["name"] for a in bundle.manifest["kernel"]["args"]]
    record = use_stand_ins(monkeypatch, tmp_path, kernel_args=args)
    rec = build(bundle.path, registry=tmp_path / "reg", echo=lambda s: None)
    assert tools_called(record) == ["vitis_hls", "v++"]
    link = calls(record)[1]["argv"]
    assert link[:2] == ["-l", "-t"] and link[link.index("--platform") + 1] == bundle.manifest["board"]["platform"]
    assert link[link.index("--config") + 1] == str(bundle.path / "scripts/link.cfg")
    assert link[-1].endswith(".xo")
    assert rec["timing"]["wns_ns"] == 0.1 and rec["timing"]["met"] is True
    assert rec["resources"]["implemented"]["lut"] == 5000
    assert rec["registers"]["file"].endswith(".xo:kernel.xml")
    assert set(rec["registers"]["offsets"]) == set(args)
    entry = read_index(tmp_path / "reg")["bitstreams"][0]
    assert entry["files"] == {"fa_kernel.xclbin": sha256_file(bundle.path / "bitstream/fa_kernel.xclbin")}
    assert check_bitstream(bundle.path)["board"]["name"] == "alveo-u50"


def test_vitis_platform_override_reruns_link(tmp_path, monkeypatch):
    bundle = compile_bundle(tmp_path / "u250.fpga", "alveo-u250")
    record = use_stand_ins(monkeypatch, tmp_path, kernel_args=[a["name"] for a in bundle.manifest["kernel"]["args"]])
    build(bundle.path, registry=False, echo=lambda s: None)
    build(bundle.path, registry=False, platform="/opt/platforms/other.xpfm", echo=lambda s: None)
    assert tools_called(record) == ["vitis_hls", "v++", "v++"]
    assert calls(record)[-1]["argv"][4] == "/opt/platforms/other.xpfm"


def test_aws_f1_afi_step(tmp_path, monkeypatch):
    bundle = compile_bundle(tmp_path / "f1.fpga", "aws-f1")
    record = use_stand_ins(monkeypatch, tmp_path, kernel_args=[a["name"] for a in bundle.manifest["kernel"]["args"]])
    with pytest.raises(BuildError, match="S3 bucket.*retired the F1 instances on 2025-12-20"):
        build(bundle.path, registry=False, echo=lambda s: None)
    assert calls(record) == []
    rec = build(bundle.path, registry=tmp_path / "reg", s3_bucket="fa-test-bucket", echo=lambda s: None)
    tools = tools_called(record)
    assert tools[:3] == ["vitis_hls", "v++", "create_vitis_afi.sh"] and tools[3:] == ["aws", "aws"]  # pending, available
    afi_call = calls(record)[2]["argv"]
    assert "-s3_bucket=fa-test-bucket" in afi_call and "-xclbin=" + str(bundle.path / "bitstream/fa_kernel.xclbin") in afi_call
    poll = calls(record)[3]["argv"]
    assert poll[:2] == ["ec2", "describe-fpga-images"] and poll[poll.index("--fpga-image-ids") + 1] == "afi-0fa4e0000000000f"
    assert rec["afi"] == {"afi_id": "afi-0fa4e0000000000f", "agfi_id": "agfi-0fa4e0000000000f", "state": "available",
                          "s3_bucket": "fa-test-bucket", "s3_prefix": "fpga-accel/main_graph"}
    entry = read_index(tmp_path / "reg")["bitstreams"][0]
    assert entry["afi"]["agfi_id"] == "agfi-0fa4e0000000000f"
    assert set(entry["files"]) == {"fa_kernel.xclbin", "fa_kernel.awsxclbin"}


def test_bundle_without_board_data_gets_a_clear_error(tmp_path):
    def no_part(stage, qmodel, manifest):
        manifest["board"]["part"] = None
        manifest["board"]["family"] = None
        manifest["board"]["name"] = "custom-board"

    bundle = compile_bundle(tmp_path / "x.fpga", "pynq-z2", extra=[no_part])
    assert "error" in bundle.manifest["scripts"]
    with pytest.raises(BuildError, match="no build scripts were generated.*custom-board"):
        build(bundle.path)


def test_flow_with_a_minimal_hls_script(tmp_path, monkeypatch):
    bundle = compile_bundle(tmp_path / "p.fpga", "pynq-z2", hls="placeholder")
    record = use_stand_ins(monkeypatch, tmp_path)
    rec = build(bundle.path, registry=False, echo=lambda s: None)
    assert tools_called(record) == ["vitis_hls", "vivado"] and rec["hls"]["top"] == "fa_axis"
    assert (bundle.path / "bitstream/fa_overlay.bit").is_file()


def test_vitis_sources_without_hls_script_use_vpp_compile(tmp_path, monkeypatch):
    from stand_ins.helpers import drop_hls_script, hls_generator_available

    if not hls_generator_available():
        pytest.skip("needs the HLS sources of the project generator")
    bundle = compile_bundle(tmp_path / "s.fpga", "alveo-u250", extra=[drop_hls_script])
    record = use_stand_ins(monkeypatch, tmp_path)
    build(bundle.path, registry=False, echo=lambda s: None)
    compile_call, link_call = calls(record)
    assert compile_call["tool"] == link_call["tool"] == "v++"
    argv = compile_call["argv"]
    assert argv[:2] == ["-c", "-t"] and argv[argv.index("-k") + 1] == "fa_kernel"
    assert str(bundle.path / "hls/src/fa_top.cpp") in argv and f"-I{bundle.path}/hls/include" in argv
    assert link_call["argv"][-1] == str(bundle.path / "build/hls/fa_kernel.xo")


def test_scripts_for_other_streams_are_refused(tmp_path):
    bundle = compile_bundle(tmp_path / "m.fpga", "pynq-z2")
    path = bundle.path / "manifest.json"
    m = json.loads(path.read_text())
    m["scripts"]["streams"][0]["tdata_bits"] *= 2  # as if the scripts saw other lanes than the HLS project
    write_manifest(bundle.path, m)  # sealed: as a compile with that mistake would have written it
    with pytest.raises(BuildError, match="generated for other streams.*after the HLS generator"):
        build(bundle.path)
