"""Errors of Spark runs: pyspark missing, a DataFrame whose columns do not fit the model."""
from __future__ import annotations

from ..errors import FpgaAccelError, InputError

INSTALL_HINT = "install it with: pip install 'fpga-accel[spark]' (Spark 3.5+ needs a Java 17 runtime)"


class SparkMissing(FpgaAccelError):
    """The ``pyspark`` (or ``pyarrow``) package is not installed."""


class SparkInputError(InputError):
    """A DataFrame column does not fit the model input it is mapped to (type, nesting, length,
    nulls), or a column name is missing or taken twice."""


def require_pyspark():
    """The ``pyspark`` module, or :class:`SparkMissing` saying how to install it."""
    try:
        import pyarrow  # noqa: F401 - the columns travel as Arrow batches
        import pyspark
    except ImportError as e:
        raise SparkMissing(f"Spark runs need the Python packages 'pyspark' and 'pyarrow' ({e}); {INSTALL_HINT}") \
            from None
    return pyspark
