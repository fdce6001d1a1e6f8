"""`fpga-accel batch` on a local Ray instance it starts itself: Ray's start-up notices are silenced
and the time Ray took to start is reported apart from the work."""
from __future__ import annotations

import logging
import re
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import fpga_accel
from fpga_accel.cli import main
from fpga_accel.distributed.cluster import NOTICE_LOGGERS, quiet_ray_notices
from fpga_accel.distributed.job_report import JobReport
from models import data


def test_quiet_ray_notices_drops_warnings_only_while_it_runs():
    got = []
    handler = logging.Handler()
    handler.emit = got.append
    log = logging.getLogger(NOTICE_LOGGERS[0] + ".authentication_token_setup")
    log.addHandler(handler)
    try:
        with quiet_ray_notices():
            log.warning("Token authentication is enabled for this Ray cluster")
            log.error("a real error")
        log.warning("after")
    finally:
        log.removeHandler(handler)
    assert [r.getMessage() for r in got] == ["a real error", "after"]


def test_report_line_names_ray_start_up_apart_from_the_work():
    r = JobReport(10, 1, 0.25, 1.5, [], ray_startup=6.25)
    assert "10 images in 1 batches on 0 device(s): 0.25 s" in str(r)
    assert "(Ray started in 6.2 s, actor start-up 1.5 s)" in str(r)
    assert "Ray started" not in str(JobReport(10, 1, 0.25, 1.5, []))  # joined a running cluster


def test_batch_on_its_own_local_ray_is_quiet_and_times_ray(tmp_path, capfd):
    if ray.is_initialized():
        ray.shutdown()
    b = fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "m.fpga", calib=data.load_calib("mnist_cnn"),
                           progress=False, generators=[])
    x, _ = data.load_test("mnist_cnn")
    np.save(tmp_path / "x.npy", x[:64])
    t = time.monotonic()
    code = main(["batch", str(b.path), "--input", str(tmp_path / "x.npy"), "--devices", "1", "--no-progress"])
    took = time.monotonic() - t
    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert not ray.is_initialized()  # the CLI's own instance is shut down
    assert "Token authentication" not in out + err and "token-auth" not in out + err
    started = float(re.search(r"\(Ray started in (\d+\.\d) s, actor start-up \d+\.\d s\)", out).group(1))
    assert 0 < started < took
