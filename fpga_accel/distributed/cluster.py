"""Finding Ray and a cluster to run on. Ray is imported here, on first use only, so
``import fpga_accel`` and ``import fpga_accel.distributed`` need numpy alone."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager

from .errors import INSTALL_HINT, DistributedError, RayMissing

#: the Ray custom resource that counts FPGA boards / cards: one per device
RESOURCE = "fpga"


def require_ray():
    """The ``ray`` module, or :class:`RayMissing` saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise RayMissing(f"distributed runs need the Python package 'ray', which is not installed ({e}); "
                         f"{INSTALL_HINT}") from None
    return ray


def connect(address: str | None = "local", devices: int | None = None, num_cpus: int | None = None) -> bool:
    """Make sure this process is connected to Ray; True when this call started the connection
    (so the caller shuts it down when done).

    ``address``: ``"local"`` starts a Ray instance in this process with ``devices`` virtual
    ``fpga`` resources (for emulator / csim runs without boards), ``"auto"`` joins the cluster
    started with ``ray start`` on this machine (or ``$RAY_ADDRESS``), ``"ray://host:10001"`` goes
    through Ray Client. A process already connected (``ray.init`` called before) is used as it is.
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    try:
        if address in (None, "local"):
            n = devices or os.cpu_count() or 1
            with quiet_ray_notices():
                ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, resources={RESOURCE: n},
                         include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = "a local Ray instance" if address in (None, "local") else f"the Ray cluster at '{address}'"
        raise DistributedError(f"cannot connect to {where}: {e}. Start a cluster with `ray start --head "
                               f"--resources='{{\"{RESOURCE}\": N}}'` (N = boards on the node), or use "
                               "--address local to run on this machine") from None
    return True


#: loggers whose start-up notices say nothing about a private local instance: the notice that
#: token authentication is on (it stays on: it keeps other users of the machine out)
NOTICE_LOGGERS = ("ray._private.authentication",)


@contextmanager
def quiet_ray_notices():
    """Ray's start-up notices silenced (errors still show) while a local instance starts."""
    loggers = [logging.getLogger(name) for name in NOTICE_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def cluster_devices() -> int:
    """How many ``fpga`` resources the connected cluster has in total (0 when none)."""
    ray = require_ray()
    return int(ray.cluster_resources().get(RESOURCE, 0))


def node_devices(node_id: str) -> int:
    """How many ``fpga`` resources the node ``node_id`` declares."""
    ray = require_ray()
    for node in ray.nodes():
        if node.get("NodeID") == node_id:
            return int(node.get("Resources", {}).get(RESOURCE, 0))
    return 0
