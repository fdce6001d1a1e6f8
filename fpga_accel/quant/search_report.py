"""The mixed-precision search as the report shows it, from the manifest's ``quantization.search``:
the rows of the trade-off table (terminal and HTML) and the accuracy-against-objective plot as
hand-written inline SVG (no plotting library)."""
from __future__ import annotations

from ..escape import html

METRIC_TEXT = {"top1": "top-1 accuracy (%)", "agreement": "top-1 agreement with float (%)",
               "cosine": "mean cosine similarity with float"}
AXIS_TEXT = {"fps": "frames/s (estimate)", "dsp": "DSP slices (estimate)", "lut": "LUTs (estimate)"}


def shown_rows(search: dict) -> list[dict]:
    """The rows worth a line: uniform configs, the searched ones on the trade-off front, the chosen
    one; best objective last."""
    rows = [r for r in search["table"] if r["kind"] == "uniform" or r["pareto"] or r["chosen"]]
    key = (lambda r: (r["fps"] or 0)) if search["objective"] == "fps" else (lambda r: -(r[search["objective"]] or 0))
    return sorted(rows, key=key)


def row_cells(r: dict, search: dict) -> list[str]:
    """label, metric, loss, frames/s, DSP, LUT, BRAM18, within budget, mark."""
    digits = 4 if search["metric"] == "cosine" else 2
    num = lambda v: "-" if v is None else f"{v:,}"
    mark = "chosen" if r["chosen"] else ("front" if r["pareto"] else "")
    return [r["label"] + (f" ({r['step']})" if r["step"] else ""), f"{r['metric']:.{digits}f}",
            f"{r['loss']:+.{digits}f}", "-" if r["fps"] is None else f"{r['fps']:,.0f}", num(r["dsp"]), num(r["lut"]),
            num(r["bram18"]), "yes" if r["within_budget"] else "no", mark]


def budget_text(search: dict) -> str:
    unit = "" if search["metric"] == "cosine" else " points"
    goal = {"fps": "most frames/s", "dsp": "fewest DSPs", "lut": "fewest LUTs"}[search["objective"]]
    at = f" at {search['target_fps']:,.0f} frames/s" if search.get("target_fps") and search["objective"] != "fps" else ""
    return (f"{goal}{at} within {search['budget']:g}{unit} of {METRIC_TEXT[search['metric']]} below the float "
            f"model ({search['reference']:.4g} on {search['samples']['held_out']} held-out samples)")


def tradeoff_svg(search: dict, width: int = 760, height: int = 360) -> str:
    """Accuracy (y) against the objective's figure (x) of every configuration measured: searched
    (dots, the front joined by a line), uniform widths (squares, labelled), the chosen one (red),
    and the budget as a dashed line."""
    x_key = search["objective"]
    pts = [r for r in search["table"] if r[x_key] is not None]
    if not pts:
        return ""
    left, right, top, bottom = 70, 20, 20, 50
    xs = [float(r[x_key]) for r in pts]
    floor = search["reference"] - search["budget"]
    ys = [float(r["metric"]) for r in pts] + [floor, search["reference"]]
    x0, x1 = _span(min(xs), max(xs))
    y0, y1 = _span(min(ys), max(ys))
    pw, ph = width - left - right, height - top - bottom

    def px(v: float) -> float:
        return round(left + pw * (v - x0) / (x1 - x0), 1)

    def py(v: float) -> float:
        return round(top + ph * (1 - (v - y0) / (y1 - y0)), 1)

    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="accuracy against {html(AXIS_TEXT[x_key])} of the configurations the search measured">'),
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for i in range(5):
        xv, yv = x0 + (x1 - x0) * i / 4, y0 + (y1 - y0) * i / 4
        out.append(f'<text x="{px(xv)}" y="{top + ph + 16}" text-anchor="middle">{xv:,.0f}</text>'
                   f'<text x="{left - 6}" y="{py(yv) + 4}" text-anchor="end">{yv:.4g}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">{html(AXIS_TEXT[x_key])}</text>'
               f'<text x="14" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {top + ph / 2})">'
               f'{html(METRIC_TEXT[search["metric"]])}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(floor)}" y2="{py(floor)}" stroke="#c0392b" '
               f'stroke-dasharray="5,3"/><text x="{left + pw - 4}" y="{py(floor) - 4}" text-anchor="end" '
               f'fill="#c0392b">budget</text>')
    front = sorted((r for r in pts if r["pareto"]), key=lambda r: r[x_key])
    if len(front) > 1:
        line = " ".join(f"{px(r[x_key])},{py(r['metric'])}" for r in front)
        out.append(f'<polyline points="{line}" fill="none" stroke="#2e86c1" stroke-width="1.5"/>')
    for r in pts:
        x, y = px(r[x_key]), py(r["metric"])
        colour = "#c0392b" if r["chosen"] else ("#2e86c1" if r["pareto"] else "#aab7c4")
        tip = f"<title>{html(r['label'])} {html(r['step'])}: {r['metric']:.4g}, {r[x_key]:,.0f}</title>"
        if r["kind"] == "uniform":
            out.append(f'<rect x="{x - 5}" y="{y - 5}" width="10" height="10" fill="{colour}" stroke="#333">{tip}'
                       f'</rect><text x="{x + 8}" y="{y + 14}">{html(r["label"])}</text>')
        else:
            out.append(f'<circle cx="{x}" cy="{y}" r="{6 if r["chosen"] else 4}" fill="{colour}">{tip}</circle>')
        if r["chosen"]:
            out.append(f'<text x="{x + 8}" y="{y - 8}" fill="#c0392b">chosen</text>')
    out.append("</svg>")
    return "".join(out)


def search_html(search: dict) -> str:
    """The report page's section: the plot, the chosen bits per layer, the table."""
    head = "".join(f"<th{' class=n' if i else ''}>{h}</th>" for i, h in enumerate(
        ("configuration", "accuracy", "loss", "frames/s", "DSP", "LUT", "BRAM18", "within budget", "")))
    body = "".join("<tr>" + "".join(f"<td{' class=n' if i else ''}>{html(c)}</td>"
                                    for i, c in enumerate(row_cells(r, search))) + "</tr>" for r in shown_rows(search))
    bits = "".join(f"<tr><td>{html(name)}</td><td class=n>{b.get('weight_bits', '-')}</td>"
                   f"<td class=n>{b.get('act_bits', '-')}</td></tr>" for name, b in search["bits"].items())
    return (f"<h2>Mixed-precision search (estimates)</h2>\n<p>{html(budget_text(search))}; "
            f"{len(search['table'])} configurations measured as a whole.</p>\n"
            + "".join(f"<p>Stopped: {html(why)}</p>\n" for why in search.get("stopped", []))
            + f"{tradeoff_svg(search)}\n"
            f"<h3>Chosen bits</h3>\n<table><tr><th>layer</th><th class=n>weights</th><th class=n>output</th></tr>"
            f"{bits}</table>\n<h3>Trade-off (uniform widths, the front, the chosen one)</h3>\n"
            f"<table><tr>{head}</tr>{body}</table>\n")


def _span(lo: float, hi: float) -> tuple[float, float]:
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.02, 0.5)
    return lo - pad, hi + pad
