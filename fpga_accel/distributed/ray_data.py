"""Ray Data: run a bundle inside ``Dataset.map_batches`` on an actor pool, one actor per device.

Each pool actor holds a :class:`~fpga_accel.distributed.device_worker.DeviceWorker` (one ``fpga``
resource, one Session). Ray Data retries the tasks of an actor that died on another one; order
is kept when ``preserve_order`` is set (the default here). For numpy arrays, ``.npy``
directories and Parquet files, :class:`~fpga_accel.distributed.DevicePool` does the same with
keyed batches and a per-device report.
"""
from __future__ import annotations

import numpy as np

from .cluster import RESOURCE, require_ray
from .device_worker import DeviceWorker
from .sources import input_specs


class BundlePredictor:
    """The callable class ``map_batches`` instantiates once per actor."""

    def __init__(self, bundle: str, blob: bytes | None, backend: str, columns: dict[str, str], shapes: dict,
                 raw: bool, session_options: dict | None):
        self.worker = DeviceWorker(bundle, backend, slot=-1, session_options=session_options, blob=blob)
        self.columns, self.shapes, self.raw = columns, shapes, raw

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {}
        for name, col in self.columns.items():
            x = batch[col]
            if x.dtype == object:  # ragged-typed cells (lists read from Parquet): one array per row
                x = np.stack([np.asarray(c) for c in x])
            feeds[name] = x.reshape((len(x),) + self.shapes[name])
        _, out, _ = self.worker.run(0, feeds, self.raw)
        return out


def map_batches(ds, bundle, devices: int, backend: str = "emulator", columns: dict[str, str] | None = None,
                batch_size: int = 256, raw: bool = False, session_options: dict | None = None,
                num_cpus: float = 0, ship: bool = True, preserve_order: bool = True):
    """``ds.map_batches`` running the bundle on ``devices`` actors; returns the mapped Dataset,
    whose columns are the model's outputs.

    ``columns`` maps input names to dataset columns (default: a single-input model reads the
    only column). ``preserve_order`` sets Ray Data's ordered execution on the current
    ``DataContext`` so rows come out in input order.
    """
    require_ray()
    import ray.data

    from ..bundle import load_bundle
    from ..errors import InputError
    from .ship import pack

    b = load_bundle(bundle)
    specs = input_specs(b.manifest, raw)
    if columns is None:
        names = list(ds.columns() or [])
        if len(specs) != 1 or len(names) != 1:
            raise InputError(f"give columns= mapping the model inputs {[s.name for s in specs]} to dataset columns "
                             f"(the dataset has {names})")
        columns = {specs[0].name: names[0]}
    if preserve_order:
        ray.data.DataContext.get_current().execution_options.preserve_order = True
    args = {"bundle": str(b.path), "blob": pack(b.path) if ship else None, "backend": backend, "columns": columns,
            "shapes": {s.name: s.shape for s in specs}, "raw": raw, "session_options": session_options}
    return ds.map_batches(BundlePredictor, fn_constructor_kwargs=args, batch_size=batch_size, batch_format="numpy",
                          concurrency=devices, num_cpus=num_cpus, resources={RESOURCE: 1})
