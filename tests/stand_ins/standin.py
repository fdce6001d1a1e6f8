"""Recording stand-ins for the vendor executables (vitis_hls, vivado, v++, create_vitis_afi.sh, aws,
and the AWS F2 HDK's aws_build_dcp_from_cl.py).

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
    if argv[:2] == ["s3", "cp"]:
        src = [a for a in argv[2:] if not a.startswith("-") and not a.startswith("s3://")]
        if len(src) != 1 or not Path(src[0]).is_file() or not any(a.startswith("s3://") for a in argv):
            print(f"ERROR: [stand-in aws] s3 cp needs an existing file and an s3:// destination: {argv}")
            return 1
        return 0
    if argv[:2] == ["ec2", "create-fpga-image"]:
        for opt in ("--name", "--input-storage-location", "--logs-storage-location"):
            if opt not in argv:
                print(f"ERROR: [stand-in aws] create-fpga-image without {opt}")
                return 1
        print("afi-0fa4f2000000000f\tagfi-0fa4f2000000000f")
        return 0
    # describe-fpga-images: "pending" on the first call of this directory, "available" after
    count = Path(".stand_in_polls")
    n = int(count.read_text()) if count.exists() else 0
    count.write_text(str(n + 1))
    print("pending" if n == 0 else "available")
    return 0


def hdk_build(argv):
    """aws_build_dcp_from_cl.py: the checks the HDK's script makes, the CL's synthesis Tcl run under the
    Vivado stubs (after the copy its encrypt.tcl makes), and a FAKE checkpoint tarball."""
    import re
    import shutil
    import tarfile

    opts = dict(zip(argv[::2], argv[1::2]))
    cl, tag = opts.get("--cl", "cl_dram_hbm_dma"), opts.get("--tag", "00_00_0000-000000")
    cl_dir = os.environ.get("CL_DIR")
    if not cl_dir:
        print("ERROR: $CL_DIR environment variable not set")
        return 1
    cl_dir = Path(cl_dir).resolve()
    if not str(Path.cwd().resolve()).startswith(str(cl_dir)) or cl_dir.name != cl:
        print(f"ERROR: run from inside $CL_DIR, whose folder name is the --cl name ({cl_dir}, {cl}, {Path.cwd()})")
        return 1
    need = [f"design/{cl}.sv", "design/cl_id_defines.vh", f"build/scripts/synth_{cl}.tcl",
            "build/constraints/cl_synth_user.xdc", "build/constraints/cl_timing_user.xdc",
            "build/constraints/small_shell_cl_pnr_user.xdc",
            *(f"build/scripts/{s}" for s in ("build_all.tcl", "build_level_1_cl.tcl", "encrypt.tcl"))]
    missing = [n for n in need if not (cl_dir / n).is_file()]
    if missing:
        print(f"ERROR: [stand-in aws_build_dcp_from_cl.py] the CL folder lacks {missing}")
        return 1
    ids = {}
    for line in (cl_dir / "design/cl_id_defines.vh").read_text().splitlines():
        m = re.search(r"`define\s+(CL_SH_ID[01])\s+32'h([0-9A-Fa-f]{4})_([0-9A-Fa-f]{4})", line)
        if m:
            ids[m.group(1)] = (m.group(2), m.group(3))
    if set(ids) != {"CL_SH_ID0", "CL_SH_ID1"}:
        print("ERROR: Cannot find the PCIe ID definitions in cl_id_defines.vh")
        return 1
    build = cl_dir / "build"
    enc = build / "src_post_encryption"
    enc.mkdir(parents=True, exist_ok=True)
    for f in (cl_dir / "design").iterdir():
        if f.suffix in (".v", ".sv", ".vh", ".svh", ".inc"):
            shutil.copy(f, enc / f.name)
    hdk = os.environ.get("HDK_SHELL_DIR", "")
    variables = {"HDK_SHELL_DIR": hdk, "HDK_IP_SRC_DIR": f"{hdk}/ip", "CL_DIR": str(cl_dir), "CL": cl,
                 "src_post_enc_dir": str(enc), "build_dir": str(build), "constraints_dir": str(build / "constraints"),
                 "DEVICE_TYPE": "xcvu47p-fsvh2892-2-e"}
    script = "".join(f"set {k} {{{v}}}\n" for k, v in variables.items())
    script += f"source {{{cl_dir / 'build/scripts' / f'synth_{cl}.tcl'}}}\n"
    driver = Path(".stand_in_build_all.tcl")
    driver.write_text(script)
    sys.stdout.flush()
    rc = run_tcl("vivado_stubs.tcl", str(driver.resolve()), [])
    driver.unlink()
    if rc:
        return rc
    ck = build / "checkpoints"
    ck.mkdir(exist_ok=True)
    violated = float(os.environ.get("FA_STANDIN_WNS") or "0.1") < 0
    dcp = ck / f"{cl}.{tag}.post_route{'.VIOLATED' if violated else ''}.dcp"
    dcp.write_text("FAKE routed checkpoint written by a test stand-in for the AWS HDK\n")
    wns = float(os.environ.get("FA_STANDIN_WNS") or "0.1")
    (build / "reports").mkdir(exist_ok=True)
    (build / "reports" / f"{cl}.{tag}.post_route_timing.rpt").write_text(
        "FAKE report_timing output written by a test stand-in for the AWS HDK; the numbers are made up\n"
        + "".join(f"Timing Report\n\nSlack ({'VIOLATED' if wns + d < 0 else 'MET'}) :        {wns + d:.3f}ns  "
                  "(required time - arrival time)\n  Source: x\n\n" for d in (0.5, 0.0, 0.25)))
    manifest = Path("to_aws") / f"{tag}.manifest.txt"
    manifest.parent.mkdir(exist_ok=True)
    (d0, v0), (d1, v1) = ids["CL_SH_ID0"], ids["CL_SH_ID1"]
    manifest.write_text(f"manifest_format_version=2\npci_vendor_id=0x{v0}\npci_device_id=0x{d0}\n"
                        f"pci_subsystem_id=0x{d1}\npci_subsystem_vendor_id=0x{v1}\ndcp_file_name={tag}.SH_CL_routed.dcp\n"
                        "FAKE=written by a test stand-in\n")
    shutil.copy(dcp, Path("to_aws") / f"{tag}.SH_CL_routed.dcp")
    with tarfile.open(ck / f"{tag}.Developer_CL.tar", "w") as t:
        t.add("to_aws")
    shutil.rmtree("to_aws")
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
    elif tool == "aws_build_dcp_from_cl.py":
        rc = hdk_build(argv)
    else:
        rc = 2
    sys.exit(rc)


if __name__ == "__main__":
    main()
