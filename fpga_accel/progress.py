"""Progress bars for long steps: tqdm when installed and attached to a terminal, else silent."""
from __future__ import annotations

import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def bar(it: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
    try:
        from tqdm import tqdm
    except ImportError:
        return it
    return tqdm(it, total=total, desc=desc, leave=False, disable=not sys.stderr.isatty())
