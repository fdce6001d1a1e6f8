import json

import numpy as np
import pytest

from fpga_accel.bundle import BundleError, load_bundle, write_bundle


def _write(path, **kw):
    def files(root):
        (root / "hls").mkdir()
        (root / "hls" / "top.cpp").write_text("// top\n")

    return write_bundle(path, {"name": "m", "board": {"name": "pynq-z2"}}, {"w0": np.arange(6, dtype=np.int8)}, files, **kw)


def test_round_trip_lists_every_file(tmp_path):
    b = load_bundle(_write(tmp_path / "m.fpga"))
    assert set(b.manifest["files"]) == {"weights.npz", "hls/top.cpp"}
    np.testing.assert_array_equal(b.weights()["w0"], np.arange(6, dtype=np.int8))
    assert b.manifest["board"] == {"name": "pynq-z2"}


@pytest.mark.parametrize("tamper,word", [
    (lambda p: (p / "hls" / "top.cpp").write_text("// evil\n"), "modified ['hls/top.cpp']"),
    (lambda p: (p / "hls" / "top.cpp").unlink(), "missing ['hls/top.cpp']"),
    (lambda p: (p / "hls" / "extra.cpp").write_text("x"), "unexpected ['hls/extra.cpp']"),
])
def test_tampered_bundle_is_refused(tmp_path, tamper, word):
    p = _write(tmp_path / "m.fpga")
    tamper(p)
    with pytest.raises(BundleError, match="does not match its manifest") as e:
        load_bundle(p)
    assert word in str(e.value)


def test_corrupt_or_foreign_manifest(tmp_path):
    p = _write(tmp_path / "m.fpga")
    (p / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="corrupt manifest"):
        load_bundle(p)
    (p / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(BundleError, match="format version 99"):
        load_bundle(p)
    with pytest.raises(BundleError, match="not a bundle"):
        load_bundle(tmp_path / "nowhere.fpga")


def test_failed_write_leaves_nothing_and_keeps_the_old_bundle(tmp_path):
    p = _write(tmp_path / "m.fpga")
    before = sorted(x.name for x in tmp_path.iterdir())

    def boom(root):
        (root / "half.cpp").write_text("half")
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        write_bundle(p, {}, {}, boom)
    assert sorted(x.name for x in tmp_path.iterdir()) == before
    assert load_bundle(p).manifest["name"] == "m"


def test_refuses_to_replace_a_non_bundle_directory(tmp_path):
    d = tmp_path / "precious"
    d.mkdir()
    (d / "data.txt").write_text("keep me")
    with pytest.raises(BundleError, match="not a bundle"):
        _write(d)
    assert (d / "data.txt").read_text() == "keep me"
