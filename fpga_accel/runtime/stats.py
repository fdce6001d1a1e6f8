"""What a :class:`~fpga_accel.runtime.Session` measured: calls, images, latency and throughput."""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Timing:
    """A series of durations in seconds: last, mean, min, max."""

    count: int = 0
    total: float = 0.0
    last: float = 0.0
    min: float = math.inf
    max: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.last = seconds
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def describe(self) -> str:
        """``last/mean/min/max unit``, in s, ms or us after the largest."""
        if not self.count:
            return "-"
        unit, k = ("s", 1.0) if self.max >= 1 else ("ms", 1e3) if self.max >= 1e-3 else ("us", 1e6)
        return "/".join(f"{v * k:.2f}" for v in (self.last, self.mean, self.min, self.max)) + f" {unit}"


@dataclass
class SessionStats:
    """Counters of a session's completed runs (a run = one :meth:`Session.run` or ``submit``).

    ``call``: seconds per run, from the start of its work to its last output (queueing behind
    earlier submissions excluded); ``image``: per run, its seconds divided by its images.
    Throughput is images over the summed run time. A run is split into ``backend_calls`` calls
    of at most the session's ``batch_size`` (and the backend's ``max_batch``) images each;
    ``largest_call`` is the most images one backend call received.
    """

    calls: int = 0
    images: int = 0
    last_images: int = 0
    backend_calls: int = 0
    largest_call: int = 0
    call: Timing = field(default_factory=Timing)
    image: Timing = field(default_factory=Timing)

    def record(self, seconds: float, images: int, backend_calls: int = 1, largest_call: int | None = None) -> None:
        self.calls += 1
        self.images += images
        self.last_images = images
        self.backend_calls += backend_calls
        self.largest_call = max(self.largest_call, images if largest_call is None else largest_call)
        self.call.add(seconds)
        self.image.add(seconds / images)

    @property
    def total_s(self) -> float:
        return self.call.total

    @property
    def last_s(self) -> float:
        return self.call.last

    @property
    def images_per_s(self) -> float:
        """Throughput: images per second of run time."""
        return self.images / self.call.total if self.call.total > 0 else 0.0

    @property
    def latency_s(self) -> float:
        """Mean time per image."""
        return self.call.total / self.images if self.images else 0.0

    def as_dict(self) -> dict:
        return {"calls": self.calls, "images": self.images, "backend_calls": self.backend_calls,
                "largest_call": self.largest_call, "total_s": self.total_s,
                "images_per_s": self.images_per_s,
                "call_s": {"last": self.call.last, "mean": self.call.mean, "min": self.call.min if self.calls else 0.0,
                           "max": self.call.max},
                "image_s": {"last": self.image.last, "mean": self.image.mean,
                            "min": self.image.min if self.calls else 0.0, "max": self.image.max}}

    def __str__(self) -> str:
        if not self.calls:
            return "0 run(s)"
        return (f"{self.calls} run(s), {self.images} image(s) in {self.backend_calls} backend call(s) of "
                f"≤{self.largest_call} image(s), {self.total_s:.3f} s, "
                f"{self.images_per_s:,.1f} images/s; per run (last/mean/min/max) {self.call.describe()}, "
                f"per image {self.image.describe()}")
