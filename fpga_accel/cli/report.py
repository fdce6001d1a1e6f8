"""Report a bundle's folding and estimates: per layer PE x SIMD, cycles and resources, the memory use
(the bits its arrays hold over the bits of the blocks they occupy), totals against the board,
frames/s and latency at the clock, and the DSP-roofline efficiency.

Every figure is an estimate from the fold model (docs/fold-model.md), not a synthesis result.
A bundle compiled for the tiled engine gets the tiled cost model's figures instead (docs/tiled.md
§4): per layer compute cycles, DDR bytes, transfer cycles and whether it is compute- or
memory-bound. --board re-folds the bundle's model for another board without recompiling; --html writes a
self-contained page with charts.
"""
from __future__ import annotations

import argparse
import copy

from ..fold.summary import budget_text, memory_use
from ._output import Column, echo, fmt_int, fmt_shape, print_table

ORDER = 35
RES = (("dsp", "DSP"), ("bram18", "BRAM18"), ("uram", "URAM"), ("lut", "LUT"), ("ff", "FF"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="NAME.fpga", help="a compiled bundle")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report with charts")
    p.add_argument("--board", help="estimate for another board (re-runs the folder; the bundle is not changed)")
    p.add_argument("--ceiling", type=float, help="utilisation ceiling for --board (default: the bundle's)")
    p.add_argument("--target-fps", type=float, metavar="FPS", help="frames/s goal for --board")


def run(args) -> int:
    from ..bundle import load_bundle

    bundle = load_bundle(args.bundle)
    if "tiled" in bundle.manifest:
        return run_tiled(bundle, args)
    if "segments" in bundle.manifest:
        return run_segments(bundle, args)
    m = manifest_for(bundle, args.board, args.ceiling, args.target_fps)
    print_report(m)
    if args.html:
        from ..errors import InputError
        from ..fold.report_html import render_html
        from ..safe_fs import atomic_write_text

        try:
            atomic_write_text(args.html, render_html(m))
        except OSError as e:
            raise InputError(f"{args.html}: cannot write the HTML report ({e.strerror or e})") from None
        echo(f"html report     {args.html}")
    return 0


def run_segments(bundle, args) -> int:
    """The report of a bundle in dataflow segments: each segment's own report, then the chain's."""
    from ..bundle import load_bundle
    from ..errors import InputError
    from ..segments.check import segment_path

    if args.html or args.board or args.ceiling is not None or args.target_fps is not None:
        raise InputError(f"{bundle.path}: compiled as dataflow segments; --html, --board, --ceiling and --target-fps "
                         "apply to a one-part design: report a segment's bundle (NAME.fpga/segments/K) for them")
    sec = bundle.manifest["segments"]
    for k, s in enumerate(sec["list"]):
        echo(f"== segment {k}: {s['name']} ({s['share']:.0%} of the board's budget)")
        print_report(manifest_for(load_bundle(bundle.path / segment_path(k)), None, None, None))
    steps = " -> ".join(f"segment {st['segment']}" if "segment" in st else f"host {st['host']}" for st in sec["steps"])
    echo(f"steps           {steps}")
    echo(f"chain           {sec['fpga_us_per_image']:.2f} us of FPGA time per image, {sec['frames_per_s']:,.0f} "
         "frames/s (estimate: the segments one after the other, host steps and transfers not counted)")
    return 0


def run_tiled(bundle, args) -> int:
    """The report of a tiled-engine bundle; --board re-costs its program (same Tm x Tn) for that board."""
    from ..errors import InputError

    if args.html or args.ceiling is not None or args.target_fps is not None:
        raise InputError(f"{bundle.path}: compiled for the tiled engine; --html, --ceiling and --target-fps "
                         f"apply to the dataflow engine's folding only")
    t = bundle.manifest["tiled"]
    cost = t["cost"]
    if args.board:
        from ..bundle_tiled import load_program
        from ..tiled.cost import program_cost

        cost = program_cost(load_program(bundle)[0], args.board).to_dict()
    print_tiled(bundle.manifest, t["array"], cost)
    return 0


def board_dsps(m: dict, cost: dict) -> int:
    """DSPs of the board ``cost`` is for: the compiled board's from the manifest, another by its name."""
    board = m.get("board") or {}
    if board.get("name") == cost["board"] and isinstance(board.get("dsp"), int):
        return board["dsp"]
    from ..fold import get_board

    return get_board(cost["board"]).dsp


def tiled_roofline(cost: dict, array: dict, dsps: int) -> float:
    """MACs done a second over what ``dsps`` DSPs could do at ``array``'s products per DSP and the cost's
    clock: the dataflow report's DSP roofline (all the board's DSPs), for the tiled engine."""
    peak = dsps * array.get("pack", 1) * cost["clock_mhz"] * 1e6
    return sum(r["macs"] for r in cost["layers"]) * cost["fps"] / peak if peak > 0 else 0.0


def port_bound(cost: dict, array: dict, dsps: int) -> float | None:
    """The DSP-roofline share of :func:`fpga_accel.tiled.cost.bound_cycles` for ``cost``'s board (None
    for a board this installation does not know)."""
    from ..errors import InputError
    from ..fold import get_board
    from ..tiled.cost import bound_cycles, ddr_rates

    try:
        rates = ddr_rates(get_board(cost["board"]), cost["clock_mhz"], cost["burst_efficiency"])
    except InputError:
        return None
    cycles = bound_cycles(cost["layers"], rates)
    peak = dsps * array.get("pack", 1)
    return sum(r["macs"] for r in cost["layers"]) / (cycles * peak) if cycles and peak else None


def print_tiled(m: dict, array: dict, cost: dict) -> None:
    """Per-layer figures of the tiled engine (all estimates) and the array the compile chose."""
    cols = [Column("layer"), Column("kind"), Column("MACs", "right"), Column("compute cycles", "right"),
            Column("DDR bytes w/in/out", "right"), Column("transfer cycles", "right"), Column("cycles", "right"),
            Column("bound")]
    rows = [[r["name"], r["kind"], fmt_int(r["macs"]), fmt_int(r["compute_cycles"]),
             f"{r['weight_bytes']:,}/{r['act_read_bytes']:,}/{r['act_write_bytes']:,}",
             fmt_int(round(r["transfer_cycles"])), fmt_int(round(r["cycles"])), r["bound"]] for r in cost["layers"]]
    layers = cost["layers"]
    totals = ["total (estimate)", "", fmt_int(sum(r["macs"] for r in layers)),
              fmt_int(sum(r["compute_cycles"] for r in layers)), f"{sum(r['ddr_bytes'] for r in layers):,}",
              fmt_int(round(sum(r["transfer_cycles"] for r in layers))), fmt_int(round(cost["cycles"])), ""]
    print_table(cols, rows, totals=totals,
                title=f"tiled engine estimate for {m['model']['name']} on {cost['board']} at {cost['clock_mhz']:g} MHz, "
                      f"DDR {cost['ddr_gbps']:g} GB/s x {cost['burst_efficiency']:g} burst efficiency")
    bound = sum(r["bound"] == "memory" for r in layers)
    echo(f"throughput      {cost['fps']:,.1f} frames/s: {cost['cycles']:,.0f} cycles per image; "
          f"{cost['efficiency']:.1%} of the {cost['tm']}x{cost['tn']} array's MAC roofline; "
          f"{cost['ddr_gbs']:.2f} GB/s DDR; {bound} of {len(layers)} layers memory-bound  [estimate]")
    dsps = board_dsps(m, cost)
    echo(f"DSP roofline    {tiled_roofline(cost, array, dsps):.2%} of {dsps:,} DSPs x "
         f"{array.get('pack', 1)} MAC x {cost['clock_mhz']:g} MHz (the board's DSPs, as for a dataflow design)  [estimate]")
    bound = port_bound(cost, array, dsps)
    if bound is not None:
        echo(f"port bound      {bound:.2%}: no schedule of this array beats it, each layer taking the longest of its "
             f"compute cycles and its bytes at the DDR's and the ports' rates  [estimate]")
    echo(f"array           Tm x Tn = {array['tm']} x {array['tn']}: {array['dsp']:,} DSP, {array['bram18']:,} BRAM18 "
          f"(budget {array['budget']['dsp']:,} DSP, {array['budget']['bram18']:,} BRAM18); buffers "
          f"{array['buffers']['input']:,}/{array['buffers']['weight']:,}/{array['buffers']['output']:,} elements "
          f"(input/weight/output)  [estimate]")
    engine = m.get("engine") or {}
    if engine.get("reason"):
        echo(f"engine          tiled: {engine['reason']}")


def manifest_for(bundle, board: str | None, ceiling: float | None, target_fps: float | None) -> dict:
    """The bundle's manifest, or a copy re-folded for ``board`` (or another ceiling / goal)."""
    from ..errors import InputError

    m = bundle.manifest
    if board is None and ceiling is None and target_fps is None:
        if "fold" not in m:
            raise InputError(f"{bundle.path}: the manifest has no folding estimates (compiled by an older "
                             f"fpga-accel); recompile it, or pass --board to estimate now")
        return m
    from ..compiler import load_qmodel
    from ..fold import apply_to_manifest, fold_model
    from ..quant.config import QuantConfig

    old = m.get("fold", {})
    layers = m.get("quantization", {}).get("layers", {})
    overrides = QuantConfig(layers=copy.deepcopy(layers)).foldings() if board is None else {}
    result = fold_model(load_qmodel(bundle), board or m["board"]["name"],
                        ceiling=ceiling if ceiling is not None else old.get("ceiling", 0.8),
                        target_fps=target_fps, overrides=overrides,
                        clock_mhz=None if board else m["board"].get("clock_mhz"))
    out = copy.deepcopy(m)
    apply_to_manifest(out, result)
    return out


def print_report(m: dict) -> None:
    f, b = m["fold"], m["board"]
    cols = [Column("layer"), Column("op"), Column("output"), Column("MACs", "right"), Column("bits w/a", "right"),
            Column("PE x SIMD", "right"), Column("cycles", "right"), Column("DSP", "right"),
            Column("BRAM18", "right"), Column("URAM", "right"), Column("LUT", "right"), Column("mem use", "right")]
    rows = []
    for r in m["layers"]:
        e = r.get("estimate", {})
        rows.append([r["name"], r["op"], fmt_shape(r["output_shape"]), fmt_int(r["macs"]), _bits(r),
                     fold_text(r.get("folding", {})), fmt_int(e.get("cycles", 0)),
                     *(fmt_int(e.get(k, 0)) for k in ("dsp", "bram18", "uram", "lut")), memory_use(e)])
    t, tot = f["totals"], f["board_totals"]
    totals = ["total (estimate)", "", "", fmt_int(f["macs_per_image"]), "", "", fmt_int(f["cycles_per_image"]),
              *(f"{fmt_int(t[k])}/{fmt_int(tot[k])}" for k in ("dsp", "bram18", "uram", "lut")), memory_use(f)]
    print_table(cols, rows, totals=totals,
                title=f"estimate for {m['model']['name']} on {b['name']} ({b['part']}) at {b['clock_mhz']:g} MHz")
    print("utilisation     " + ", ".join(f"{label} {t[k]:,}/{tot[k]:,} ({f['utilisation'][k]:.1%}; budget "
                                          f"{f['budget'][k]:,})" for k, label in RES if tot[k]) + "  [estimate]")
    if budget_text(m):  # the generated FIFOs (or their simulated / hand-set depths) outgrew the fold's budget
        echo(f"warning         {budget_text(m)}, with the generated stream FIFOs  [estimate]")
    echo(f"throughput      {f['frames_per_s']:,.1f} frames/s: {f['cycles_per_image']:,} cycles per image "
          f"(slowest stage {f['slowest_stage']})  [estimate]")
    print(f"latency         {f['latency_us']:,.1f} us ({f['latency_cycles']:,} cycles, one image, memory "
          f"latency not included)  [estimate]")
    print(f"DSP roofline    {f['dsp_roofline_efficiency']:.2%} of {tot['dsp']:,} DSPs x {f['dsp_packing']} MAC x "
          f"{b['clock_mhz']:g} MHz ({f['mac_per_s'] / 1e9:,.2f} GMAC/s achieved); {f['dsp_efficiency_used']:.1%} "
          f"of the DSPs used  [estimate]")
    if f.get("memory_block_bits"):
        print(f"memory use      the arrays hold {f['memory_bits'] / 2**20:,.2f} Mbit in blocks of "
              f"{f['memory_block_bits'] / 2**20:,.2f} Mbit (BRAM18, URAM, LUTRAM as placed): "
              f"{1 - f['memory_bits'] / f['memory_block_bits']:.1%} packing waste  [estimate]")
    in_uram = [r for r in m["layers"] if any(str(a).endswith("/weights") for a in
                                              (r.get("estimate") or {}).get("uram_arrays") or [])]
    loaded = m.get("uram_load")
    if in_uram and isinstance(loaded, dict):
        print(f"URAM weights    {len(in_uram)} layer(s) keep weights in URAM: a URAM has no initial contents (AMD "
              f"UG573), so the accelerator loads them from DDR at start ({loaded.get('bytes', 0):,} bytes, "
              f"{loaded.get('file')}, one load call when a session opens)")
    elif in_uram:
        print(f"URAM weights    {len(in_uram)} layer(s) keep constant weights in URAM in this estimate; a URAM has "
              f"no initial contents (AMD UG573), so the generated HLS leaves those arrays to the tool (BRAM18 or "
              f"LUTRAM) until weights are loaded at start  [estimate]")
    if f.get("dsp_without_packing", t["dsp"]) != t["dsp"]:
        print(f"DSP packing     two products per DSP where the generated HLS packs them (mvau.h PACK = 2); "
              f"without packing: {f['dsp_without_packing']:,} DSP  [estimate]")
    goal = f"; target {f['target_fps']:,.0f} frames/s {'met' if f['target_met'] else 'NOT met'}" \
        if f.get("target_fps") else ""
    echo(f"folding         stopped because {f['stop_reason'] or 'nothing limited it'}{goal}; ceiling "
          f"{f['ceiling']:.0%}")
    if b.get("retired"):
        print(f"note            {b['retired']}")
    opencl = m.get("opencl") or {}
    if opencl.get("skipped"):
        echo(f"OpenCL model    none in this bundle: {opencl['skipped']}")
    elif opencl.get("scratch"):
        print(f"OpenCL model    keeps {opencl['scratch']['bytes_per_work_item']:,} bytes of intermediates per "
              f"image in a global scratch buffer (more than the private-memory limit)")
    print_hand_edits(m)
    from ._search import print_search

    print_search(m)


def fold_text(fold: dict) -> str:
    if not fold:
        return "-"
    lut = " lut" if fold.get("mul") == "lut" else ""  # products in LUTs, not DSPs
    px = f" px{fold['px']}" if fold.get("px", 1) != 1 else ""  # output pixels per word
    return " x ".join(str(fold[k]) for k in ("pe", "simd") if k in fold) + px + lut


def _bits(r) -> str:
    return f"{r['weight_bits'] or '-'}/{r['act_bits']}"


def print_hand_edits(m: dict) -> None:
    """The files of the generated project edited by hand and adopted (``manifest["overrides"]``)."""
    from ..overrides import hand_edits

    for i, line in enumerate(hand_edits(m)):
        echo(f"{'hand edits' if i == 0 else '':<16}{line}")
    if m.get("overrides"):
        print(f"{'':<16}the estimates are the compiled design's; `fpga-accel check` compares the edited one "
              f"with the emulator")
