"""The native host (host/: libfa_host and the fa-host command) on a CPU OpenCL device (PoCL):
its unit checks, the command's answers against the emulator bit for bit (whole batches, split
batches, named files), a hand-written kernel with a scratch argument, and the error cases:
each names what failed and exits non-zero."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fpga_accel
from fpga_accel.bundle_seal import seal
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends import native
from models import data

MODEL = "mnist_cnn"


@functools.cache
def _build() -> Path | str:
    try:
        path = native.build_host()
    except native.NativeBuildError as e:
        if "OpenCL headers or ICD loader not found" in str(e):
            return f"the native host cannot be built here: {e}"
        raise
    native._ensure_icd()  # the command's subprocesses find the same OpenCL vendor as the library
    return path


def built_host() -> Path:
    """host/ built once per test run (CMake's incremental build: a no-op when up to date); skips
    when the OpenCL headers or loader are missing."""
    got = _build()
    if isinstance(got, str):
        pytest.skip(got)
    return got


@pytest.fixture(scope="module")
def host_library():
    return built_host()


@pytest.fixture(scope="module")
def exe(host_library):
    return host_library.parent / "fa-host"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, host_library):
    from fpga_accel.codegen.opencl import generate_opencl

    out = tmp_path_factory.mktemp("native") / f"{MODEL}.fpga"
    b = fpga_accel.compile(data.model_path(MODEL), out, calib=data.load_calib(MODEL), progress=False,
                           generators=[generate_opencl])
    why = native.NativeBackend.unavailable(b)
    if why is not None:
        pytest.skip(why)
    return b


@pytest.fixture(scope="module")
def raw(bundle):
    """Test images and random integers over the whole input range, and the emulator's answer."""
    qm = load_qmodel(bundle)
    t = qm.inputs[0]
    with fpga_accel.Session(bundle) as s:
        x = s.hardware_inputs(data.load_test(MODEL)[0][:20])[t.name]
    qt = t.qparams.qtype
    noise = np.random.default_rng(3).integers(qt.min, qt.max + 1, (13, *t.shape[1:])).astype(qt.dtype)
    x = np.concatenate([x, noise])
    return t.name, x, run_layers(qm, {t.name: x})


def fa_host(exe, *args, cwd=None):
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300,
                          check=False)


def test_unit_checks_pass(host_library, tmp_path):
    r = subprocess.run([str(host_library.parent / "fa-host-selftest"), str(tmp_path)], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stderr
    passed = int(r.stdout.split()[0])
    assert passed >= 25 and ", 0 failed" in r.stdout


def test_run_equals_the_emulator_in_split_batches(exe, bundle, raw, tmp_path):
    _, x, want = raw
    np.save(tmp_path / "x.npy", x)
    r = fa_host(exe, "run", bundle.path, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy",
                "--batch", 7, "--repeat", 2, "--timing-json", tmp_path / "t.json")
    assert r.returncode == 0, r.stderr
    (out_name, ref), = want.items()
    got = np.load(tmp_path / "y.npy")
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    timing = json.loads((tmp_path / "t.json").read_text())
    calls = -(-len(x) // 7)
    assert timing["batch"] == [min(7, len(x) - 7 * i) for i in range(calls)] * 2
    assert len(timing["wall_ms"]) == 2 * calls and all(w > 0 for w in timing["wall_ms"])
    assert "per call" in r.stdout and "throughput" in r.stdout and out_name in r.stdout


def test_named_files_a_chosen_device_and_a_single_call(exe, bundle, raw, tmp_path):
    name, x, want = raw
    (out_name, ref), = want.items()
    np.save(tmp_path / "x.npy", x[:5])
    device = native.list_devices().split("device: ", 1)[1].split(" [", 1)[0]
    r = fa_host(exe, "run", bundle.path, "--input", f"{name}=x.npy", "--output", f"{out_name}=y.npy", "--quiet",
                "--device", device.upper(), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), ref[:5])


def test_info_and_devices(exe, bundle):
    r = fa_host(exe, "info", bundle.path)
    assert r.returncode == 0 and "fa_kernel" in r.stdout and "n_images" in r.stdout and "fa_kernel.cl" in r.stdout
    word = bundle.manifest["kernel"].get("mem_word_bytes", 1)
    assert (f"memory word: {word} bytes" in r.stdout) == (word > 1)
    r = fa_host(exe, "devices")
    assert r.returncode == 0 and "platform:" in r.stdout and "device:" in r.stdout


def test_session_on_the_native_backend_reports_timing(bundle, raw):
    name, x, want = raw
    with fpga_accel.Session(bundle, backend="native") as s:
        got = s.run({name: x}, raw=True)
        timing = s.backend.last_timing
    for k, v in want.items():
        np.testing.assert_array_equal(got[k], v)
    assert timing is None or timing["kernel_ns"] > 0


# --- errors --------------------------------------------------------------------------------
def _copy(bundle, tmp_path) -> Path:
    dst = tmp_path / "copy.fpga"
    shutil.copytree(bundle.path, dst)
    return dst


def _rewrite_manifest(path: Path, change) -> None:
    m = json.loads((path / "manifest.json").read_text())
    change(m)
    (path / "manifest.json").write_bytes(seal(m))


@pytest.mark.parametrize("case,words", [
    ("garbage", ["not a .npy file"]),
    ("shape", ["shape (3, 28, 28), but input", "takes (N, 28, 28, 1)"]),
    ("dtype", ["dtype float32, but input", "raw uint8 integers"]),
    ("truncated", ["truncated data"]),
    ("empty", ["holds no images"]),
    ("missing", ["cannot open"]),
])
def test_bad_inputs_are_named(exe, bundle, raw, tmp_path, case, words):
    x = raw[1]
    p = tmp_path / "x.npy"
    if case == "garbage":
        p.write_text("hello")
    elif case == "shape":
        np.save(p, x[:3, :, :, 0])
    elif case == "dtype":
        np.save(p, x[:3].astype(np.float32))
    elif case == "truncated":
        np.save(p, x[:3])
        p.write_bytes(p.read_bytes()[:-100])
    elif case == "empty":
        np.save(p, x[:0])
    r = fa_host(exe, "run", bundle.path, "--input", p, "--output", tmp_path / "y.npy")
    assert r.returncode == 1, r.stdout
    assert str(p) in r.stderr and all(w in r.stderr for w in words), r.stderr
    assert not (tmp_path / "y.npy").exists()


def test_missing_kernel_is_named(exe, bundle, raw, tmp_path):
    b = _copy(bundle, tmp_path)
    shutil.rmtree(b / "opencl")
    np.save(tmp_path / "x.npy", raw[1][:2])
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 1
    assert "no OpenCL device can run this bundle" in r.stderr and "has neither" in r.stderr, r.stderr
    why = native.NativeBackend.unavailable(_Stub(b))
    assert "neither bitstream/*.xclbin nor opencl/fa_kernel.cl" in why


class _Stub:
    """What ``unavailable`` reads of a bundle: its path."""

    def __init__(self, path):
        self.path = path


def test_changed_kernel_source_is_refused(exe, bundle, raw, tmp_path):
    b = _copy(bundle, tmp_path)
    with open(b / "opencl" / "fa_kernel.cl", "a") as f:
        f.write("\n/* edited */\n")
    np.save(tmp_path / "x.npy", raw[1][:2])
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 1 and "fa_kernel.cl: sha256" in r.stderr and "compile it again" in r.stderr, r.stderr


def test_kernel_that_does_not_build_shows_the_log(exe, bundle, raw, tmp_path):
    b = _copy(bundle, tmp_path)
    src = b / "opencl" / "fa_kernel.cl"
    src.write_text(src.read_text() + "\nthis is not OpenCL C;\n")
    _rewrite_manifest(b, lambda m: m["files"].pop("opencl/fa_kernel.cl"))
    np.save(tmp_path / "x.npy", raw[1][:2])
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 1
    assert "did not build" in r.stderr and "clBuildProgram" in r.stderr and "CL_BUILD_PROGRAM_FAILURE" in r.stderr
    assert "error" in r.stderr.split("build log:", 1)[1], r.stderr


@pytest.mark.parametrize("change,words", [
    (lambda m: m["kernel"].update(name="no_such_kernel"), ["clCreateKernel(no_such_kernel)", "CL_INVALID_KERNEL_NAME"]),
    (lambda m: m["kernel"]["args"].append({"name": "extra", "kind": "scalar", "dtype": "uint32"}),
     ["takes 3 arguments, manifest.json lists 4"]),
    (lambda m: m["kernel"]["args"][0].update(kind="stream"), ["kernel.args[0].kind is 'stream'"]),
    (lambda m: m.pop("kernel"), ["no \"kernel\" entry"]),
])
def test_manifest_mismatches_are_named(exe, bundle, raw, tmp_path, change, words):
    b = _copy(bundle, tmp_path)
    _rewrite_manifest(b, change)
    np.save(tmp_path / "x.npy", raw[1][:2])
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 1 and all(w in r.stderr for w in words), r.stderr


@pytest.mark.parametrize("edit", [
    lambda raw: raw.replace(b'"scale": 0.', b'"scale": 1.', 1),  # an edited scale, seal kept
    lambda raw: raw[:24] + (b"0" if raw[24:25] != b"0" else b"1") + raw[25:],  # the recorded digest
    lambda raw: raw + b" ",  # one byte more
    lambda raw: raw[:40] + raw[41:],  # one byte less inside the seal
], ids=["scale", "seal", "trailing-byte", "seal-cut"])
def test_the_host_refuses_an_edited_manifest(exe, bundle, tmp_path, edit):
    b = _copy(bundle, tmp_path)
    raw = (b / "manifest.json").read_bytes()
    assert fa_host(exe, "info", b).returncode == 0
    (b / "manifest.json").write_bytes(edit(raw))
    assert (b / "manifest.json").read_bytes() != raw
    r = fa_host(exe, "info", b)
    assert r.returncode == 1 and "manifest was changed after compilation" in r.stderr, r.stderr


def test_the_host_checks_the_signature_the_python_side_writes(exe, tmp_path, monkeypatch):
    b = _tiny_bundle(tmp_path / "signed.fpga", COPY_KERNEL)
    m = json.loads((b / "manifest.json").read_text())
    monkeypatch.setenv("FPGA_ACCEL_BUNDLE_KEY", "k" * 80)  # longer than a block: hashed first, as RFC 2104 says
    (b / "manifest.json").write_bytes(seal(m))
    assert fa_host(exe, "info", b).returncode == 0, fa_host(exe, "info", b).stderr
    monkeypatch.setenv("FPGA_ACCEL_BUNDLE_KEY", "another key")
    r = fa_host(exe, "info", b)
    assert r.returncode == 1 and "signature does not match" in r.stderr, r.stderr
    monkeypatch.delenv("FPGA_ACCEL_BUNDLE_KEY")
    (b / "manifest.json").write_bytes(seal(m))  # unsigned
    assert fa_host(exe, "info", b).returncode == 0
    monkeypatch.setenv("FPGA_ACCEL_BUNDLE_KEY", "short key")
    r = fa_host(exe, "info", b)
    assert r.returncode == 1 and "not signed" in r.stderr, r.stderr
    (b / "manifest.json").write_bytes(seal(m))
    assert fa_host(exe, "info", b).returncode == 0, fa_host(exe, "info", b).stderr


def test_broken_manifest_and_missing_bundle(exe, bundle, tmp_path):
    b = _copy(bundle, tmp_path)
    (b / "manifest.json").write_text('{"hardware": [1, 2,]}')
    r = fa_host(exe, "info", b)
    assert r.returncode == 1 and "manifest.json" in r.stderr and "carries no seal" in r.stderr, r.stderr
    (b / "manifest.json").write_bytes(seal({"hardware": [1, 2]})[:-3] + b",]}\n")  # sealed, then broken
    r = fa_host(exe, "info", b)
    assert r.returncode == 1 and "sha256 differs" in r.stderr, r.stderr
    r = fa_host(exe, "info", tmp_path / "nowhere.fpga")
    assert r.returncode == 1 and "not a bundle directory" in r.stderr


@pytest.mark.parametrize("args,words", [
    ([], ["run needs --input"]),
    (["--input", "x.npy"], ["run needs --output"]),
    (["--input", "x.npy", "--output", "y.npy", "--batch", "0"], ["--batch takes a positive integer"]),
    (["--input", "image=x.npy", "--output", "y.npy"], ["--input image=...: no such hardware tensor"]),
    (["--input", "x.npy", "--input", "z.npy", "--output", "y.npy"], ["more --input files than the 1"]),
    (["--input", "x.npy", "--output", "y.npy", "--frobnicate"], ["unknown option --frobnicate"]),
])
def test_bad_command_lines_exit_2(exe, bundle, args, words):
    r = fa_host(exe, "run", bundle.path, *args)
    assert r.returncode == 2 and all(w in r.stderr for w in words) and "usage:" in r.stderr, r.stderr


def test_unavailable_when_not_built(bundle, monkeypatch, tmp_path):
    monkeypatch.setenv(native.ENV_LIBRARY, str(tmp_path / "nothing"))
    why = native.NativeBackend.unavailable(bundle)
    assert "native host is not built" in why and "cmake -S host -B build/host" in why


# --- a hand-written kernel with a scratch buffer ----------------------------------------------
SCRATCH_KERNEL = """
__kernel void fa_kernel(__global const char* in0, __global short* out0, uint n_images, __global int* work) {
    for (uint img = get_global_id(0); img < n_images; img += get_global_size(0)) {
        __global int* w = work + (size_t)img * 6;
        for (int i = 0; i < 6; i++) w[i] = (int)in0[img * 6 + i] * 3;
        for (int i = 0; i < 6; i++) out0[img * 6 + i] = (short)(w[5 - i] - 7);
    }
}
"""


def test_scratch_argument_is_allocated_from_its_size(exe, tmp_path):
    b = tmp_path / "tiny.fpga"
    (b / "opencl").mkdir(parents=True)
    (b / "opencl" / "fa_kernel.cl").write_text(SCRATCH_KERNEL)
    manifest = {
        "model": {"name": "tiny"},
        "hardware": {"inputs": [{"name": "x", "shape": ["N", 2, 3], "qtype": "int8"}],
                     "outputs": [{"name": "y", "shape": ["N", 6], "qtype": "int16"}]},
        "kernel": {"name": "fa_kernel", "args": [
            {"name": "in0", "tensor": "x", "kind": "m_axi", "direction": "in", "dtype": "int8"},
            {"name": "out0", "tensor": "y", "kind": "m_axi", "direction": "out", "dtype": "int16"},
            {"name": "n_images", "kind": "scalar", "dtype": "uint32"},
            {"name": "work", "kind": "scratch", "size_per_image": 24}]},
    }
    (b / "manifest.json").write_bytes(seal(manifest))
    x = np.random.default_rng(0).integers(-128, 128, (9, 2, 3)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--batch", 4)
    assert r.returncode == 0, r.stderr
    want = (x.reshape(9, 6)[:, ::-1].astype(np.int32) * 3 - 7).astype(np.int16)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), want)
    info = fa_host(exe, "info", b)
    assert "scratch" in info.stdout and "0 + 24 bytes per image" in info.stdout


def _tiny_bundle(root: Path, source: str, in_dtype="int8", out_dtype="int8") -> Path:
    """A hand-written bundle: ``source`` as opencl/fa_kernel.cl, one input x (N, 6), one output y (N, 6)."""
    (root / "opencl").mkdir(parents=True)
    (root / "opencl" / "fa_kernel.cl").write_text(source)
    manifest = {
        "hardware": {"inputs": [{"name": "x", "shape": ["N", 6], "qtype": in_dtype}],
                     "outputs": [{"name": "y", "shape": ["N", 6], "qtype": out_dtype}]},
        "kernel": {"name": "fa_kernel", "args": [
            {"name": "in0", "tensor": "x", "kind": "m_axi", "direction": "in", "dtype": in_dtype},
            {"name": "out0", "tensor": "y", "kind": "m_axi", "direction": "out", "dtype": out_dtype},
            {"name": "n_images", "kind": "scalar", "dtype": "uint32"}]},
    }
    (root / "manifest.json").write_bytes(seal(manifest))
    return root


SPIN_KERNEL = """
__kernel void fa_kernel(__global const char* in0, __global char* out0, uint n_images) {
    uint acc = (uint)in0[0];
    for (uint r = 0; r < 4000000000u; r++) acc = acc * 1103515245u + 12345u + r;
    for (uint img = get_global_id(0); img < n_images; img += get_global_size(0)) out0[img * 6] = (char)acc;
}
"""


def test_timeout_exits_3_naming_the_stage(exe, tmp_path):
    b = _tiny_bundle(tmp_path / "spin.fpga", SPIN_KERNEL)
    np.save(tmp_path / "x.npy", np.ones((1, 6), np.int8))
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--timeout", "0.2")
    assert r.returncode == 3, r.stderr
    assert "timeout: kernel on" in r.stderr and "did not complete within 0.2 s" in r.stderr
    assert not (tmp_path / "y.npy").exists()


COPY_KERNEL = """
__kernel void fa_kernel(__global const char* in0, __global char* out0, uint n_images) {
    for (uint img = get_global_id(0); img < n_images; img += get_global_size(0))
        for (int i = 0; i < 6; i++) out0[img * 6 + i] = (char)(-in0[img * 6 + i]);
}
"""


def test_binary_without_a_xilinx_platform_falls_back_to_the_source(exe, tmp_path):
    b = _tiny_bundle(tmp_path / "both.fpga", COPY_KERNEL)
    (b / "bitstream").mkdir()
    (b / "bitstream" / "fa_kernel.xclbin").write_bytes(b"xclbin2\0 not a real binary")
    x = np.arange(-60, 60, 2, dtype=np.int8).reshape(10, 6)
    np.save(tmp_path / "x.npy", x)
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 0, r.stderr
    assert "(kernel source)" in r.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), -x)
    info = fa_host(exe, "info", b).stdout
    assert "binary: " + str(b / "bitstream" / "fa_kernel.xclbin") in info
    # asked for a platform that is not there: both programs are named in the answer
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--platform", "Xilinx")
    assert r.returncode == 1
    assert "a Xilinx platform for" in r.stderr and "fa_kernel.xclbin" in r.stderr and "platform filter 'Xilinx'" in r.stderr


def test_bitstream_record_must_match(exe, tmp_path):
    b = _tiny_bundle(tmp_path / "built.fpga", COPY_KERNEL)
    (b / "bitstream").mkdir()
    binary = b / "bitstream" / "fa_kernel.xclbin"
    binary.write_bytes(b"xclbin2\0 built")
    record = {"model_sha256": None, "files": {"fa_kernel.xclbin": hashlib.sha256(binary.read_bytes()).hexdigest()}}
    (b / "bitstream" / "bitstream.json").write_text(json.dumps(record))
    assert fa_host(exe, "info", b).returncode == 0  # the record matches
    binary.write_bytes(b"xclbin2\0 replaced by hand")
    r = fa_host(exe, "info", b)
    assert r.returncode == 1
    assert "the bitstream does not belong to this bundle" in r.stderr
    assert "bitstream/fa_kernel.xclbin changed since the build" in r.stderr and "fpga-accel build" in r.stderr


def test_no_opencl_platform_is_explained(exe, bundle, tmp_path):
    """An ICD loader with no vendor: the command and the backend's availability say what to install."""
    env = dict(os.environ, OCL_ICD_VENDORS=str(tmp_path))  # an empty vendors directory
    r = subprocess.run([str(exe), "devices"], capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 1 and "no OpenCL platform: the ICD loader found none" in r.stderr
    assert "pocl-opencl-icd" in r.stderr
    code = ("from fpga_accel.bundle import load_bundle; from fpga_accel.runtime.backends.native import NativeBackend;"
            f"print(NativeBackend.unavailable(load_bundle({str(bundle.path)!r})))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0 and "no OpenCL platform" in r.stdout, r.stderr


SUB_KERNEL = """
__kernel void fa_kernel(__global const char* in0, __global const uchar* in1, __global short* out0, uint n_images) {
    for (uint img = get_global_id(0); img < n_images; img += get_global_size(0))
        for (int i = 0; i < 6; i++) out0[img * 6 + i] = (short)in0[img * 6 + i] - (short)in1[img * 6 + i];
}
"""


def test_two_inputs_by_name_in_any_order(exe, tmp_path):
    b = _tiny_bundle(tmp_path / "two.fpga", SUB_KERNEL, out_dtype="int16")
    m = json.loads((b / "manifest.json").read_text())
    m["hardware"]["inputs"].append({"name": "z", "shape": ["N", 2, 3], "qtype": "uint8"})
    m["kernel"]["args"].insert(1, {"name": "in1", "tensor": "z", "kind": "m_axi", "direction": "in", "dtype": "uint8"})
    (b / "manifest.json").write_bytes(seal(m))
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (7, 6)).astype(np.int8)
    z = rng.integers(0, 256, (7, 2, 3)).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "z.npy", z)
    r = fa_host(exe, "run", b, "--input", f"in1={tmp_path / 'z.npy'}", "--input", f"x={tmp_path / 'x.npy'}",
                "--output", tmp_path / "y.npy", "--batch", 3)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), x.astype(np.int16) - z.reshape(7, 6).astype(np.int16))
    np.save(tmp_path / "z.npy", z[:5])
    r = fa_host(exe, "run", b, "--input", tmp_path / "x.npy", "--input", tmp_path / "z.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 1 and "5 images, the other inputs have 7" in r.stderr
