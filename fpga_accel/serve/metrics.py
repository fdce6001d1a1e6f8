"""The service's figures, written in the Prometheus text exposition format (version 0.0.4).

Requests by status, images, a histogram of batch sizes, queue depth, request latency (quantiles
over a sliding window of the most recent requests, and a sum and count), and per device: busy
seconds, batches, images, whether it is in the pool, and its session's own :class:`SessionStats`.
"""
from __future__ import annotations

from collections import Counter, deque

import numpy as np

WINDOW = 4096  # latencies kept for the quantiles
QUANTILES = (0.5, 0.9, 0.99)


class Metrics:
    def __init__(self, max_batch: int):
        self.statuses: Counter[int] = Counter()
        self.images = 0
        self.latencies: deque[float] = deque(maxlen=WINDOW)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.retries = 0
        # powers of two up to max_batch, and max_batch itself
        self.batch_bounds = sorted({1 << i for i in range(max_batch.bit_length()) if 1 << i <= max_batch}
                                   | {max_batch})
        self.batch_counts = [0] * len(self.batch_bounds)
        self.batch_sum = 0
        self.batches = 0

    def request(self, status: int, seconds: float | None = None) -> None:
        self.statuses[status] += 1
        if seconds is not None:
            self.latencies.append(seconds)
            self.latency_sum += seconds
            self.latency_count += 1

    def batch(self, images: int) -> None:
        self.batches += 1
        self.batch_sum += images
        for i, bound in enumerate(self.batch_bounds):
            if images <= bound:
                self.batch_counts[i] += 1
                break

    def quantiles(self) -> dict[float, float]:
        if not self.latencies:
            return {q: 0.0 for q in QUANTILES}
        v = np.quantile(np.fromiter(self.latencies, float), QUANTILES)
        return dict(zip(QUANTILES, map(float, v)))

    def render(self, queue_depth: int, queue_capacity: int, devices: list) -> str:
        """The /metrics page; ``devices``: the pool's :class:`~.pool.Device` objects."""
        out: list[str] = []

        def metric(name, kind, help_, samples):
            out.append(f"# HELP fpga_accel_{name} {help_}")
            out.append(f"# TYPE fpga_accel_{name} {kind}")
            for labels, value in samples:
                lab = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
                out.append(f"fpga_accel_{name}{lab} {value:.9g}" if isinstance(value, float)
                           else f"fpga_accel_{name}{lab} {value}")

        metric("requests_total", "counter", "HTTP inference requests answered, by status code",
               [({"code": str(c)}, n) for c, n in sorted(self.statuses.items())])
        metric("images_total", "counter", "images answered", [({}, self.images)])
        metric("retries_total", "counter", "requests retried on another device after a device failed",
               [({}, self.retries)])
        metric("queue_depth", "gauge", "requests waiting for a device", [({}, queue_depth)])
        metric("queue_capacity", "gauge", "requests the queue admits before answering 503", [({}, queue_capacity)])
        metric("request_latency_seconds", "summary",
               f"time from a request's arrival to its answer (quantiles over the last {WINDOW} requests)",
               [({"quantile": str(k)}, v) for k, v in self.quantiles().items()])
        out.append(f"fpga_accel_request_latency_seconds_sum {self.latency_sum:.9g}")
        out.append(f"fpga_accel_request_latency_seconds_count {self.latency_count}")
        out.append("# HELP fpga_accel_batch_images images per batch sent to a device")
        out.append("# TYPE fpga_accel_batch_images histogram")
        cum = 0
        for bound, n in zip(self.batch_bounds, self.batch_counts):
            cum += n
            out.append(f'fpga_accel_batch_images_bucket{{le="{bound}"}} {cum}')
        out.append(f'fpga_accel_batch_images_bucket{{le="+Inf"}} {self.batches}')
        out.append(f"fpga_accel_batch_images_sum {self.batch_sum}")
        out.append(f"fpga_accel_batch_images_count {self.batches}")
        per = [({"device": str(d.index), "backend": d.backend}, d) for d in devices]
        metric("device_up", "gauge", "1 while the device is in the pool, 0 after it failed",
               [(lab, int(d.healthy)) for lab, d in per])
        metric("device_busy_seconds_total", "counter", "seconds the device spent running batches",
               [(lab, float(d.busy_s)) for lab, d in per])
        metric("device_batches_total", "counter", "batches the device ran", [(lab, d.batches) for lab, d in per])
        metric("device_images_total", "counter", "images the device ran", [(lab, d.images) for lab, d in per])
        metric("device_session_images_per_second", "gauge", "the session's own throughput over its run time",
               [(lab, float(d.stats().get("images_per_s", 0.0))) for lab, d in per])
        metric("device_session_call_seconds_mean", "gauge", "the session's mean seconds per run",
               [(lab, float(d.stats().get("call_s", {}).get("mean", 0.0))) for lab, d in per])
        return "\n".join(out) + "\n"
