"""What a distributed run did, per device: images, busy time, throughput, utilisation, faults."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DeviceReport:
    """One device slot of the pool over a run (the actors that held it, replacements included)."""

    slot: int
    host: str = "?"
    device: int | None = None
    backend: str = "?"
    images: int = 0
    batches: int = 0
    busy: float = 0.0  # seconds the device's Session spent running batches
    failures: int = 0  # batches that failed on this slot (and went back to the queue)
    replacements: int = 0  # actors started anew in this slot after a failure

    def throughput(self, wall: float) -> float:
        """Images per second of the run's wall time."""
        return self.images / wall if wall > 0 else 0.0

    def utilisation(self, wall: float) -> float:
        """Share of the run's wall time the device was running a batch (0..1)."""
        return min(1.0, self.busy / wall) if wall > 0 else 0.0


@dataclass
class JobReport:
    """A whole run: totals, wall time, and one :class:`DeviceReport` per slot."""

    images: int
    batches: int
    wall: float  # seconds from the first batch sent to the last result in
    startup: float  # seconds to start the actors (bundle loaded, device opened), before the run
    devices: list[DeviceReport] = field(default_factory=list)
    retried: int = 0  # batch attempts that failed and were sent again
    duplicates_dropped: int = 0  # results of a batch that arrived after it was already stored
    ray_startup: float = 0.0  # seconds ray.init took (starting a local instance, or joining a cluster)

    @property
    def throughput(self) -> float:
        return self.images / self.wall if self.wall > 0 else 0.0

    def table(self) -> tuple[list[str], list[list[str]], list[str]]:
        """Header, rows and totals for a printed table."""
        head = ["slot", "host", "device", "backend", "images", "batches", "busy s", "images/s", "util %",
                "failures", "replaced"]
        rows = [[str(d.slot), d.host, "?" if d.device is None else str(d.device), d.backend, str(d.images), str(d.batches), f"{d.busy:.2f}", f"{d.throughput(self.wall):.1f}",
                 f"{100 * d.utilisation(self.wall):.0f}", str(d.failures), str(d.replacements)]
                for d in self.devices]
        busy = sum(d.busy for d in self.devices)
        util = busy / (self.wall * len(self.devices)) if self.wall > 0 and self.devices else 0.0
        totals = ["all", "", "", "", str(self.images), str(self.batches), f"{busy:.2f}", f"{self.throughput:.1f}",
                  f"{100 * min(1.0, util):.0f}", str(sum(d.failures for d in self.devices)),
                  str(sum(d.replacements for d in self.devices))]
        return head, rows, totals

    def __str__(self) -> str:
        faults = f", {self.retried} batch(es) retried" if self.retried else ""
        ray = f"Ray started in {self.ray_startup:.1f} s, " if self.ray_startup else ""
        return (f"{self.images} images in {self.batches} batches on {len(self.devices)} device(s): {self.wall:.2f} s, "
                f"{self.throughput:.1f} images/s ({ray}actor start-up {self.startup:.1f} s){faults}")
