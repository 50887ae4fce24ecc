"""The colour-hint curve: PSNR against the number of simulated hints, from an ``hfcolor evaluate --hints`` run.

    hfcolor evaluate --models runs/hint_colorizer/model inception_colorizer.base --data DATA/photos \\
        --hints 0 1 2 5 10 20 50 100 --no-fid --out eval_hints
    python benchmarks/hint_curve.py eval_hints/results.json --out docs/hint_curve.png

Prints the curve as a Markdown table (PSNR and gain over the model's own 0-hint PSNR per number of
hints) and draws it, with any model evaluated without hints (the flagship) and the gray baseline as
flat lines. Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HINT_ROW = re.compile(r"^(?P<model>.+) \((?P<count>\d+) hints\)$")


def curves(results: dict) -> tuple[dict[str, dict[int, float]], dict[str, float]]:
    """({model: {hints: PSNR}}, {model without hints: PSNR}) from an evaluation's results.json."""
    hinted: dict[str, dict[int, float]] = {}
    flat: dict[str, float] = {}
    for row, entry in results["models"].items():
        psnr = entry["scores"]["psnr"]
        if match := HINT_ROW.match(row):
            hinted.setdefault(match["model"], {})[int(match["count"])] = psnr
        else:
            flat[row] = psnr
    return hinted, flat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="results.json of an `hfcolor evaluate --hints` run")
    parser.add_argument("--out", type=Path, help="the plot (PNG); none: the table only")
    args = parser.parse_args(argv)
    hinted, flat = curves(json.loads(args.results.read_text()))
    if not hinted:
        print(f"{args.results} has no rows with hints: evaluate with --hints", file=sys.stderr)
        return 2
    for model, points in hinted.items():
        print(f"\n{model}\n\n| hints | PSNR (dB) | gain over 0 hints |\n|---|---|---|")
        for count, psnr in sorted(points.items()):
            gain = f"{psnr - points[0]:+.2f}" if 0 in points else "n/a"
            print(f"| {count} | {psnr:.2f} | {gain} |")
    for row, psnr in flat.items():
        print(f"\n{row}, no hints: {psnr:.2f} dB")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        figure, axes = plt.subplots(figsize=(6, 4))
        for model, points in hinted.items():
            counts = sorted(points)
            # log(1 + hints): 0 stays on the axis, and 1-100 spread evenly enough to read
            axes.plot([c + 1 for c in counts], [points[c] for c in counts], marker="o", label=model)
        for row, psnr in flat.items():
            axes.axhline(psnr, linestyle="--", linewidth=1, color="gray" if row == "gray" else None, label=row)
        axes.set_xscale("log")
        axes.set_xlabel("simulated hints per photo + 1")
        axes.set_ylabel("PSNR (dB)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
        figure.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(args.out, dpi=120)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
