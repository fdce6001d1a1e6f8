"""What a timed simulation found: steady-state interval, latency, per process and per FIFO figures."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ProcessStats:
    name: str
    iterations: int  # FA_CYCLE iterations over the batch (the cycles it works)
    end: int  # cycle its last iteration ends
    starved: int  # cycles stalled waiting for a word
    blocked: int  # cycles stalled waiting for a free FIFO slot


@dataclass
class FifoStats:
    name: str
    depth: int  # 0: unbounded (the host reads it)
    words: int  # words through it over the batch
    max_occupancy: int
    writer: str
    reader: str


@dataclass
class Blocked:
    process: str
    waits_for: str  # "word" (empty FIFO) or "slot" (full FIFO)
    stream: str
    cycle: int  # where its clock stands while it waits


@dataclass
class SimResult:
    model: str
    board: str
    clock_mhz: float
    interface: str  # "axis" (Zynq IP) or "m_axi" (Vitis kernel)
    images: int
    cycles_per_image: float | None  # steady state: last-word interval after warm-up, before the last image; None for 1 image
    latency: int | None  # cycles until the output adapter took the first image's last word
    image_done: list[int]  # that cycle per image
    total_cycles: int
    model_cycles_per_image: int | None  # the cost model's figure (manifest["fold"])
    model_latency: int | None
    processes: list[ProcessStats]
    fifos: list[FifoStats]
    bottleneck: str | None
    depths: dict[str, int] = field(default_factory=dict)  # every bounded stream's depth as simulated
    deadlock: dict | None = None  # {"cycle": c, "blocked": [Blocked...]}
    outputs_match: bool | None = None  # outputs == the emulator's, bit for bit (None: not checked)
    seconds: dict[str, float] = field(default_factory=dict)
    # the steady interval measured while the design still read input (False: every image's input was
    # in before the window's outputs came out, so cycles_per_image is a draining pipeline's; None:
    # one image, or no input stream)
    warmed: bool | None = None

    @property
    def frames_per_s(self) -> float | None:
        if not self.cycles_per_image:
            return None
        return self.clock_mhz * 1e6 / self.cycles_per_image

    @property
    def model_ratio(self) -> float | None:
        """Simulated / modelled cycles per image."""
        if not self.cycles_per_image or not self.model_cycles_per_image:
            return None
        return self.cycles_per_image / self.model_cycles_per_image

    def to_dict(self) -> dict:
        out = asdict(self)
        out["frames_per_s"] = self.frames_per_s
        out["model_ratio"] = self.model_ratio
        return out
