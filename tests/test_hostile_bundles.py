"""Tampered and hostile bundles: every edit is refused with a BundleError naming the bundle, and
even a hostile manifest that was sealed again fails cleanly (never a TypeError, KeyError, a crash
or a silent result). The CLI exits 2 on each, and `check` never reports "bit-exact"."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fpga_accel
from fpga_accel.bundle import BundleError, load_bundle, sha256_file, write_manifest
from fpga_accel.bundle_bitstream import RECORD, BitstreamMismatchError, bundle_id, check_bitstream
from fpga_accel.bundle_seal import ENV_KEY, seal
from fpga_accel.cli import main
from fpga_accel.compiler import load_qmodel
from fpga_accel.flow.bitstream_registry import write_record
from fpga_accel.runtime.backends.base import bitstream_mismatch
from models import data


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Two small bundles of one model (different calibration, so other weights and scales)."""
    d = tmp_path_factory.mktemp("hostile")
    calib = np.load(data.HERE / "mlp" / "calib.npz")
    calib = {k: calib[k] for k in calib.files}
    a = fpga_accel.compile(data.model_path("mlp"), d / "a.fpga", calib=calib, progress=False)
    b = fpga_accel.compile(data.model_path("mlp"), d / "b.fpga", calib={k: v[:20] for k, v in calib.items()},
                           progress=False)
    x = data.load_test("mlp")[0][:40]
    np.save(d / "x.npy", x)
    return {"a": a.path, "b": b.path, "x": d / "x.npy"}


@pytest.fixture
def bundle(made, tmp_path) -> Path:
    dst = tmp_path / "m.fpga"
    shutil.copytree(made["a"], dst)
    return dst


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def refused(path: Path, *words: str, verify: bool = True) -> str:
    """The message of the BundleError that loading ``path`` (and its model) raises."""
    with pytest.raises(BundleError) as e:
        load_qmodel(load_bundle(path, verify=verify))
    msg = str(e.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def edit_keeping_seal(path: Path, change) -> None:
    """Change the manifest's content and keep its old seal: one edited file."""
    raw = (path / "manifest.json").read_bytes()
    m = json.loads(raw)
    change(m)
    (path / "manifest.json").write_bytes(_with_head_of(raw, seal(m)))


def _with_head_of(raw: bytes, new: bytes) -> bytes:
    """``new`` with the seal lines (the head) of ``raw``."""
    head = raw.index(b'  "format_version"')
    return raw[:head] + new[new.index(b'  "format_version"'):]


def reseal(path: Path, change) -> None:
    """Change the manifest and seal it again: a consistent, hostile manifest."""
    m = manifest(path)
    change(m)
    write_manifest(path, m)


def reseal_bytes(raw: bytes) -> bytes:
    """Seal arbitrary manifest bytes that start with the seal head."""
    head = b'{\n  "manifest_sha256": "' + b"0" * 64 + b'",\n  "manifest_hmac": "",\n'
    body = raw[raw.index(b'"format_version"') - 2:]
    return head.replace(b"0" * 64, hashlib.sha256(head + body).hexdigest().encode()) + body


def at(m, path: str):
    """The container and key of ``path`` ("a.b[0].c") in ``m``."""
    keys = [int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")]
    for k in keys[:-1]:
        m = m[k]
    return m, keys[-1]


def put(path: str, value):
    def change(m):
        obj, k = at(m, path)
        obj[k] = value(obj[k]) if callable(value) else value
    return change


# --- one edited leaf of the manifest, seal kept ---------------------------------------------------
EDITS = {
    "hardware input scale x2": ("hardware.inputs.0.scale", lambda v: v * 2),
    "hardware input zero point +1": ("hardware.inputs.0.zero_point", lambda v: v + 1),
    "hardware input qtype": ("hardware.inputs.0.qtype", "int8"),
    "hardware input shape": ("hardware.inputs.0.shape.1", lambda v: v + 1),
    "hardware input layout": ("hardware.inputs.0.layout", "NHWC"),
    "hardware output scale": ("hardware.outputs.0.scale", lambda v: v * 2),
    "model input dtype": ("inputs.0.dtype", "float64"),
    "model output name": ("outputs.0.name", "y"),
    "qmodel tensor scale": ("qmodel.tensors.0.scale", lambda v: v * 1.0001),
    "qmodel tensor zero point": ("qmodel.tensors.3.zero_point", lambda v: v + 1),
    "qmodel tensor qtype": ("qmodel.tensors.1.qtype", "uint4"),
    "qmodel tensor shape": ("qmodel.tensors.1.shape.1", lambda v: v * 2),
    "layer zero point": ("qmodel.layers.2.config.zp_out", lambda v: v + 1),
    "layer clamp": ("qmodel.layers.0.config.hi", 127),
    "layer weights key": ("qmodel.layers.0.consts.weights", "layer1.weights"),
    "layer op": ("qmodel.layers.1.op_type", "MatMul"),
    "kernel offset": ("kernel.args.0.offset", lambda v: v + 4),
    "kernel dtype": ("kernel.args.0.dtype", "int8"),
    "axis register": ("kernel.axis.registers.n_images", lambda v: v + 4),
    "axis lanes": ("kernel.axis.streams.0.lanes", lambda v: v * 2),
    "folding": ("layers.0.folding.pe", lambda v: v * 2),
    "board clock": ("board.clock_mhz", lambda v: v * 2),
    "model sha256": ("model.sha256", "0" * 64),
    "weights table": lambda m: m["weights"]["layer0.weights"]["shape"].__setitem__(0, 63),
    "a file's hash": lambda m: m["files"].__setitem__("weights.npz", "f" * 64),
    "opencl build options": ("opencl.build_options", ["-DEVIL=1"]),
}


def _edit(case):
    edit = EDITS[case]
    return edit if callable(edit) else put(*edit)


@pytest.mark.parametrize("case", list(EDITS))
def test_an_edited_manifest_field_is_refused(bundle, case):
    edit_keeping_seal(bundle, _edit(case))
    refused(bundle, "changed after compilation", "sha256 differs")


@pytest.mark.parametrize("case", ["file list: one entry dropped", "file list: one entry added", "seal changed",
                                  "whitespace only", "format version"])
def test_other_manifest_edits_are_refused(bundle, case):
    p = bundle / "manifest.json"
    raw = p.read_bytes()
    if case == "file list: one entry dropped":
        edit_keeping_seal(bundle, lambda m: m["files"].pop("hls/README.md"))
    elif case == "file list: one entry added":
        edit_keeping_seal(bundle, lambda m: m["files"].__setitem__("x.txt", "0" * 64))
    elif case == "seal changed":
        p.write_bytes(raw.replace(raw[24:88], b"0" * 64, 1))
    elif case == "whitespace only":
        p.write_bytes(raw.replace(b'"format_version": 2', b'"format_version":  2'))
    else:
        p.write_bytes(raw.replace(b'"format_version": 2', b'"format_version": 1'))
        refused(bundle, "format version 1", "recompile")
        return
    refused(bundle, "changed after compilation")


def _leaves(x, path=()):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(x, list):
        if x:
            yield path, x[:-1]
        for i, v in enumerate(x):
            yield from _leaves(v, (*path, i))
    elif isinstance(x, bool):
        yield path, not x
    elif isinstance(x, (int, float)):
        yield path, x + 1
        yield path, x * 2 if x else -1
    elif isinstance(x, str):
        yield path, x + "x"
    else:
        yield path, 0


def test_every_leaf_of_the_manifest_is_covered(bundle):
    """Walk the whole manifest: each single edit (about 950 of them) breaks the seal."""
    raw = (bundle / "manifest.json").read_bytes()
    m = json.loads(raw)
    base = {k: v for k, v in m.items() if not k.startswith("manifest_")}
    passed, tried = [], 0
    for path, value in _leaves(base):
        c = json.loads(json.dumps(base))
        obj = c
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
        (bundle / "manifest.json").write_bytes(_with_head_of(raw, seal(c)))
        tried += 1
        try:
            load_bundle(bundle, verify=False)
            passed.append(path)
        except BundleError:
            pass
    assert tried > 900 and passed == []


def test_verify_false_still_checks_the_manifest_and_the_weights(bundle, made):
    edit_keeping_seal(bundle, put("hardware.inputs.0.scale", lambda v: v * 2))
    refused(bundle, "sha256 differs", verify=False)
    shutil.copy(made["a"] / "manifest.json", bundle / "manifest.json")
    shutil.copy(made["b"] / "weights.npz", bundle / "weights.npz")
    b = load_bundle(bundle, verify=False)  # the listing is not hashed...
    with pytest.raises(BundleError, match="weights.npz does not match its sha256"):
        b.weights()  # ...but what the runtime reads is


# --- hostile manifests sealed again: structure ------------------------------------------------------
HOSTILE = {
    "scale NaN": ("hardware.inputs.0.scale", float("nan"), "hardware.inputs[0].scale"),
    "scale inf": ("hardware.inputs.0.scale", float("inf"), "hardware.inputs[0].scale"),
    "scale negative": ("qmodel.tensors.0.scale", -0.5, "qmodel.tensors[0].scale"),
    "scale a string": ("qmodel.tensors.0.scale", "0.1", "qmodel.tensors[0].scale"),
    "zero point 1e308": ("hardware.inputs.0.zero_point", 1e308, "hardware.inputs[0].zero_point"),
    "zero point out of range": ("qmodel.tensors.0.zero_point", 300, "qmodel.tensors[0].zero_point"),
    "qtype unknown": ("qmodel.tensors.1.qtype", "int99", "qmodel.tensors[1].qtype"),
    "qtype a number": ("hardware.outputs.0.qtype", 8, "hardware.outputs[0].qtype"),
    "dtype object": ("inputs.0.dtype", "object", "inputs[0].dtype"),
    "dtype void": ("qmodel.host_before.inputs.0.dtype", "V8", "qmodel.host_before.inputs[0].dtype"),
    "shape negative": ("hardware.inputs.0.shape.1", -784, "hardware.inputs[0].shape[1]"),
    "shape zero": ("qmodel.tensors.0.shape.1", 0, "qmodel.tensors[0].shape[1]"),
    "shape 2**62 elements": ("qmodel.tensors.1.shape", [1, 2 ** 31, 2 ** 31], "qmodel.tensors[1].shape"),
    "shape 1e308": ("hardware.inputs.0.shape.1", 1e308, "hardware.inputs[0].shape[1]"),
    "shape a string": ("qmodel.tensors.0.shape", "1x784", "qmodel.tensors[0].shape"),
    "shape nested": ("qmodel.tensors.0.shape", [[1], [784]], "qmodel.tensors[0].shape[0]"),
    "shape of 20 dims": ("qmodel.tensors.0.shape", [1] * 20, "qmodel.tensors[0].shape"),
    "host shape huge": ("qmodel.host_before.tensors.0.shape", [2 ** 40], "qmodel.host_before.tensors[0].shape"),
    "file absolute": ("files", {"/etc/passwd": "0" * 64, "weights.npz": "0" * 64}, "files['/etc/passwd']"),
    "file with ..": ("files", {"hls/../../x": "0" * 64, "weights.npz": "0" * 64}, "files['hls/../../x']"),
    "file in bitstream/": ("files", {"bitstream/a.bit": "0" * 64, "weights.npz": "0" * 64}, "bitstream/a.bit"),
    "file hash not hex": ("files.weights.npz", "nothex", "files['weights.npz']"),
    "files a list": ("files", ["weights.npz"], "'files' must be an object"),
    "weights.npz not listed": ("files", {}, "does not list weights.npz"),
    "hardware input names twice": ("hardware.inputs", "DUP", "hardware.inputs' names ['input']"),
    "qmodel tensor names twice": ("qmodel.tensors", "DUP", "qmodel.tensors' names"),
    "qmodel input unknown": ("qmodel.inputs", ["nope"], "qmodel.inputs[0]"),
    "layer input unknown": ("qmodel.layers.0.inputs", ["nope"], "qmodel.layers[0].inputs[0]"),
    "layer const missing": ("qmodel.layers.0.consts.weights", "nope", "qmodel.layers[0].consts.weights"),
    "layer op unknown": ("qmodel.layers.0.op_type", "Evil", "'Evil'"),
    "layer config a list": ("qmodel.layers.0.config", [], "qmodel.layers[0].config"),
    "qmodel a list": ("qmodel", [], "'qmodel' must be an object"),
    "qmodel layers null": ("qmodel.layers", None, "qmodel.layers"),
    "qmodel layer a string": ("qmodel.layers.0", "x", "qmodel.layers[0]"),
    "hardware differs from qmodel": ("qmodel.inputs", ["logits"], "differ from hardware"),
    "kernel arg tensor unknown": ("kernel.args.0.tensor", "nope", "kernel.args[0].tensor"),
    "kernel offset negative": ("kernel.args.0.offset", -4, "kernel.args[0].offset"),
    "kernel offset 2**40": ("kernel.args.0.offset", 2 ** 40, "kernel.args[0].offset"),
    "kernel a number": ("kernel", 5, "'kernel' must be an object"),
    "axis register a string": ("kernel.axis.registers.n_images", "16", "kernel.axis.registers.n_images"),
    "axis lanes zero": ("kernel.axis.streams.0.lanes", 0, "kernel.axis.streams[0].lanes"),
    "board a list": ("board", [], "'board' must be an object"),
    "folding negative": ("layers.0.folding.pe", -8, "layers[0].folding.pe"),
    "folding mul unknown": ("layers.0.folding.mul", "fabric; rm -rf", "layers[0].folding.mul' must be \"dsp\" or"),
    "build options not strings": ("opencl.build_options", [1], "opencl.build_options[0]"),
    "kernel source outside the bundle": ("opencl.kernel", "../../etc/passwd", "opencl.kernel"),
    "host node op unknown": ("qmodel.host_before.nodes", [{"name": "n", "op_type": "Evil", "inputs": ["input"],
                                                            "outputs": ["input2"], "attrs": {}}], "Evil"),
    "host attr object": ("qmodel.host_before.nodes", [{"name": "n", "op_type": "Relu", "inputs": ["input"],
                                                       "outputs": ["y"], "attrs": {"a": {"code": "x"}}}],
                         "qmodel.host_before.nodes[0].attrs.a"),
    "weights table dtype object": ("weights.layer0.weights.dtype", "object", "weights['layer0.weights'].dtype"),
    "weights table a list": ("weights", [], "'weights' must be an object"),
    "hardware section missing": ("hardware", "DEL", "'hardware' is missing"),
    "hardware shape differs from qmodel": ("hardware.inputs.0.shape.1", 700, "hardware.inputs[0].shape"),
    "hardware scale differs from qmodel": ("hardware.outputs.0.scale", 0.5, "hardware.outputs[0].scale"),
    "kernel section missing": ("kernel", "DEL", "'kernel' is missing"),
    "kernel args missing": ("kernel.args", "DEL", "'kernel.args' is missing"),
}


def _hostile(case):
    path, value, _ = HOSTILE[case]

    def change(m):
        if value == "DEL":
            obj, k = at(m, path)
            del obj[k]
        elif value == "DUP":
            obj, k = at(m, path)
            obj[k] = obj[k] + obj[k][:1]
        elif path.startswith("files.") or path.startswith("weights."):
            section, rest = path.split(".", 1)
            name, field = (rest, None) if section == "files" else rest.rsplit(".", 1)
            if field is None:
                m[section][name] = value
            else:
                m[section][name][field] = value
        else:
            put(path, value)(m)
    return change


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_sealed_manifest_fails_cleanly(bundle, case):
    reseal(bundle, _hostile(case))
    refused(bundle, HOSTILE[case][2])


RAW = {
    "a JSON list": b"[1, 2]",
    "a JSON string": b'"manifest"',
    "null": b"null",
    "empty": b"",
    "not UTF-8": b'{"format_version": 2, "x": "\xff\xfe"}',
    "not JSON": b"{not json",
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "a number with 5,000 digits": b'{"format_version": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("case", list(RAW))
def test_garbage_manifest_is_refused(bundle, case):
    (bundle / "manifest.json").write_bytes(RAW[case])
    refused(bundle)


def test_huge_manifest_is_refused_before_reading(bundle):
    with open(bundle / "manifest.json", "r+b") as f:
        f.truncate(65 << 20)  # sparse: nothing is written
    refused(bundle, "more than any compiled manifest")


def test_duplicated_keys_are_refused_even_when_sealed(bundle):
    raw = (bundle / "manifest.json").read_bytes()
    raw = raw.replace(b'"format_version": 2,', b'"format_version": 2,\n  "format_version": 2,', 1)
    (bundle / "manifest.json").write_bytes(reseal_bytes(raw))
    refused(bundle, "appear more than once")


# --- the files of the bundle --------------------------------------------------------------------
def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _weights_of(path):
    z = np.load(path / "weights.npz")
    return {k: z[k] for k in z.files}


FILES = {
    "weights deleted": lambda p, o: (p / "weights.npz").unlink(),
    "hls file deleted": lambda p, o: (p / "hls" / "src" / "fa_top.cpp").unlink(),
    "file added": lambda p, o: (p / "hls" / "src" / "evil.cpp").write_text("int x;"),
    "file renamed": lambda p, o: (p / "hls" / "README.md").rename(p / "hls" / "README.txt"),
    "weights truncated": lambda p, o: (p / "weights.npz").write_bytes((p / "weights.npz").read_bytes()[:1000]),
    "weights of the other bundle": lambda p, o: shutil.copy(o / "weights.npz", p / "weights.npz"),
    "weights a symlink to the other's": lambda p, o: ((p / "weights.npz").unlink(),
                                                      (p / "weights.npz").symlink_to(o / "weights.npz")),
    "kernel source edited": lambda p, o: (p / "opencl" / "fa_kernel.cl").write_text("__kernel void fa_kernel() {}"),
    "manifest of the other bundle": lambda p, o: shutil.copy(o / "manifest.json", p / "manifest.json"),
}


@pytest.mark.parametrize("case", list(FILES))
def test_changed_files_are_refused(bundle, made, case):
    FILES[case](bundle, made["b"])
    refused(bundle, "changed after compilation")


def _reweigh(path: Path, raw: bytes, table=None) -> None:
    """Replace weights.npz by ``raw`` and seal a manifest that lists its hash (and ``table``)."""
    (path / "weights.npz").write_bytes(raw)

    def change(m):
        m["files"]["weights.npz"] = hashlib.sha256(raw).hexdigest()
        if table is not None:
            m["weights"] = table
    reseal(path, change)


def _zip(members: dict[str, bytes], compressed=False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    return buf.getvalue()


def _weights_cases(p: Path):
    w = _weights_of(p)
    table = manifest(p)["weights"]
    one = dict(w)
    npy = io.BytesIO()
    np.save(npy, w["layer0.weights"])
    return {
        "an object array": (_npz(**{**w, "layer0.bias": np.array([{"x": 1}] * 64, dtype=object)}), None,
                            "is |O"),
        "a pickle member": (_zip({**{k + ".npy": _npy(v) for k, v in w.items()},
                                  "layer0.bias.npy": b"\x80\x04\x95cos\nsystem\n."}), None, "cannot be read"),
        "an array missing": (_npz(**{k: v for k, v in w.items() if k != "layer1.M"}), None, "the manifest lists"),
        "an array added": (_npz(**w, extra=np.zeros(3)), None, "the manifest lists"),
        "a wrong dtype": (_npz(**{**one, "layer0.weights": w["layer0.weights"].astype(np.int16)}), None,
                          "the manifest says int8"),
        "a wrong shape": (_npz(**{**one, "layer0.weights": w["layer0.weights"][:10]}), None, "the manifest says"),
        "compressed": (_zip({k + ".npy": _npy(v) for k, v in w.items()}, compressed=True), None, "compressed"),
        "data cut short": (_zip({**{k + ".npy": _npy(v) for k, v in w.items()},
                                 "layer0.weights.npy": npy.getvalue()[:-100]}), None, "bytes of data"),
        "not a zip": (b"PK\x03\x04 nothing", None, "not a .npz archive"),
        "table and array both 2**40": (_npz(**w), {**table, "layer0.weights": {"dtype": "int8",
                                                                               "shape": [2 ** 20, 2 ** 20]}},
                                       "weights['layer0.weights'].shape"),
    }


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


WEIGHT_CASES = ["an object array", "a pickle member", "an array missing", "an array added", "a wrong dtype",
                "a wrong shape", "compressed", "data cut short", "not a zip", "table and array both 2**40"]


@pytest.mark.parametrize("case", WEIGHT_CASES)
def test_hostile_weights_sealed_in_fail_cleanly(bundle, case):
    raw, table, words = _weights_cases(bundle)[case]
    _reweigh(bundle, raw, table)
    refused(bundle, words)


# --- the bitstream record and its binaries ---------------------------------------------------------
BINARIES = ("fa_overlay.bit", "fa_overlay.hwh")


def _build(path: Path, tag: bytes = b"a") -> None:
    """What a finished build leaves: binaries, the sealed record, the manifest's build section."""
    (path / "bitstream").mkdir(exist_ok=True)
    for name in BINARIES:
        (path / "bitstream" / name).write_bytes(tag + b" " + name.encode())
    m = load_bundle(path).manifest
    write_record(path, m, list(BINARIES), {"family": "zynq"})
    reseal(path, lambda m: m.__setitem__("build", {"bitstream": RECORD,
                                                  "bitstream_sha256": sha256_file(path / RECORD)}))


@pytest.fixture
def built(bundle, made, tmp_path):
    other = tmp_path / "other.fpga"
    shutil.copytree(made["b"], other)
    _build(bundle, b"a")
    _build(other, b"b")
    assert check_bitstream(bundle)["files"].keys() == set(BINARIES)
    return bundle, other


def _record(path):
    return json.loads((path / RECORD).read_text())


def _write_record(path, rec, sealed=True):
    from fpga_accel.bundle_bitstream import seal_record

    (path / RECORD).write_text(json.dumps(seal_record(rec) if sealed else rec))


BITSTREAM = {
    "record names the other bundle": lambda p, o: _write_record(p, {**_record(p), "bundle_id": bundle_id(
        load_bundle(o).manifest)}, sealed=False),
    "record names the other model": lambda p, o: _write_record(p, {**_record(p), "model_sha256": "0" * 64},
                                                               sealed=False),
    "record's binary hash edited": lambda p, o: _write_record(p, {**_record(p), "files": {
        **_record(p)["files"], "fa_overlay.bit": "0" * 64}}, sealed=False),
    "record a list": lambda p, o: (p / RECORD).write_text("[]"),
    "record garbage": lambda p, o: (p / RECORD).write_bytes(b"\xff{"),
    "record deleted": lambda p, o: (p / RECORD).unlink(),
    "other bundle's bitstream/ copied in": lambda p, o: (shutil.rmtree(p / "bitstream"),
                                                        shutil.copytree(o / "bitstream", p / "bitstream")),
    "other's bitstream/, record sealed for this bundle": lambda p, o: (
        shutil.rmtree(p / "bitstream"), shutil.copytree(o / "bitstream", p / "bitstream"),
        _write_record(p, {**_record(o), "bundle_id": bundle_id(load_bundle(p).manifest)})),
    ".bit swapped": lambda p, o: shutil.copy(o / "bitstream" / "fa_overlay.bit", p / "bitstream" / "fa_overlay.bit"),
    ".hwh swapped": lambda p, o: shutil.copy(o / "bitstream" / "fa_overlay.hwh", p / "bitstream" / "fa_overlay.hwh"),
    ".xclbin added beside": lambda p, o: (p / "bitstream" / "a.xclbin").write_bytes(b"xclbin2"),
    "record lists ../manifest.json": lambda p, o: _write_record(p, {**_record(p), "files": {
        "../manifest.json": sha256_file(p / "manifest.json")}}),
}


@pytest.mark.parametrize("case", list(BITSTREAM))
def test_tampered_bitstream_is_refused(built, case):
    path, other = built
    BITSTREAM[case](path, other)
    b = load_bundle(path)  # the bundle itself is intact
    with pytest.raises(BitstreamMismatchError) as e:
        check_bitstream(b)
    assert isinstance(e.value, BundleError) and str(path) in str(e.value)
    why = bitstream_mismatch(b)  # what every hardware backend asks before loading a binary
    assert why and str(path) in why


def test_a_bitstream_placed_by_hand_without_a_build_is_allowed(bundle):
    """The documented way to bring a .bit built elsewhere: nothing records it, nothing to check."""
    (bundle / "bitstream").mkdir()
    (bundle / "bitstream" / "fa_overlay.bit").write_bytes(b"bit")
    assert bitstream_mismatch(load_bundle(bundle)) is None


# --- signing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["unsigned", "signed with another key", "resealed without the key"])
def test_a_set_key_accepts_only_bundles_signed_with_it(bundle, monkeypatch, case):
    if case == "signed with another key":
        monkeypatch.setenv(ENV_KEY, "another key")
        reseal(bundle, lambda m: None)
    monkeypatch.setenv(ENV_KEY, "our key")
    if case == "resealed without the key":
        reseal(bundle, lambda m: None)
        monkeypatch.setenv(ENV_KEY, "")
        reseal(bundle, put("hardware.inputs.0.scale", lambda v: v * 2))
        monkeypatch.setenv(ENV_KEY, "our key")
    refused(bundle, ENV_KEY)


def test_signed_bundle_loads_with_its_key(bundle, monkeypatch):
    monkeypatch.setenv(ENV_KEY, "our key")
    reseal(bundle, lambda m: None)
    assert load_qmodel(load_bundle(bundle)).name == "main_graph"
    monkeypatch.delenv(ENV_KEY)
    assert load_bundle(bundle).manifest["manifest_hmac"]  # without the key only the sha256 is checked


# --- the command line ------------------------------------------------------------------------------
CLI_TAMPER = {
    "scale edited": lambda p: edit_keeping_seal(p, put("hardware.inputs.0.scale", lambda v: v * 2)),
    "scale edited and sealed again to NaN": lambda p: reseal(p, put("hardware.inputs.0.scale", float("nan"))),
    "manifest a list": lambda p: (p / "manifest.json").write_text("[]"),
    "weights swapped": None,
}


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("case", list(CLI_TAMPER))
def test_cli_exits_2_naming_the_bundle(bundle, made, tmp_path, capsys, command, case):
    if case == "weights swapped":
        shutil.copy(made["b"] / "weights.npz", bundle / "weights.npz")
    else:
        CLI_TAMPER[case](bundle)
    argv = [command, str(bundle), "--input", str(made["x"])]
    argv += ["--backend", "emulator"] + (["-o", str(tmp_path / "y.npy")] if command == "run" else [])
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert str(bundle) in err and "bit-exact" not in out
    assert not (tmp_path / "y.npy").exists()


def test_untampered_bundle_checks_bit_exact(bundle, made, capsys):
    """The control: the same command on the bundle as compiled."""
    assert main(["check", str(bundle), "--input", str(made["x"]), "--backend", "emulator"]) == 0
    assert "bit-exact" in capsys.readouterr().out


# --- after a real build (the recording stand-ins of the vendor tools) ------------------------------
@pytest.fixture
def stand_in_build(tmp_path, monkeypatch):
    """A bundle built by `fpga_accel.flow.build` with the stand-in tools; returns (path, build)."""
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed")
    from stand_ins.helpers import compile_bundle, use_stand_ins

    from fpga_accel.flow import build

    def run(key=None):
        if key:
            monkeypatch.setenv(ENV_KEY, key)
        b = compile_bundle(tmp_path / "s.fpga", "pynq-z2")
        use_stand_ins(monkeypatch, tmp_path)
        build(b.path, registry=False, echo=lambda s: None)
        return b.path
    return run


AFTER_BUILD = {
    "record edited to another model": lambda p: (p / RECORD).write_text(
        (p / RECORD).read_text().replace('"model_sha256": "', '"model_sha256": "0', 1)),
    "overlay .bit replaced": lambda p: (p / "bitstream" / "fa_overlay.bit").write_bytes(b"another design"),
    "second .bit beside": lambda p: (p / "bitstream" / "aa.bit").write_bytes(b"another design"),
    "record deleted": lambda p: (p / RECORD).unlink(),
}


@pytest.mark.parametrize("case", list(AFTER_BUILD))
def test_a_built_bundle_refuses_a_tampered_bitstream(stand_in_build, case):
    path = stand_in_build()
    m = load_bundle(path).manifest
    assert m["build"]["bitstream_sha256"] == sha256_file(path / RECORD)  # the sealed manifest names the record
    assert check_bitstream(path)["bundle_id"] == bundle_id(m)
    AFTER_BUILD[case](path)
    with pytest.raises(BitstreamMismatchError, match="`fpga-accel build "):
        check_bitstream(path)
    assert bitstream_mismatch(load_bundle(path))


def test_the_build_keeps_the_manifest_sealed_and_signed(stand_in_build, monkeypatch):
    path = stand_in_build(key="our key")
    m = load_bundle(path).manifest
    assert m["manifest_hmac"] and m["kernel"]["axis"]["offsets_source"] != "predicted"  # rewritten by the build
    edit_keeping_seal(path, put("kernel.axis.registers.n_images", lambda v: v + 4))
    refused(path, "sha256 differs")


# --- hostile models sealed again: what only the ops know -----------------------------------------------
def _rearm(path: Path, change_arrays) -> None:
    """Change the arrays of weights.npz, and seal a manifest whose table and hash match them."""
    z = np.load(path / "weights.npz")
    w = {k: z[k] for k in z.files}
    change_arrays(w)
    _reweigh(path, _npz(**w), {k: {"dtype": a.dtype.name, "shape": list(a.shape)} for k, a in w.items()})


def _layer(i):
    return lambda m: m["qmodel"]["layers"][i]


MODELS = {
    "weights of another width": ("arrays", lambda w: w.__setitem__("layer0.weights", w["layer0.weights"][:, :100]),
                                 "cannot run"),
    "bias too short": ("arrays", lambda w: w.__setitem__("layer0.bias", w["layer0.bias"][:3]), "cannot run"),
    "shift out of range": ("arrays", lambda w: w.__setitem__("layer0.shift", w["layer0.shift"] + 1000), "shift"),
    "config key missing": ("manifest", lambda m: m["qmodel"]["layers"][0]["config"].pop("dot_bits"), "dot_bits"),
    "constant missing": ("manifest", lambda m: m["qmodel"]["layers"][0]["consts"].pop("bias"), "bias"),
    "clamp bounds empty": ("manifest", lambda m: m["qmodel"]["layers"][0]["config"].__setitem__("lo", 300),
                           "clamp bounds"),
    "layers reordered": ("manifest", lambda m: m["qmodel"]["layers"].reverse(), "before they are produced"),
    "no layers": ("manifest", lambda m: m["qmodel"].__setitem__("layers", []), "no layer produces"),
    "tensor shape differs from its layer": ("manifest", lambda m: m["qmodel"]["tensors"][1]["shape"].__setitem__(
        1, 65), "its layer gives [1, 64]"),
}


@pytest.mark.parametrize("case", list(MODELS))
def test_a_hostile_sealed_model_fails_before_it_runs(bundle, case):
    kind, change, words = MODELS[case]
    if kind == "arrays":
        _rearm(bundle, change)
    else:
        reseal(bundle, change)
    refused(bundle, words)
