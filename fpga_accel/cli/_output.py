"""Tables for the terminal: rich when it is installed (the ``compile`` extra), plain text otherwise.

Cells and titles hold model names: they are printed through :func:`fpga_accel.escape.terminal`
(no control character or ANSI escape reaches the terminal) and as ``rich.text.Text`` (no markup).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from ..escape import terminal


@dataclass
class Column:
    header: str
    align: str = "left"  # "left" or "right"
    wrap: bool = False  # may fold over several lines in a narrow terminal (long text columns)


def rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def print_table(columns: list[Column], rows: list[list[str]], title: str | None = None,
                totals: list[str] | None = None, file=None) -> None:
    """Print ``rows`` (lists of strings) under ``columns``; ``totals`` is a last row set apart."""
    file = file or sys.stdout
    rows = [[terminal(x) for x in r] for r in rows]
    totals = [terminal(x) for x in totals] if totals else None
    title = terminal(title) if title else None
    if rich_available():
        _rich_table(columns, rows, title, totals, file)
    else:
        file.write(plain_table(columns, rows, title, totals) + "\n")


def plain_table(columns: list[Column], rows: list[list[str]], title: str | None = None,
                totals: list[str] | None = None) -> str:
    """The table as aligned text with dashed rules."""
    every = [[c.header for c in columns]] + rows + ([totals] if totals else [])
    widths = [max(len(r[i]) for r in every) for i in range(len(columns))]

    def line(cells):
        out = [c.rjust(w) if col.align == "right" else c.ljust(w)
               for c, w, col in zip(cells, widths, columns, strict=True)]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = ([title] if title else []) + [line(every[0]), rule] + [line(r) for r in rows]
    if totals:
        lines += [rule, line(totals)]
    return "\n".join(lines)


def _rich_table(columns, rows, title, totals, file) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    every = [[c.header for c in columns]] + rows + ([totals] if totals else [])
    widths = [max(len(r[i]) for r in every) for i in range(len(columns))]
    # a pipe or a captured stream has no width: print the table whole rather than fold it to 80 columns
    width = None if file.isatty() else sum(widths) + 3 * len(widths)
    console = Console(file=file, width=width, highlight=False)
    table = Table(title=Text(title) if title else None, box=box.SIMPLE_HEAD, title_justify="left", show_edge=False,
                  pad_edge=False)
    for c, w in zip(columns, widths, strict=True):
        table.add_column(c.header, justify=c.align, no_wrap=not c.wrap, min_width=None if c.wrap else w)
    for r in rows:
        table.add_row(*(Text(x) for x in r))  # Text: node names may contain [brackets]
    if totals:
        table.add_section()
        table.add_row(*(Text(x, style="bold") for x in totals))
    console.print(table)


def echo(line: str = "", file=None, keep_newlines: bool = False) -> None:
    """Print a line that may quote model names: control characters are shown as escapes, not sent
    (line ends too, unless ``keep_newlines``: a message of several lines)."""
    print(terminal(line, keep_newlines), file=file)


def fmt_int(n: int) -> str:
    """Thousands separated, e.g. 1,204,224."""
    return f"{n:,}"


def fmt_shape(shape, batch: str | None = None) -> str:
    """``[N, 28, 28, 8]``: :func:`fpga_accel.ir.text.shape_text`, which the HTML report uses too."""
    from ..ir.text import shape_text

    return shape_text(shape, batch)
