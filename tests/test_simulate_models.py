"""The timed simulation of every example model: outputs == the emulator bit for bit, no deadlock at
the generated FIFO depths, every process runs exactly the loop iterations the C simulation counts,
the simulated interval at the generated depths is within 2 % of the cost model's cycles per image,
and with unbounded FIFOs it is the cost model's figure exactly."""
from __future__ import annotations

import pytest

from codegen_util import need_toolchain
from models import data

IMAGES = 4
SLOW = pytest.mark.slow  # each builds a C simulation with g++ (15-30 s on two cores)
CASES = [
    pytest.param("mnist_cnn", "pynq-z2", id="mnist_cnn-pynq-z2"),
    pytest.param("mnist_cnn", "alveo-u50", id="mnist_cnn-alveo-u50-m_axi"),
    pytest.param("mlp", "pynq-z2", id="mlp-pynq-z2"),
    pytest.param("digits_cnn", "ultra96v2", id="digits_cnn-ultra96v2", marks=SLOW),
    pytest.param("resnet_ds", "pynq-z2", id="resnet_ds-pynq-z2", marks=SLOW),
    # its global pool's 8 result words go to a narrowing converter: the pool's output stream holds them
    pytest.param("resnet_ds", "zcu104", id="resnet_ds-zcu104", marks=SLOW),
    pytest.param("mnist_cnn_qdq", "pynq-z2", id="mnist_cnn_qdq-pynq-z2", marks=SLOW),
]


@pytest.mark.parametrize("name,board", CASES)
def test_example_model(name, board, tmp_path):
    need_toolchain()
    import fpga_accel
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.sim import Simulator

    calib = None if name.endswith("_qdq") else data.load_calib(name)
    b = fpga_accel.compile(data.model_path(name), tmp_path / "m.fpga", board=board, calib=calib, progress=False,
                           generators=[generate_hls])
    sim = Simulator(b.path / "hls", load_qmodel(b), b.manifest)
    assert sim.fast_paths  # the bundle carries this library's headers
    res = sim.run(IMAGES)
    assert res.deadlock is None and res.outputs_match is True and res.warmed is True
    fold = b.manifest["fold"]
    assert res.cycles_per_image >= fold["cycles_per_image"]
    # at the generated depths (inputs of bursty PEs deepened by their input_slack) within 2 % of the model
    assert res.cycles_per_image <= 1.02 * fold["cycles_per_image"], (res.cycles_per_image, fold["cycles_per_image"])
    assert res.interface == ("m_axi" if board == "alveo-u50" else "axis")
    # each DATAFLOW process ran the loop iterations the cost model gives for the batch
    modelled = {s["name"]: s for s in fold["stages"]}
    counted: dict[str, int] = {}
    for p in res.processes:
        stage = p.name.split(":")[0].split("#")[0]
        counted[stage] = counted.get(stage, 0) + p.iterations
    assert set(counted) == set(modelled)
    from fpga_accel.pe import Stage

    for stage, n in counted.items():
        s = modelled[stage]
        assert n == Stage(stage.rsplit("/", 1)[0], s["kind"], s["params"]).batch_cycles(res.images, res.interface), stage
    tr, _, _ = sim.trace(res.images)
    free = sim.run(res.images, {s: 10 ** 7 for s in tr.streams if s not in ("in0", "out0")})
    assert free.cycles_per_image == fold["cycles_per_image"]


def test_a_pipeline_deeper_than_the_batch_is_run_on_more_images(tmp_path, capsys):
    """digits_cnn on ultra96v2 holds about two images in flight: on 4 images the outputs measured come
    out after every input was read (a draining pipeline, spaced by its last stages, which can be
    faster than the slowest one). The run notices, runs on more images and measures while input
    still streams."""
    need_toolchain()
    import fpga_accel
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.sim import Simulator

    b = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "m.fpga", board="ultra96v2",
                           calib=data.load_calib("digits_cnn"), progress=False, generators=[generate_hls])
    sim = Simulator(b.path / "hls", load_qmodel(b), b.manifest)
    model = b.manifest["fold"]["cycles_per_image"]
    tr, procs, _ = sim.trace(IMAGES)
    assert sim.replay(tr, procs, sim.depths(tr, procs, None), IMAGES).warmed is False
    res = sim.run(IMAGES)
    assert res.warmed is True and res.images > IMAGES and res.outputs_match is True
    assert len(res.image_done) == res.images
    assert model <= res.cycles_per_image <= 1.02 * model
    # the command says so
    from fpga_accel.cli import main

    capsys.readouterr()
    assert main(["simulate", str(b.path), "--images", str(IMAGES)]) == 0
    assert f"images          {res.images}, not {IMAGES}:" in capsys.readouterr().out
