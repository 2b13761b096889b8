#!/usr/bin/env python3
"""Draws SFT training curves (metrics.jsonl of `plad sft`) as one standalone SVG.

Standard library only. Usage:
  plot_training_curves.py --out curves.svg LABEL=metrics.jsonl[@OFFSET] [LABEL=metrics.jsonl[@OFFSET] ...]
A run that continues another is drawn from step OFFSET on (its own step + OFFSET).
Training loss is drawn smoothed (bias-corrected exponential moving average, 0.98) over the raw loss in a light
tint; validation losses are drawn as points joined by a dashed line.
"""
import argparse
import json
import math

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
WIDTH, HEIGHT = 820, 480
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 40, 60


def tint(colour, amount):
    """`colour` mixed with white: 0 keeps it, 1 gives white."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % tuple(round(c + (255 - c) * amount) for c in (r, g, b))


def read(path, offset=0):
    steps, losses, val = [], [], []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            steps.append(d["step"] + offset)
            losses.append(d["loss"])
            if "validation_loss" in d:
                val.append((d["step"] + offset, d["validation_loss"]))
    return steps, losses, val


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--title", default="SFT on the demo task: loss per response token")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    runs = []
    for spec in args.runs:
        label, path = spec.split("=", 1)
        offset = 0
        if "@" in path:
            path, offset = path.rsplit("@", 1)
            offset = int(offset)
        runs.append((label, *read(path, offset)))

    max_step = max(max(r[1]) for r in runs)
    all_losses = [v for r in runs for v in r[2]] + [v for r in runs for _, v in r[3]]
    y_min = math.floor(min(all_losses) * 2) / 2
    y_max = math.ceil(min(max(all_losses), 9.0) * 2) / 2

    def x(step):
        return LEFT + (WIDTH - LEFT - RIGHT) * step / max_step

    def y(value):
        value = min(max(value, y_min), y_max)
        return TOP + (HEIGHT - TOP - BOTTOM) * (y_max - value) / (y_max - y_min)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2 - RIGHT / 2}" y="22" text-anchor="middle" font-size="15">{args.title}</text>']
    # Axes, grid and ticks.
    step_tick = 10 ** int(math.log10(max_step)) / 2
    while max_step / step_tick > 10:
        step_tick *= 2
    s = 0
    while s <= max_step:
        out.append(f'<line x1="{x(s):.1f}" y1="{TOP}" x2="{x(s):.1f}" y2="{HEIGHT - BOTTOM}" stroke="#eee"/>')
        out.append(f'<text x="{x(s):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{int(s)}</text>')
        s += step_tick
    v = y_min
    while v <= y_max + 1e-9:
        out.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{WIDTH - RIGHT}" y2="{y(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        v += 0.5
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
               'fill="none" stroke="#444"/>')
    out.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 18}" text-anchor="middle">optimiser step</text>')
    out.append(f'<text transform="translate(20 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" text-anchor="middle">'
               'cross-entropy (nats per response token)</text>')

    legend_y = TOP + 10
    for i, (label, steps, losses, val) in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        raw = " ".join(f"{x(s):.1f},{y(l):.1f}" for s, l in zip(steps, losses))
        out.append(f'<polyline points="{raw}" fill="none" stroke="{tint(colour, 0.8)}" stroke-width="1"/>')
        ema, smooth = 0.0, []
        for n, (s, l) in enumerate(zip(steps, losses), start=1):
            ema = 0.98 * ema + 0.02 * l
            smooth.append(f"{x(s):.1f},{y(ema / (1 - 0.98 ** n)):.1f}")  # bias-corrected, as in Adam
        out.append(f'<polyline points="{" ".join(smooth)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if val:
            pts = " ".join(f"{x(s):.1f},{y(l):.1f}" for s, l in val)
            out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5" stroke-dasharray="5,4"/>')
            for s, l in val:
                out.append(f'<circle cx="{x(s):.1f}" cy="{y(l):.1f}" r="3.5" fill="{colour}"/>')
        lx = WIDTH - RIGHT + 15
        out.append(f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 24}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 30}" y="{legend_y + 4}">{label} train (EMA)</text>')
        legend_y += 20
        out.append(f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 24}" y2="{legend_y}" stroke="{colour}" stroke-width="1.5" '
                   'stroke-dasharray="5,4"/>')
        out.append(f'<circle cx="{lx + 12}" cy="{legend_y}" r="3.5" fill="{colour}"/>')
        final = f" {val[-1][1]:.3f}" if val else ""
        out.append(f'<text x="{lx + 30}" y="{legend_y + 4}">{label} validation{final}</text>')
        legend_y += 28
    out.append("</svg>")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
