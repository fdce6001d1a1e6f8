"""Distributed runs on a local Ray cluster (2 CPUs, 4 virtual `fpga` devices): outputs equal a
single Session's bit for bit and in input order, over arrays, .npy directories and Parquet;
a device that dies or raises mid-job is replaced and its batches retried, nothing lost or
duplicated; the `batch` command; Ray Data's map_batches."""
from __future__ import annotations

import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'fpga-accel[ray]')")

import fpga_accel
from fpga_accel.cli import main
from fpga_accel.distributed import DevicePool, DistributedError
from fpga_accel.errors import InputError
from fpga_accel.runtime import Session
from models import data

# the fault-injecting session factories below travel to the actors by value, not by module name
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

N_JOB = 10_000


@pytest.fixture(scope="module")
def cluster():
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, resources={"fpga": 4}, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "mnist_cnn.fpga"
    return fpga_accel.compile(data.model_path("mnist_cnn"), out, calib=data.load_calib("mnist_cnn"), progress=False)


@pytest.fixture(scope="module")
def images():
    """10k MNIST-like images: the real test and calibration images, tiled, with a little noise."""
    x, _ = data.load_test("mnist_cnn")
    real = np.concatenate([x, data.load_calib("mnist_cnn")])
    tiled = np.resize(real, (N_JOB,) + real.shape[1:])
    noise = np.random.default_rng(7).normal(0, 0.02, tiled.shape).astype(np.float32)
    return np.clip(tiled + noise, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def reference(bundle, images):
    with Session(bundle, backend="emulator") as s:
        return s.run(images)


@pytest.fixture
def pool(cluster, bundle):
    with DevicePool(bundle, devices=4, backend="emulator") as p:
        yield p


def same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for k, y in want.items():
        assert got[k].dtype == y.dtype and got[k].shape == y.shape
        assert np.array_equal(got[k], y), f"output {k} differs from the single-Session run"


def test_10k_images_on_4_actors_equal_one_session(pool, images, reference):
    result = pool.run(images, batch_size=250)
    same(result.outputs, reference)
    r = result.report
    assert (r.images, r.batches, len(r.devices)) == (N_JOB, 40, 4)
    assert sum(d.images for d in r.devices) == N_JOB and sum(d.batches for d in r.devices) == 40
    assert r.retried == 0 and r.duplicates_dropped == 0
    assert all(d.backend == "emulator" for d in r.devices)
    assert sorted(d.device for d in r.devices) == [0, 1, 2, 3]  # each actor claimed its own device index
    assert 0 < r.throughput and all(0 <= d.utilisation(r.wall) <= 1 for d in r.devices)


def test_killed_actor_is_replaced_and_its_batches_retried(pool, images, reference):
    killed = []

    def kill_one(key, slot):
        if not killed:
            killed.append(pool.actor(1))
            ray.kill(pool.actor(1))

    before = pool.slots[1].report.replacements
    result = pool.run(images, batch_size=250, on_batch=kill_one)
    same(result.outputs, reference)
    r = result.report
    assert r.devices[1].replacements == before + 1 and pool.actor(1) is not killed[0]
    assert sum(d.images for d in r.devices) == N_JOB  # every batch stored exactly once
    assert r.duplicates_dropped == 0


def failing_backend(session, fail_at: int, stay: bool = False):
    """Make the session's backend raise on its ``fail_at``-th call (and on every later one with
    ``stay``), as a device whose DMA stops working would."""
    run_raw, calls = session.backend.run_raw, [0]

    def run(q_inputs):
        calls[0] += 1
        if calls[0] == fail_at or (stay and calls[0] > fail_at):
            raise OSError(f"DMA transfer failed on backend call {calls[0]}")
        return run_raw(q_inputs)

    session.backend.run_raw = run
    return session


def third_call_fails_on_device_1(bundle, backend, device, generation, **options):
    s = Session(bundle, backend=backend, **options)
    return failing_backend(s, 3) if device == 1 and generation == 0 else s


def always_fails(bundle, backend, device, generation, **options):
    return failing_backend(Session(bundle, backend=backend, **options), 1, stay=True)


def test_device_raising_mid_job_is_replaced(cluster, bundle, images, reference):
    x, want = images[:3000], {k: v[:3000] for k, v in reference.items()}
    with DevicePool(bundle.path, devices=4, session_factory=third_call_fails_on_device_1) as p:
        result = p.run(x, batch_size=100)
    same(result.outputs, want)
    r = result.report
    flaky = [d for d in r.devices if d.failures]
    assert len(flaky) == 1 and flaky[0].replacements == 1 and r.retried >= 1
    assert sum(d.images for d in r.devices) == 3000 and r.duplicates_dropped == 0


def test_batch_failing_everywhere_stops_with_its_error(cluster, bundle, images):
    with (DevicePool(bundle.path, devices=2, session_factory=always_fails, max_retries=2) as p,
          pytest.raises(DistributedError, match=r"batch \d+ failed 3 time\(s\).*OSError: DMA transfer failed")):
        p.run(images[:200], batch_size=100)


def test_bad_input_raises_at_once_without_retry(pool, images):
    bad = images[:300].copy()
    bad[260, 0, 3, 3] = np.nan
    with pytest.raises(InputError, match=r"batch 2 .*NaN"):
        pool.run(bad, batch_size=100)
    with pytest.raises(InputError, match=r"shape"):
        pool.run(images[:10, :, :27, :27])


def test_npy_directory_input(pool, images, reference, tmp_path):
    d = tmp_path / "npy"
    d.mkdir()
    # single images and batches of different sizes; batches of 96 cut across files
    for i in range(40):
        np.save(d / f"{i:05d}.npy", images[i, ])
    for j, lo in enumerate(range(40, 1000, 120)):
        np.save(d / f"{j + 40:05d}.npy", images[lo:lo + 120])
    result = pool.run(d, batch_size=96)
    same(result.outputs, {k: v[:1000] for k, v in reference.items()})


def test_parquet_inputs(pool, images, reference, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    x = images[:1500]
    flat = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 784)
    pq.write_table(pa.table({"input": flat}), tmp_path / "one.parquet", row_group_size=230)
    result = pool.run(tmp_path / "one.parquet", batch_size=200)
    same(result.outputs, {k: v[:1500] for k, v in reference.items()})
    # a directory of files, nested lists in a column named otherwise: the only column is the input
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, lo in enumerate(range(0, 1500, 700)):
        cells = pa.array(x[lo:lo + 700].tolist(), pa.list_(pa.list_(pa.list_(pa.float32()))))
        pq.write_table(pa.table({"pixels": cells}), parts / f"part-{i}.parquet")
    result = pool.run(parts, batch_size=256)
    same(result.outputs, {k: v[:1500] for k, v in reference.items()})


def test_batch_command(cluster, bundle, images, reference, tmp_path, capsys):
    np.save(tmp_path / "x.npy", images[:700])
    code = main(["batch", str(bundle.path), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
                 "--devices", "3", "--batch-size", "64", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert np.array_equal(np.load(tmp_path / "y.npy"), reference["logits"][:700])
    assert "per device" in out and "700 images in 11 batches on 3 device(s)" in out


def test_batch_command_errors(cluster, bundle, images, tmp_path, capsys):
    np.save(tmp_path / "x.npy", images[:10])
    code = main(["batch", str(bundle.path), "--input", str(tmp_path / "x.npy"), "--devices", "9"])
    assert code == 2 and "declares 4 'fpga' resource(s); 9 device(s) were asked for" in capsys.readouterr().err
    code = main(["batch", str(bundle.path), "--input", str(tmp_path / "none.npy"), "--devices", "2"])
    assert code == 2 and "none.npy: input file or directory not found" in capsys.readouterr().err


def test_csim_actors_equal_emulator(cluster, tmp_path):
    from fpga_accel.codegen.hls_project import generate_hls

    b = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "digits.fpga",
                           calib=data.load_calib("digits_cnn"), progress=False, generators=[generate_hls])
    why = fpga_accel.runtime.get_backend("csim").unavailable(b)
    if why:
        pytest.skip(f"csim backend unavailable: {why}")
    from fpga_accel.emulator.csim_library import build_csim

    build_csim(b, progress=False)  # once here: the actors then load the cached library
    x, _ = data.load_test("digits_cnn")
    with Session(b, backend="emulator") as s:
        want = s.run(x)
    with DevicePool(b.path, devices=2, backend="csim") as p:
        result = p.run(x, batch_size=64)
    same(result.outputs, want)
    assert all(d.backend == "csim" for d in result.report.devices)


def test_ray_data_map_batches(cluster, bundle, images, reference):
    rd = pytest.importorskip("ray.data")
    from fpga_accel.distributed import map_batches

    ds = map_batches(rd.from_numpy(images[:1000]).repartition(4), bundle.path, devices=2, batch_size=128)
    y = np.concatenate([b["logits"] for b in ds.iter_batches(batch_size=None, batch_format="numpy")])
    assert np.array_equal(y, reference["logits"][:1000])
