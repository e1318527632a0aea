"""Small inline SVG charts generated on the server (no CDN, no JavaScript): a funnel and stacked bars."""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#2f6fdf", "#e8793b", "#3aa76d", "#b04fc2", "#d4b21f", "#5a6b7d", "#d9465f", "#2bb3c0")


def funnel_svg(steps: list[tuple[str, int]], *, width: int = 560, bar_height: int = 34) -> Markup:
    """Centered horizontal bars, one per step, with the count and the share of the first step."""
    if not steps:
        return Markup("")
    top = max(steps[0][1], 1)
    height = len(steps) * (bar_height + 8) + 8
    parts = [f'<svg class="chart funnel" role="img" aria-label="Funnel" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    label_width = 110
    usable = width - label_width - 10
    for index, (label, count) in enumerate(steps):
        bar = max(2, int(usable * count / top)) if count else 2
        x = label_width + (usable - bar) / 2
        y = 8 + index * (bar_height + 8)
        share = f"{100 * count / top:.0f}%" if steps[0][1] else "–"
        parts.append(f'<text x="0" y="{y + bar_height / 2 + 5}" font-size="13">{escape(label)}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{bar}" height="{bar_height}" rx="3" '
                     f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)}: {count}</title></rect>')
        parts.append(f'<text x="{label_width + usable / 2:.1f}" y="{y + bar_height / 2 + 5}" font-size="13" '
                     f'text-anchor="middle" fill="#111">{count} ({share})</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars_svg(rows: list[dict], *, width: int = 720, height: int = 260) -> Markup:
    """Leads per bucket, stacked by source, with a legend. rows: [{"bucket", "source", "leads"}]."""
    if not rows:
        return Markup("")
    buckets = sorted({r["bucket"] for r in rows})
    sources = sorted({r["source"] for r in rows})
    counts = {(r["bucket"], r["source"]): r["leads"] for r in rows}
    totals = [sum(counts.get((b, s), 0) for s in sources) for b in buckets]
    peak = max(totals) or 1
    left, bottom, legend = 40, 40, 20 * ((len(sources) + 3) // 4)
    plot_h = height - bottom - 10
    full_h = height + legend
    step = (width - left - 10) / len(buckets)
    bar_w = max(2.0, step * 0.7)
    parts = [f'<svg class="chart bars" role="img" aria-label="Leads over time by source" '
             f'viewBox="0 0 {width} {full_h}" width="{width}" height="{full_h}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - 10}" y2="{10 + plot_h}" stroke="#999"/>',
             f'<text x="{left - 6}" y="16" font-size="11" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{10 + plot_h}" font-size="11" text-anchor="end">0</text>']
    label_every = max(1, len(buckets) // 8)
    for i, bucket in enumerate(buckets):
        x = left + i * step + (step - bar_w) / 2
        y = 10 + plot_h
        for j, source in enumerate(sources):
            value = counts.get((bucket, source), 0)
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(bucket)} {escape(source)}: {value}'
                         f'</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 24}" font-size="10" '
                         f'text-anchor="middle">{escape(bucket)}</text>')
    for j, source in enumerate(sources):
        lx, ly = 10 + (j % 4) * 170, height + (j // 4) * 20
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
                     f'<text x="{lx + 18}" y="{ly + 11}" font-size="12">{escape(source)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
