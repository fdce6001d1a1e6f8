"""A self-contained HTML page of a bundle's fold estimates, with inline SVG charts.

No scripts, no external files: the per-layer cycles as bars (the slowest layer sets the pace),
and each resource's estimated use against the budget (ceiling) and the board's total.
"""
from __future__ import annotations

from ..escape import html
from ..ir.text import shape_text
from .summary import fifo_text, memory_use

RES = (("dsp", "DSP"), ("bram18", "BRAM18"), ("uram", "URAM"), ("lut", "LUT"), ("ff", "FF"))
STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 8px;border-bottom:1px solid #ddd}
td.n,th.n{text-align:right}tr.total td{font-weight:bold;border-top:2px solid #888}
.est{color:#a40;font-weight:bold}svg text{font:12px system-ui,sans-serif}"""


def _n(v) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:,.1f}"


def cycles_svg(layers: list[dict], width: int = 760) -> str:
    """Horizontal bars: estimated cycles per image of every layer, the slowest in a darker colour."""
    rows = [(r["name"], int(r.get("estimate", {}).get("cycles", 0))) for r in layers]
    top = max((c for _, c in rows), default=1) or 1
    label_w, bar_w, h = 230, width - 330, 20
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h * len(rows) + 10}" '
            f'role="img" aria-label="estimated cycles per image per layer">')]
    for i, (name, c) in enumerate(rows):
        y = 5 + i * h
        w = max(1, round(bar_w * c / top)) if c else 0
        colour = "#c0392b" if c == top else "#2e86c1"
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{html(name)}</text>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{h - 6}" fill="{colour}"/>'
                   f'<text x="{label_w + w + 6}" y="{y + 14}">{c:,}</text>')
    out.append("</svg>")
    return "".join(out)


def resources_svg(fold: dict, width: int = 760) -> str:
    """Per resource: the estimate as a bar on the board's total, with the budget as a line."""
    tot, used, budget = fold["board_totals"], fold["totals"], fold["budget"]
    kinds = [(k, label) for k, label in RES if tot[k]]
    label_w, bar_w, h = 80, width - 260, 26
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h * len(kinds) + 10}" '
            f'role="img" aria-label="estimated resources against the board">')]
    for i, (k, label) in enumerate(kinds):
        y = 5 + i * h
        share = used[k] / tot[k]
        w = round(bar_w * min(share, 1.0))
        bx = label_w + round(bar_w * budget[k] / tot[k])
        colour = "#c0392b" if used[k] > budget[k] else "#27ae60"
        out.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{label}</text>'
                   f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{h - 8}" fill="#eee"/>'
                   f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="{h - 8}" fill="{colour}"/>'
                   f'<line x1="{bx}" x2="{bx}" y1="{y + 1}" y2="{y + h - 1}" stroke="#333" stroke-dasharray="3,2"/>'
                   f'<text x="{label_w + bar_w + 8}" y="{y + 16}">{used[k]:,} / {tot[k]:,} ({share:.1%})</text>')
    out.append("</svg>")
    return "".join(out)


def _search(m: dict) -> str:
    """The mixed-precision search's plot and tables, for a bundle compiled with it."""
    search = m.get("quantization", {}).get("search")
    if not search:
        return ""
    from ..quant.search_report import search_html

    return search_html(search)


def render_html(m: dict) -> str:
    """The report page for manifest ``m`` (which has the ``fold`` section)."""
    f, b = m["fold"], m["board"]
    title = f"{m['model']['name']} on {b['name']}: fold estimates"
    head = ("<tr><th>layer</th><th>op</th><th>output</th><th class=n>MACs</th><th class=n>bits w/a</th>"
            "<th class=n>PE x SIMD</th><th class=n>cycles</th>"
            + "".join(f"<th class=n>{label}</th>" for _, label in RES) + "<th class=n>mem use</th></tr>")
    body = []
    for r in m["layers"]:
        e = r.get("estimate", {})
        fold = " x ".join(str(r.get("folding", {})[k]) for k in ("pe", "simd") if k in r.get("folding", {})) or "-"
        bits = f"{r['weight_bits'] or '-'}/{r['act_bits']}"
        body.append(f"<tr><td>{html(r['name'])}</td><td>{html(r['op'])}</td>"
                    f"<td>{html(shape_text(r['output_shape']))}</td><td class=n>{r['macs']:,}</td>"
                    f"<td class=n>{html(bits)}</td><td class=n>{html(fold)}</td>"
                    f"<td class=n>{e.get('cycles', 0):,}</td>"
                    + "".join(f"<td class=n>{e.get(k, 0):,}</td>" for k, _ in RES)
                    + f"<td class=n>{memory_use(e)}</td></tr>")
    body.append(f"<tr class=total><td>total</td><td></td><td></td><td class=n>{f['macs_per_image']:,}</td><td></td>"
                f"<td></td><td class=n>{f['cycles_per_image']:,}</td>"
                + "".join(f"<td class=n>{f['totals'][k]:,} / {f['board_totals'][k]:,}</td>" for k, _ in RES)
                + f"<td class=n>{memory_use(f)}</td></tr>")
    facts = [("board", f"{b['name']} ({b['part']}), {b.get('platform') or 'Zynq PS + AXI DMA'}"),
             ("clock", f"{b['clock_mhz']:g} MHz"),
             ("throughput", (f"{f['frames_per_s']:,.1f} frames/s ({f['cycles_per_image']:,} cycles per image, "
                             f"slowest stage {f['slowest_stage']})")),
             ("latency", f"{f['latency_us']:,.1f} µs ({f['latency_cycles']:,} cycles, one image)"),
             ("DSP roofline", (f"{f['dsp_roofline_efficiency']:.2%} of {f['board_totals']['dsp']:,} DSPs × "
                               f"{f['dsp_packing']} MAC × clock; {f['dsp_efficiency_used']:.1%} of the DSPs used")),
             ("folding", f"ceiling {f['ceiling']:.0%}; stopped because {f['stop_reason'] or '-'}"),
             ("stream FIFOs", fifo_text(m))]
    rec = m.get("fifo_sizing") if isinstance(m.get("fifo_sizing"), dict) else {}
    cycles = rec.get("cycles")
    if rec.get("method") == "sim" and isinstance(cycles, (int, float)) and f["cycles_per_image"]:
        # the one measured figure on the page: from the timed simulation
        simulated = (f"{cycles:,.0f} cycles per image in the timed simulation "
                     f"(model {f['cycles_per_image']:,}; {cycles / f['cycles_per_image']:.3f}×)")
        facts.insert(3, ("simulated", simulated))
    if b.get("retired"):
        facts.append(("note", b["retired"]))
    sim_note = (", except the simulated cycles per image: the timed simulation of the generated C++ (no vendor tool)"
                if rec.get("method") == "sim" else "")
    dl = "".join(f"<tr><th style='text-align:left'>{html(k)}</th><td>{html(v)}</td></tr>" for k, v in facts)
    return (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>{html(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>{html(title)}</h1>\n"
            f"<p class=est>Every figure on this page is an estimate from fpga-accel's fold model, not a synthesis "
            f"or measurement result{sim_note}.</p>\n<table>{dl}</table>\n"
            f"<h2>Cycles per image per layer (estimate)</h2>\n{cycles_svg(m['layers'])}\n"
            f"<h2>Resources against the board (estimate; dashed line: budget)</h2>\n{resources_svg(f)}\n"
            f"<h2>Layers (estimate)</h2>\n<table>{head}{''.join(body)}</table>\n{_search(m)}"
            f"<p>{html(f.get('note', ''))}</p>\n</body></html>\n")
