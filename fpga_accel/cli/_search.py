"""``compile --search-bits``: the options of the mixed-precision search and its table
(fpga_accel/analysis/search.py); ``report`` shows the same table from the manifest."""
from __future__ import annotations

import argparse

from ._output import Column, echo, print_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("mixed-precision search (--search-bits)")
    g.add_argument("--search-bits", action="store_true",
                   help="choose every layer's weight and activation bits for the board within an accuracy budget "
                        "(the --calib samples, half held out, measure it)")
    g.add_argument("--accuracy-budget", type=float, metavar="POINTS",
                   help="points of top-1 accuracy (with --labels) or of top-1 agreement with the float model "
                        "(without) the search may lose (default 0.5)")
    g.add_argument("--cosine-budget", type=float, metavar="DROP",
                   help="measure the mean cosine similarity with the float model instead; the drop allowed (e.g. 0.01)")
    g.add_argument("--labels", metavar="FILE.npy", help="the class of each --calib sample (integers, one per sample)")
    g.add_argument("--objective", choices=("dsp", "lut", "fps"), default="dsp",
                   help="fewest DSPs (or LUTs) at the widest design's frames/s (or --target-fps), or most frames/s "
                        "(default: dsp)")
    g.add_argument("--bit-choices", metavar="B,B,...", default="2,3,4,5,6,7,8",
                   help="the widths to choose from (default 2,3,4,5,6,7,8)")


def compile_searched(args, input_shapes, host_nodes):
    """Search, then compile the chosen config with the search recorded in the manifest."""
    from ..compiler import make_config
    from ..errors import InputError
    from ..analysis.search import search_bits

    if args.calib is None:
        raise InputError("--search-bits needs calibration data (--calib FILE): it measures accuracy on it")
    if args.bits is not None:
        raise InputError("--search-bits chooses the bit widths: leave out --bits")
    if args.accuracy_budget is not None and args.cosine_budget is not None:
        raise InputError("give either --accuracy-budget or --cosine-budget, not both")
    try:
        choices = [int(b) for b in args.bit_choices.split(",") if b.strip()]
    except ValueError:
        raise InputError(f"--bit-choices must be integers separated by commas, e.g. 4,6,8; got "
                         f"{args.bit_choices!r}") from None
    cosine = args.cosine_budget is not None
    result = search_bits(args.model, args.calib, _labels(args.labels), board=args.board,
                         budget=args.cosine_budget if cosine else args.accuracy_budget, objective=args.objective,
                         metric="cosine" if cosine else None, bit_choices=choices,
                         config=make_config(args.config, observer=args.observer),
                         ceiling=args.ceiling, target_fps=args.target_fps, clock_mhz=args.clock,
                         input_shapes=input_shapes, host_nodes=host_nodes,
                         log=lambda line: echo(f"{'search':<16}{line}"))
    return result.compile(args.output)


def _labels(path):
    if path is None:
        return None
    import numpy as np

    from ..errors import InputError

    try:
        y = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read the labels ({e})") from None
    if y.dtype.kind not in "iu" or y.ndim != 1:
        raise InputError(f"{path}: labels must be a 1-D array of integer classes, got {y.dtype} of shape {y.shape}")
    return y


def print_search(m: dict) -> None:
    """The search's trade-off table and chosen bits, if the bundle was compiled with --search-bits."""
    from ..quant.search_report import budget_text, row_cells, shown_rows

    s = m.get("quantization", {}).get("search")
    if not s:
        return
    cols = [Column("configuration"), Column(s["metric"], "right"), Column("loss", "right"),
            Column("frames/s", "right"), Column("DSP", "right"), Column("LUT", "right"), Column("BRAM18", "right"),
            Column("in budget", "right"), Column("")]
    rows = shown_rows(s)
    print_table(cols, [row_cells(r, s) for r in rows],
                title=f"mixed-precision search: {len(s['table'])} configurations measured, {len(rows)} shown "
                      f"(uniform widths, the trade-off front, the chosen one)  [estimates]")
    echo(f"search          {budget_text(s)}")
    for why in s.get("stopped", []):
        echo(f"search          stopped: {why}")
