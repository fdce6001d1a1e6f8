"""No name from a manifest, board file, registry, build state or shipped archive leaves its folder,
and locks and temporary directories cannot be hijacked by another user's planted links.

Each hostile value is one test case; each is refused with a clear error (an FpgaAccelError naming
the value) or handled safely, and nothing is written outside the folder it belongs to.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest
from stand_ins.helpers import compile_bundle, use_stand_ins

from fpga_accel.bundle_bitstream import RECORD, check_bitstream
from fpga_accel.cli import main
from fpga_accel.distributed import ship
from fpga_accel.distributed.device_worker import claim_device
from fpga_accel.distributed.errors import DistributedError
from fpga_accel.errors import InputError
from fpga_accel.flow import BitstreamMismatchError, BuildError, build, step_runner
from fpga_accel.flow import bitstream_registry as reg
from fpga_accel.flow.target import target_of
from fpga_accel.fold import boards
from fpga_accel.safe_fs import UnsafePathError

BAD_NAMES = ["../../../x", "..", ".", "/etc", "a/b", "a\\b", ".hidden", "-rf", "Pynq-Z2", "x\n", "x\0y", " x",
             "x" * 200, "ü", 5, ["pynq-z2"]]


def files_under(d: Path) -> set[str]:
    return {p.relative_to(d).as_posix() for p in d.rglob("*")} if d.exists() else set()


# --- board names -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_a_manifest_board_name_that_is_no_plain_name_is_refused(name):
    board = {"name": name, "family": "zynq", "part": "xc7z020clg400-1", "clock_mhz": 100.0}
    with pytest.raises(BuildError, match="not a plain name"):
        target_of({"board": board})


@pytest.mark.parametrize("board", [["pynq-z2"], "pynq-z2", 7], ids=repr)
def test_a_manifest_board_that_is_no_object_is_refused(board):
    with pytest.raises(BuildError, match="not an object"):
        target_of({"board": board})


@pytest.mark.parametrize("clock", ["100", float("inf"), float("nan"), -1, 0, True, None], ids=repr)
def test_a_manifest_clock_that_is_no_frequency_is_refused(clock):
    board = {"name": "pynq-z2", "family": "zynq", "part": "xc7z020clg400-1", "clock_mhz": clock}
    with pytest.raises(BuildError, match="clock_mhz"):
        target_of({"board": board})


@pytest.mark.parametrize("data,match", [
    ([], "must hold a JSON object"),
    ({"name": "x"}, "missing key"),
    ({"name": "../../x", **{k: 1 for k in ("part", "family", "device", "dsp_type", "dsp", "bram18", "uram", "lut",
                                            "ff", "clock_mhz", "source", "platform", "memory", "attachment")}},
     "name '../../x' must be lower-case"),
    ({"name": "x", "exec": "rm -rf /"}, "unknown key"),
], ids=["list", "missing-keys", "name-escapes", "unknown-key"])
def test_a_malformed_board_file_is_a_clear_error(data, match):
    with pytest.raises(InputError, match=match):
        boards._parse("x.json", data)


@pytest.mark.parametrize("name", ["../../../x", "/etc/passwd", 5, None], ids=repr)
def test_an_unknown_board_name_lists_the_known_ones(name):
    with pytest.raises(InputError, match="unknown board .*pynq-z2"):
        boards.get_board(name)


@pytest.fixture(scope="module")
def bundle_src(tmp_path_factory):
    return compile_bundle(tmp_path_factory.mktemp("b") / "m.fpga", "pynq-z2").path


@pytest.mark.parametrize("name", ["../../../escaped", "a/../../escaped"], ids=repr)
def test_build_of_a_bundle_compiled_with_an_escaping_board_name_writes_nothing_outside(name, tmp_path, monkeypatch,
                                                                                        capsys):
    """A bundle compiled elsewhere, consistent and sealed, whose board name is a path."""
    import sys

    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.flow import generate_scripts

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    import data

    def rename_board(stage, qmodel, manifest):
        manifest["board"]["name"] = name

    work = tmp_path / "a" / "b" / "c"
    bundle = fpga_accel.compile(data.model_path("mnist_cnn"), work / "m.fpga", board="pynq-z2",
                                calib=data.load_calib("mnist_cnn"), progress=False,
                                generators=[generate_hls, generate_scripts, rename_board]).path
    use_stand_ins(monkeypatch, tmp_path)
    before = files_under(tmp_path)
    assert main(["build", str(bundle), "--registry", str(work / "reg")]) == 2
    err = capsys.readouterr().err
    assert "not a plain name" in err and "internal error" not in err
    assert files_under(tmp_path) == before


# --- the bitstream registry --------------------------------------------------------------------

GOOD_ID = "0" * 64


@pytest.mark.parametrize("board,ident", [("../../../x", GOOD_ID), ("/tmp/x", GOOD_ID), ("a/b", GOOD_ID),
                                         ("..", GOOD_ID), ("pynq-z2", "../../x"), ("pynq-z2", "0" * 63 + "/"),
                                         ("pynq-z2", 5), (None, GOOD_ID)], ids=repr)
def test_registering_a_record_with_an_escaping_name_is_refused(board, ident, tmp_path):
    (tmp_path / "bundle/bitstream").mkdir(parents=True)
    (tmp_path / "bundle/bitstream/fa_overlay.bit").write_text("bits")
    rec = {"bundle_id": ident, "board": {"name": board}, "model": "m", "files": {}}
    with pytest.raises(reg.RegistryError):
        reg.register(tmp_path / "r1" / "r2", tmp_path / "bundle", rec)
    assert files_under(tmp_path) == {"bundle", "bundle/bitstream", "bundle/bitstream/fa_overlay.bit"}


@pytest.mark.parametrize("model", ["../../../x", "/abs", ".hidden", "a\nb", "é" * 300], ids=repr)
def test_a_hostile_model_name_becomes_a_plain_entry_id(model, tmp_path):
    (tmp_path / "bundle/bitstream").mkdir(parents=True)
    (tmp_path / "bundle/bitstream/fa_overlay.bit").write_text("bits")
    rec = {"bundle_id": GOOD_ID, "board": {"name": "pynq-z2"}, "model": model, "files": {}}
    entry = reg.register(tmp_path / "reg", tmp_path / "bundle", rec)
    assert reg.ENTRY_ID.fullmatch(entry["id"]) and (tmp_path / "reg" / entry["id"] / "fa_overlay.bit").is_file()
    assert {p.name for p in tmp_path.iterdir()} == {"bundle", "reg"}


def test_a_symlink_in_bitstream_is_not_copied_into_the_registry(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("private key")
    (tmp_path / "bundle/bitstream").mkdir(parents=True)
    (tmp_path / "bundle/bitstream/fa_overlay.bit").write_text("bits")
    (tmp_path / "bundle/bitstream/fa_overlay.hwh").symlink_to(secret)
    rec = {"bundle_id": GOOD_ID, "board": {"name": "pynq-z2"}, "model": "m", "files": {}}
    entry = reg.register(tmp_path / "reg", tmp_path / "bundle", rec)
    assert sorted(p.name for p in (tmp_path / "reg" / entry["id"]).iterdir()) == ["fa_overlay.bit"]


def test_a_symlink_planted_at_the_entry_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("keep")
    (tmp_path / "bundle/bitstream").mkdir(parents=True)
    (tmp_path / "bundle/bitstream/fa_overlay.bit").write_text("bits")
    rec = {"bundle_id": GOOD_ID, "board": {"name": "pynq-z2"}, "model": "m", "files": {}}
    (tmp_path / "reg").mkdir()
    (tmp_path / "reg" / reg.entry_id(rec)).symlink_to(victim)
    reg.register(tmp_path / "reg", tmp_path / "bundle", rec)
    assert files_under(victim) == {"keep"}
    assert not (tmp_path / "reg" / reg.entry_id(rec)).is_symlink()


@pytest.mark.parametrize("text,match", [
    ("not json", "corrupt registry index"),
    ("", "corrupt registry index"),
    ("[]", "JSON list, not an object"),
    ('"index"', "JSON str, not an object"),
    ('{"bitstreams": {}}', "'bitstreams' is a dict"),
    ('{"bitstreams": ["x"]}', r"bitstreams\[0\] is a str"),
    ('{"bitstreams": [{"board": "pynq-z2"}]}', "has id None"),
    ('{"bitstreams": [{"id": "../../x"}]}', "has id '../../x'"),
    ('{"bitstreams": [{"id": "/etc"}]}', "has id '/etc'"),
    ('{"bitstreams": [{"id": 7}]}', "has id 7"),
    ('{"bitstreams": [{"id": ".hidden"}]}', "has id '.hidden'"),
    ("\xff\xfe", "corrupt registry index"),
], ids=["not-json", "empty", "list", "string", "dict-bitstreams", "str-entry", "no-id", "dotdot-id", "abs-id",
        "int-id", "hidden-id", "not-utf8"])
def test_a_malformed_registry_index_is_a_clear_error(text, match, tmp_path, capsys):
    (tmp_path / "index.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(reg.RegistryError, match=match):
        reg.read_index(tmp_path)
    assert main(["bitstreams", "--registry", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "index.json" in err and "internal error" not in err


def test_registry_entries_with_odd_field_types_still_list(tmp_path, capsys):
    entry = {"id": "m-pynq-z2-000000000000", "board": ["x"], "clock_mhz": "fast", "timing": "none",
             "resources": [1, 2], "tools": "vivado", "afi": 5, "date": 20260101}
    (tmp_path / "index.json").write_text(json.dumps({"bitstreams": [entry]}))
    assert main(["bitstreams", "--registry", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "m-pynq-z2-000000000000" in out and "fast" in out


@pytest.mark.parametrize("name", ["../manifest.json", "/etc/passwd", "a/../../manifest.json", "..", ""], ids=repr)
def test_a_bitstream_record_naming_a_file_outside_bitstream_is_refused(name, bundle_src, tmp_path):
    bundle = tmp_path / "m.fpga"
    shutil.copytree(bundle_src, bundle)
    (bundle / "bitstream").mkdir()
    (bundle / RECORD).write_text(json.dumps({"bundle_id": "x", "files": {name: "0" * 64}}))
    with pytest.raises(BitstreamMismatchError, match="bitstream"):
        check_bitstream(bundle)


@pytest.mark.parametrize("record", ["[]", '"x"', '{"files": []}'], ids=["list", "string", "files-list"])
def test_a_bitstream_record_of_the_wrong_shape_is_refused(record, bundle_src, tmp_path):
    bundle = tmp_path / "m.fpga"
    shutil.copytree(bundle_src, bundle)
    (bundle / "bitstream").mkdir()
    (bundle / RECORD).write_text(record)
    with pytest.raises(BitstreamMismatchError, match="bitstream"):
        check_bitstream(bundle)


# --- build state read back from disk -----------------------------------------------------------

OUTSIDE = "OUTSIDE"  # replaced by the path of a real file outside the bundle, whose sha256 is recorded


@pytest.mark.parametrize("state", [
    [], "x", {"bundle_id": "ID", "steps": []}, {"bundle_id": "ID", "steps": {"hls": "done"}},
    {"bundle_id": "ID", "steps": {"hls": {"status": "done", "key": "K", "outputs": {"../outside.txt": OUTSIDE}}}},
    {"bundle_id": "ID", "steps": {"hls": {"status": "done", "key": "K", "outputs": {OUTSIDE: OUTSIDE}}}},
    {"bundle_id": "ID", "steps": {"hls": {"status": "done", "key": "K", "outputs": ["build/hls/x"]}}},
], ids=["list", "string", "steps-list", "step-string", "output-dotdot", "output-absolute", "outputs-list"])
def test_a_hostile_build_state_makes_every_step_stale(state, tmp_path):
    from fpga_accel.bundle import sha256_file

    outside = tmp_path / "outside.txt"
    outside.write_text("a file of someone else")
    text = json.dumps(state).replace(f'"{OUTSIDE}": "{OUTSIDE}"', f'"{outside}": "{sha256_file(outside)}"')
    text = text.replace(f'"{OUTSIDE}"', f'"{sha256_file(outside)}"')
    root = tmp_path / "b"
    (root / "build").mkdir(parents=True)
    (root / step_runner.STATE).write_text(text)
    loaded = step_runner._load_state(root, "ID")
    assert isinstance(loaded["steps"], dict)
    assert not step_runner._fresh(root, loaded["steps"].get("hls"), key="K")


@pytest.mark.parametrize("link", ["build", "bitstream", "build/hls", "build/logs", "build/state.json",
                                  "build/vivado"])
def test_a_bundle_folder_symlinked_outside_is_refused_before_the_build_touches_it(link, bundle_src, tmp_path,
                                                                                   monkeypatch):
    bundle = tmp_path / "m.fpga"
    shutil.copytree(bundle_src, bundle)
    victim = tmp_path / "victim"
    victim.mkdir()
    for name in ("hls", "logs", "fa_overlay.bit", "keep"):
        (victim / name).write_text("precious")
    (bundle / link).parent.mkdir(parents=True, exist_ok=True)
    (bundle / link).symlink_to(victim)
    record = use_stand_ins(monkeypatch, tmp_path)
    with pytest.raises(BuildError, match="leads outside"):
        build(bundle, registry=False, echo=lambda s: None)
    assert {p.name: p.read_text() for p in victim.iterdir()} == dict.fromkeys(("hls", "logs", "fa_overlay.bit",
                                                                              "keep"), "precious")
    assert not record.exists()  # no tool ran


# --- shipped bundle archives -------------------------------------------------------------------

def tar_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name: str, kind=tarfile.REGTYPE, data: bytes | None = b"x", **attrs) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if data is not None and kind == tarfile.REGTYPE else 0
    for k, v in attrs.items():
        setattr(info, k, v)
    return info, data if kind == tarfile.REGTYPE else None


def huge(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.size = 10**12  # a header that claims a terabyte, with no data behind it
    return info, None


MANIFEST = member("manifest.json", data=b"{}")
ARCHIVES = {
    "dotdot": tar_of(MANIFEST, member("../escaped")),
    "deep-dotdot": tar_of(MANIFEST, member("a/../../escaped")),
    "absolute": tar_of(MANIFEST, member("/tmp/escaped")),
    "symlink-out": tar_of(MANIFEST, member("weights.npz", tarfile.SYMTYPE, linkname="/etc/passwd")),
    "symlink-in": tar_of(MANIFEST, member("weights.npz", tarfile.SYMTYPE, linkname="manifest.json")),
    "symlink-dir": tar_of(MANIFEST, member("d", tarfile.SYMTYPE, linkname="/tmp"), member("d/escaped")),
    "hardlink": tar_of(MANIFEST, member("w", tarfile.LNKTYPE, linkname="/etc/passwd")),
    "char-device": tar_of(MANIFEST, member("null", tarfile.CHRTYPE, devmajor=1, devminor=3)),
    "block-device": tar_of(MANIFEST, member("sda", tarfile.BLKTYPE, devmajor=8, devminor=0)),
    "fifo": tar_of(MANIFEST, member("pipe", tarfile.FIFOTYPE)),
    "huge-member": tar_of(MANIFEST, huge("weights.npz")),
    "not-a-tar": b"this is not a tar archive" * 40,
    "truncated": tar_of(MANIFEST, member("w", data=b"y" * 5000))[:3000],
}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("case", list(ARCHIVES))
def test_a_hostile_shipped_archive_is_refused_and_leaves_nothing(case, cache, tmp_path):
    with pytest.raises(DistributedError, match="shipped bundle"):
        ship.unpack(ARCHIVES[case], "m.fpga")
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped").exists()
    leftovers = files_under(cache / "bundles")
    assert all(len(Path(p).parts) == 1 for p in leftovers), f"unpacked files left: {leftovers}"


def test_an_archive_with_too_many_members_is_refused(cache, monkeypatch):
    monkeypatch.setattr(ship, "MAX_MEMBERS", 3)
    with pytest.raises(DistributedError, match="more than 3 members"):
        ship.unpack(tar_of(MANIFEST, *[member(f"f{i}") for i in range(5)]), "m.fpga")


@pytest.mark.parametrize("name", ["..", "../m.fpga", "a/b", "/tmp/m.fpga", ""], ids=repr)
def test_a_shipped_bundle_name_that_is_no_directory_name_is_refused(name, cache):
    with pytest.raises(DistributedError, match="bundle name"):
        ship.unpack(tar_of(MANIFEST), name)


def test_a_plain_archive_unpacks_and_is_reused(cache):
    blob = tar_of(MANIFEST, member("hls/src/a.h", data=b"int x;"))
    dest = ship.unpack(blob, "m.fpga")
    assert (dest / "hls/src/a.h").read_bytes() == b"int x;" and dest.parent.parent == cache / "bundles"
    assert ship.unpack(blob, "m.fpga") == dest


def test_pack_leaves_symlinks_out_with_a_warning(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b/manifest.json").write_text("{}")
    (tmp_path / "secret").write_text("private key")
    (tmp_path / "b/weights.npz").symlink_to(tmp_path / "secret")
    with pytest.warns(UserWarning, match="symlinks not shipped.*weights.npz"):
        blob = ship.pack(tmp_path / "b")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        assert tar.getnames() == ["manifest.json"]


# --- device locks in a private directory -------------------------------------------------------

@pytest.fixture
def tmpdir_root(tmp_path, monkeypatch):
    """The system temp directory, moved to a fresh folder for the test."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def lock_dir(root: Path) -> Path:
    return root / f"fpga-accel-devices-{os.getuid()}"


def test_a_symlinked_lock_file_is_not_followed(tmpdir_root, tmp_path):
    victim = tmp_path / "root-owned-file"
    victim.write_text("precious")
    lock_dir(tmpdir_root).mkdir(mode=0o700)
    (lock_dir(tmpdir_root) / "0.lock").symlink_to(victim)
    with pytest.raises(UnsafePathError, match="0.lock"):
        claim_device(1, wait=0)
    assert victim.read_text() == "precious"


def plant_symlink(d: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    d.symlink_to(tmp_path / "elsewhere")


def plant_foreign(d: Path, tmp_path: Path) -> None:
    d.mkdir(mode=0o700)
    os.chown(d, 65534, 65534)


@pytest.mark.parametrize("plant", [
    plant_symlink,
    plant_foreign,
    lambda d, t: (d.mkdir(), os.chmod(d, 0o777)),
    lambda d, t: (d.mkdir(), os.chmod(d, 0o750)),
    lambda d, t: d.write_text("a file"),
], ids=["symlink", "foreign-owner", "world-writable", "group-readable", "a-file"])
def test_a_planted_lock_directory_is_refused(plant, tmpdir_root, tmp_path):
    if plant is plant_foreign and os.geteuid() != 0:
        pytest.skip("needs root to give the directory to another user")
    plant(lock_dir(tmpdir_root), tmp_path)
    with pytest.raises(UnsafePathError, match="fpga-accel-devices"):
        claim_device(1, wait=0)
    assert not (tmp_path / "elsewhere" / "0.lock").exists()


def test_device_locks_are_private_and_exclusive(tmpdir_root):
    first, f1 = claim_device(2, wait=0)
    import subprocess
    import sys

    code = ("import tempfile, sys; tempfile.tempdir = sys.argv[1]\n"
            "from fpga_accel.distributed.device_worker import claim_device\nprint(claim_device(2, wait=0)[0])")
    other = subprocess.run([sys.executable, "-c", code, str(tmpdir_root)], capture_output=True, text=True, check=True)
    f1.close()
    assert (first, other.stdout.strip()) == (0, "1")
    assert os.stat(lock_dir(tmpdir_root)).st_mode & 0o777 == 0o700
    assert os.stat(lock_dir(tmpdir_root) / "0.lock").st_mode & 0o777 == 0o600


# --- the generated C-simulation script's temporary binary --------------------------------------

def test_run_csim_builds_its_testbench_in_a_fresh_private_directory(tmp_path):
    """Another user cannot plant the testbench binary: it goes to a mktemp directory, removed after."""
    import subprocess

    from fpga_accel.codegen.csim_harness import RUN_CSIM_SH

    (tmp_path / "hls/csim").mkdir(parents=True)
    script = tmp_path / "hls/csim/run_csim.sh"
    script.write_text(RUN_CSIM_SH)
    shared = tmp_path / "shared_tmp"
    shared.mkdir()
    for pid in range(1, 5):  # what the old script would have run: /tmp/fa_csim_tb_<pid>
        planted = shared / f"fa_csim_tb_{pid}"
        planted.write_text("#!/bin/sh\necho PLANTED\n")
        planted.chmod(0o755)
    fake_cxx = tmp_path / "fake_cxx"  # "compiles" a testbench that prints where it runs from
    fake_cxx.write_text('#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\n'
                        'printf "#!/bin/sh\\necho RAN \\$0 \\$@\\nexit 3\\n" > "$2"\nchmod +x "$2"\n')
    fake_cxx.chmod(0o755)
    env = dict(os.environ, AP_TYPES=str(tmp_path), TMPDIR=str(shared), CXX=str(fake_cxx))
    env.pop("TB_BIN", None)
    run = subprocess.run(["sh", str(script), "4", "in.bin"], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 3 and "PLANTED" not in run.stdout
    assert run.stdout.startswith(f"RAN {shared}/fa_csim.") and run.stdout.rstrip().endswith("/fa_csim_tb 4 in.bin")
    assert sorted(p.name for p in shared.iterdir()) == [f"fa_csim_tb_{pid}" for pid in range(1, 5)]
