"""Shared pieces of the benchmark scripts: the machine's description, timing, peak memory, data.

Nothing here is part of the package; the scripts run from a checkout (``python benchmarks/X.py``).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models"))
sys.path.insert(0, str(ROOT))

from models import data  # the example models' files, for the scripts

__all__ = ["ROOT", "TORCHVISION_DIR", "PeakRss", "data", "machine", "print_machine", "throughput", "tiled",
           "write_json"]

#: the torchvision exports of torchvision_export.py, which tiled.py and tiled_models.py read (git-ignored)
TORCHVISION_DIR = Path(os.environ.get("FPGA_ACCEL_TORCHVISION", ROOT / "benchmarks" / "models" / "torchvision"))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def _blas() -> str | None:
    try:
        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        return f"{b.get('name')} {b.get('version')}"
    except (KeyError, TypeError, AttributeError):
        return None


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip() + (" (with uncommitted changes)" if _dirty() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _dirty() -> bool:
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        return bool(out.strip())
    except (OSError, subprocess.CalledProcessError):
        return False


def machine(extra_packages: tuple[str, ...] = ()) -> dict:
    """What the figures were measured on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    pkgs = ("numpy", "onnx", "onnxruntime", "fpga-accel", *extra_packages)
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_gb": _mem_total_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "blas": _blas(),
        "versions": {p: _version(p) for p in pkgs},
        "git": _git_commit(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def print_machine(console, m: dict) -> None:
    v = ", ".join(f"{k} {x}" for k, x in m["versions"].items() if x)
    console.print(f"[bold]{m['date_utc']}[/]  {m['cpu']}, {m['usable_cpus']} usable CPU(s) of {m['logical_cpus']}, "
                  f"{m['memory_gb']} GB, {m['os']}, Python {m['python']}, BLAS {m['blas']}")
    console.print(f"{v}; git {m['git']}; load average at start {m.get('load_average_at_start')}")


# --- peak memory ------------------------------------------------------------------------------
def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakRss:
    """Peak resident memory of this process during a block (Linux: VmHWM after resetting it through
    /proc/self/clear_refs). ``peak_mb`` is the whole process's peak, ``delta_mb`` the rise over the
    resident size at the start. None where the kernel does not allow the reset."""

    def __enter__(self):
        self.ok = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.ok = True
        except OSError:
            pass
        self.start = _status_kb("VmRSS")
        return self

    def __exit__(self, *exc):
        hwm = _status_kb("VmHWM") if self.ok else None
        self.peak_mb = None if hwm is None else round(hwm / 1024, 1)
        self.delta_mb = None if hwm is None or self.start is None else round((hwm - self.start) / 1024, 1)


# --- timing ---------------------------------------------------------------------------------------
def throughput(run_batch, x: np.ndarray, batch: int, repeats: int) -> dict:
    """Images per second of ``run_batch(x[i:i+batch])`` over all of ``x``: best and median of
    ``repeats`` passes after a warm-up batch, by the wall clock and per second of this process's CPU
    time (all its threads). With one thread the latter hardly depends on what else the machine runs."""
    run_batch(x[:batch])
    wall, cpu = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        for i in range(0, len(x), batch):
            run_batch(x[i:i + batch])
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    n = len(x)
    return {"images": n, "batch": batch, "passes": repeats, "best_images_per_s": round(n / min(wall), 1),
            "median_images_per_s": round(n / float(np.median(wall)), 1),
            "best_images_per_cpu_s": round(n / max(min(cpu), 1e-9), 1)}


def tiled(x: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` images of ``x`` repeated as often as needed."""
    reps = -(-n // len(x))
    return np.concatenate([x] * reps)[:n]


def write_json(path: str | os.PathLike, obj: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, default=str)
        f.write("\n")
