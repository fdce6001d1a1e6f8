"""Recording stand-ins for the vendor executables (vitis_hls, vivado, v++, create_vitis_afi.sh, aws).

Tests put wrappers named after the tools on PATH; each runs ``python standin.py TOOL ARGS...``.
Every call is appended (JSON lines) to ``$FA_STANDIN_CALLS``. The Tcl tools really run the
given script in ``tclsh`` with the stub procs of ``vivado_stubs.tcl`` / ``hls_stubs.tcl``; the
others write FAKE outputs. ``FA_STANDIN_FAIL=TOOL`` makes that tool fail with an error message.
``FA_STANDIN_RELEASE`` is the release the tools report (``v++ --version``, ``vitis_hls -version``,
the log banners); ``FA_STANDIN_WNS`` a negative slack makes the timing reports fail.
``v++ -c --mode hls --config FILE --work_dir DIR`` parses the config (hls_config.py), refuses one
that does not name existing sources and include folders, runs the matching Vitis HLS commands
under hls_stubs.tcl in DIR and packs the export (.xo, or the IP zip beside DIR/hls/impl/ip).
Nothing written here is a real tool output: every file says FAKE.
"""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def record(tool, argv, suffix="", **extra):
    path = os.environ.get("FA_STANDIN_CALLS")
    if path:
        with open(path + suffix, "a") as f:
            f.write(json.dumps({"tool": tool, "argv": argv, "cwd": os.getcwd(), **extra}) + "\n")


def release():
    return os.environ.get("FA_STANDIN_RELEASE") or "0000.0-stand-in"


def fail_if_asked(tool):
    if os.environ.get("FA_STANDIN_FAIL") == tool:
        for i in range(40):
            print(f"INFO: [stand-in {tool}] progress line {i}")
        print(f"ERROR: [stand-in {tool}] the failure this test asked for")
        sys.exit(1)


def run_tcl(stubs, script, tclargs):
    driver = (f"source {{{HERE / stubs}}}\nset argv {{{' '.join(tclargs)}}}\nset argc {len(tclargs)}\n"
              f"if {{[catch {{source {{{script}}}}} msg]}} {{ puts \"ERROR: $msg\"; exit 1 }}\n")
    return subprocess.run(["tclsh"], input=driver, text=True, check=False).returncode


def tcl_tool(tool, argv, stubs):
    script = argv[argv.index("-f" if "-f" in argv else "-source") + 1]
    sys.stdout.flush()
    tclargs = argv[argv.index("-tclargs") + 1:] if "-tclargs" in argv else []
    rc = run_tcl(stubs, script, tclargs)
    for pending in Path.cwd().glob("**/*.xo.kernel.xml"):  # pack what export_design -format xo left
        xo = Path(str(pending)[: -len(".kernel.xml")])
        with zipfile.ZipFile(xo, "w") as z:
            z.write(pending, "fa_kernel/kernel.xml")
        pending.unlink()
    return rc


def vpp(argv):
    if "--mode" in argv and argv[argv.index("--mode") + 1] == "hls":
        return vpp_hls(argv)
    out = Path(argv[argv.index("-o") + 1])
    out.parent.mkdir(parents=True, exist_ok=True)
    if "-c" in argv:
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("fa_kernel/kernel.xml", "<root><kernel name='fa_kernel'><args/></kernel></root>")
        return 0
    cfg = Path(argv[argv.index("--config") + 1])
    if not cfg.is_file():
        print(f"ERROR: config file {cfg} not found")
        return 1
    out.write_text("FAKE xclbin written by a test stand-in for v++; not a real binary\n")
    rep = Path("_x/reports/link/imp")
    rep.mkdir(parents=True, exist_ok=True)
    (rep / "impl_1_full_util_routed.rpt").write_text(
        "FAKE report (stand-in)\n| Site Type | Used | Fixed | Available | Util% |\n"
        "| CLB LUTs | 5000 | 0 | 872000 | 0.57 |\n| CLB Registers | 7000 | 0 | 1743360 | 0.40 |\n"
        "| Block RAM Tile | 10 | 0 | 1344 | 0.74 |\n| URAM | 0 | 0 | 640 | 0.00 |\n| DSPs | 8 | 0 | 5952 | 0.13 |\n")
    wns = float(os.environ.get("FA_STANDIN_WNS") or "0.100")
    (rep / "impl_1_xilinx_stand_in_timing_summary_routed.rpt").write_text(
        "FAKE report (stand-in)\n    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)\n"
        "    -------      -------  ---------------------  -------------------      -------\n"
        f"     {wns:.3f}       {min(wns, 0) * 20:.3f}                     {12 if wns < 0 else 0}                 1000"
        "        0.010\n\n"
        + ("Timing constraints are not met.\n" if wns < 0 else "All user specified timing constraints are met.\n"))
    return 0


def vpp_hls(argv):
    """v++ -c --mode hls: check the config, then synthesise and export under the Vitis HLS stubs."""
    from hls_config import ConfigError, check_hls_config

    cfg = Path(argv[argv.index("--config") + 1]).resolve()
    work = Path(argv[argv.index("--work_dir") + 1]).resolve() if "--work_dir" in argv else Path.cwd() / "hls_work"
    try:
        c = check_hls_config(cfg)
    except ConfigError as e:
        print(f"ERROR: [stand-in v++] {cfg}: {e}")
        return 1
    record("v++", argv, ".configs", config=c)
    fmt = c["package.output.format"]
    out = work / c.get("package.output.file", "export." + ("xo" if fmt == "xo" else "zip"))
    tcl = work.parent / ".stand_in_hls.tcl"
    export = f"export_design -format {fmt}" + (f" -output {{{out}}}" if fmt == "xo" else "")
    tcl.write_text(f"open_project {{{work}}}\nset_top {c['syn.top']}\nopen_solution hls\n"
                   f"create_clock -period {c['period_ns']}\ncsynth_design\n{export}\n")
    rc = tcl_tool("v++", ["-f", str(tcl)], "hls_stubs.tcl")
    tcl.unlink()
    if rc == 0 and fmt == "ip_catalog":  # the IP as a zip too, as package.output.file asks
        ip = work / "hls/impl/ip"
        with zipfile.ZipFile(out, "w") as z:
            for p in sorted(ip.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(ip).as_posix())
    return rc


def create_afi(argv):
    opts = dict(a.lstrip("-").split("=", 1) for a in argv if "=" in a)
    Path("19700101-000000_afi_id.txt").write_text(json.dumps(
        {"FpgaImageId": "afi-0fa4e0000000000f", "FpgaImageGlobalId": "agfi-0fa4e0000000000f"}))
    Path(opts["o"] + ".awsxclbin").write_text("FAKE awsxclbin written by a test stand-in\n")
    return 0


def aws(argv):
    # describe-fpga-images: "pending" on the first call of this directory, "available" after
    count = Path(".stand_in_polls")
    n = int(count.read_text()) if count.exists() else 0
    count.write_text(str(n + 1))
    print("pending" if n == 0 else "available")
    return 0


def main():
    tool, argv = sys.argv[1], sys.argv[2:]
    banner = {"vivado": "Vivado", "vitis_hls": "Vitis HLS - High-Level Synthesis from C, C++ and OpenCL", "v++": "v++"}
    probe = argv in (["--version"], ["-version"])
    record(tool, argv, ".probes" if probe else "")
    if tool in banner:
        print(f"****** {banner[tool]} v{release()} (64-bit)")
        print("  **** FAKE: a test stand-in, not the AMD tool")
    if probe:
        sys.exit(0 if tool in banner else 2)
    fail_if_asked(tool)
    sys.stdout.flush()
    if tool == "vivado":
        rc = tcl_tool(tool, argv, "vivado_stubs.tcl")
    elif tool == "vitis_hls":
        rc = tcl_tool(tool, argv, "hls_stubs.tcl")
    elif tool == "v++":
        rc = vpp(argv)
    elif tool == "create_vitis_afi.sh":
        rc = create_afi(argv)
    elif tool == "aws":
        rc = aws(argv)
    else:
        rc = 2
    sys.exit(rc)


if __name__ == "__main__":
    main()
