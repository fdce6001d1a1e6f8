"""Timing closure: the Vivado script copies no bitstream that misses timing, the runner refuses the
build with the WNS, the report and the way out (exit 4), --allow-timing-failure keeps it; the link
step reads v++'s routed timing summary alike. The stand-ins write passing and failing reports."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from stand_ins.helpers import HERE, calls, compile_bundle, fresh_copy, use_stand_ins

from fpga_accel.cli import main
from fpga_accel.flow import build
from fpga_accel.flow.reports import parse_timing_summary
from fpga_accel.flow.timing import TimingNotMetError

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")


@pytest.fixture(scope="module")
def zynq_bundle(tmp_path_factory):
    return compile_bundle(tmp_path_factory.mktemp("t") / "m.fpga", "pynq-z2")


def test_vivado_script_keeps_no_failing_bitstream(zynq_bundle, tmp_path):
    def run(**env):
        driver = (f"source {{{HERE / 'vivado_stubs.tcl'}}}\nset argv {{{tmp_path / 'ip'} {tmp_path / 'out'}}}\n"
                  f"set argc 2\nif {{[catch {{source {{{zynq_bundle.path / 'scripts/vivado_bd.tcl'}}}}} msg]}} "
                  "{ puts \"ERROR: $msg\"; exit 1 }\n")
        return subprocess.run(["tclsh"], input=driver, text=True, cwd=tmp_path, capture_output=True, check=False,
                              env={**os.environ, "FA_TCL_RECORD": str(tmp_path / "rec.txt"), **env})
    proc = run(FA_STANDIN_WNS="-0.321")
    assert proc.returncode == 1 and "timing constraints are not met" in proc.stdout
    assert str(tmp_path / "reports/timing_summary.rpt") in proc.stdout and "FA_ALLOW_TIMING_FAILURE=1" in proc.stdout
    assert not (tmp_path / "out/fa_overlay.bit").exists() and not (tmp_path / "out/fa_overlay.hwh").exists()
    t = parse_timing_summary(tmp_path / "reports/timing_summary.rpt")
    assert t["wns_ns"] == -0.321 and t["met"] is False
    proc = run(FA_STANDIN_WNS="-0.321", FA_ALLOW_TIMING_FAILURE="1")
    assert proc.returncode == 0 and "WARNING: fpga-accel: timing constraints are not met" in proc.stdout
    assert (tmp_path / "out/fa_overlay.bit").is_file()


def test_build_refuses_a_design_that_misses_timing(zynq_bundle, tmp_path, monkeypatch, capsys):
    root = fresh_copy(zynq_bundle, tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    monkeypatch.setenv("FA_STANDIN_WNS", "-0.321")
    with pytest.raises(TimingNotMetError) as err:
        build(root, registry=tmp_path / "reg", echo=lambda s: None)
    e = err.value
    msg = str(e)
    clock = zynq_bundle.manifest["board"]["clock_mhz"]
    assert e.exit_code == 4 and e.step == "vivado" and e.timing["wns_ns"] == -0.321
    assert f"does not meet timing at {clock:g} MHz: WNS -0.321 ns" in msg
    assert e.report == str(root / "build/vivado/reports/timing_summary.rpt") and e.report in msg
    assert "--clock" in msg and "--allow-timing-failure" in msg
    assert f"about {round(1000 / (1000 / clock + 0.321), 2):g} MHz would meet" in msg
    assert "fa_bd_wrapper.bit" in msg  # where the unchecked bitstream stays
    assert not (root / "bitstream/fa_overlay.bit").exists() and not (tmp_path / "reg/index.json").exists()
    state = json.loads((root / "build/state.json").read_text())
    assert state["steps"]["vivado"]["status"] == "timing_failed"
    assert state["steps"]["vivado"]["report"]["timing"]["wns_ns"] == -0.321
    # the CLI: exit 4 with the same message; then --allow-timing-failure keeps the bitstream
    assert main(["build", str(root), "--no-registry"]) == 4
    assert "WNS -0.321 ns" in capsys.readouterr().err
    rec = build(root, registry=False, echo=lambda s: None, allow_timing_failure=True)
    assert rec["timing"]["met"] is False and rec["timing"]["failure_allowed"] is True
    assert (root / "bitstream/fa_overlay.bit").is_file()
    vivado = [c for c in calls(record) if c["tool"] == "vivado"]
    assert len(vivado) == 3  # refused twice, then kept
    assert "copied as FA_ALLOW_TIMING_FAILURE=1 asks" in (root / "build/logs/vivado.log").read_text()


def test_link_step_refuses_a_failing_timing_report(tmp_path, monkeypatch):
    bundle = compile_bundle(tmp_path / "u250.fpga", "alveo-u250")
    use_stand_ins(monkeypatch, tmp_path, kernel_args=[a["name"] for a in bundle.manifest["kernel"]["args"]])
    monkeypatch.setenv("FA_STANDIN_WNS", "-0.100")
    with pytest.raises(TimingNotMetError, match="step 'link'.*WNS -0.100 ns") as err:
        build(bundle.path, registry=False, echo=lambda s: None)
    assert err.value.report.endswith("timing_summary_routed.rpt") and os.path.isfile(err.value.report)
    assert not (bundle.path / "bitstream/fa_kernel.xclbin").exists()  # v++ wrote it; the build removed it
    rec = build(bundle.path, registry=False, echo=lambda s: None, allow_timing_failure=True)
    assert rec["timing"]["wns_ns"] == -0.1 and (bundle.path / "bitstream/fa_kernel.xclbin").is_file()


def test_timing_summary_verdict(tmp_path):
    head = ("    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)\n"
            "    -------      -------  ---------------------  -------------------      -------      -------\n")
    p = tmp_path / "t.rpt"
    p.write_text(head + "      0.500        0.000      0     10       -0.020       -0.040\n")
    assert parse_timing_summary(p)["met"] is False  # no verdict line: a hold violation decides
    p.write_text(head + "      0.500        0.000      0     10        0.020        0.000\n")
    assert parse_timing_summary(p)["met"] is True
