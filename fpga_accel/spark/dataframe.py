"""``map_bundle``: a compiled bundle over a Spark DataFrame, on the executors' FPGA devices."""
from __future__ import annotations

import hashlib

from ..errors import InputError
from .columns import plan_inputs, plan_outputs, spark_schema
from .errors import SparkInputError, require_pyspark
from .executor import BundleMapper

SESSION_OPTIONS = ("batch_size", "timeout")


def map_bundle(df, bundle, inputs: dict[str, str] | None = None, outputs: dict[str, str] | None = None,
               keep: list[str] | None = None, backend: str = "auto", fallback: str | None = "emulator",
               resource: str = "fpga", binary_dtype: str = "float32", session_options: dict | None = None,
               ship: bool = True):
    """The DataFrame ``df`` with the bundle's outputs as new columns, row for row, in ``df``'s order.

    ``bundle``: a ``NAME.fpga`` directory (loaded and hash-verified here, before any task
    starts). ``inputs``: model input name → column (see :mod:`fpga_accel.spark.columns` for the
    column forms; default: a single-input model reads the column of its input's name, or the
    only array/binary column). ``outputs``: model output name → new column (default: the
    output names). ``keep``: columns carried into the result (default: every non-input column).
    ``backend``: the Session backend of a task that Spark assigned a ``resource`` device;
    ``fallback``: the backend of a task without one (None: such a task fails).
    ``session_options``: ``batch_size`` (images per device call) and ``timeout`` of the Session.
    ``ship``: broadcast the bundle to the executors (False: the path must exist on every node).

    The result is lazy like any DataFrame; each partition runs as one ``mapInArrow`` task.
    """
    require_pyspark()
    from ..bundle import load_bundle

    b = load_bundle(getattr(bundle, "path", bundle))
    options = dict(session_options or {})
    unknown = sorted(set(options) - set(SESSION_OPTIONS))
    if unknown:
        raise InputError(f"session_options may hold {list(SESSION_OPTIONS)}, got {unknown}")
    schema = df.schema
    plan = plan_inputs(schema, b.manifest, inputs, binary_dtype)
    used = {c.column for c in plan}
    keep = [f.name for f in schema.fields if f.name not in used] if keep is None else list(keep)
    missing = [k for k in keep if k not in schema.fieldNames()]
    if missing:
        raise SparkInputError(f"keep= names column(s) {missing} the DataFrame does not have ({schema.fieldNames()})")
    out_plan = plan_outputs(b.manifest, outputs, keep)
    shipped = None
    if ship:
        from ..distributed.ship import pack

        try:
            context = df.sparkSession.sparkContext
        except Exception:  # noqa: BLE001 - Spark Connect sessions have no SparkContext to broadcast with
            raise SparkInputError("this DataFrame's session cannot broadcast the bundle (a Spark Connect "
                                  "session?): pass ship=False, with the bundle at the same path on every "
                                  "executor node") from None
        blob = pack(b.path)
        shipped = (b.path.name, hashlib.sha256(blob).hexdigest(), context.broadcast(blob))
    mapper = BundleMapper(str(b.path), plan, out_plan, keep, backend, fallback, resource, options, shipped)
    return df.mapInArrow(mapper, spark_schema(schema, keep, out_plan))
