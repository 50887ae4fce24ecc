"""Validation curves of trainer runs, side by side in one picture: PSNR and colourfulness by training time.

    python train_scripts/plot_curves.py --out curves.png \\
        --run "L1 pre-training, then cGAN=runs/unet_l1,runs/unet_gan" \\
        --run "cGAN from scratch=runs/unet_scratch"

Each run folder is a ``train.py`` output with ``validation/metrics.jsonl``. A comma chains the stages
of one recipe (a run started with ``--init_from`` the one before it): each stage's clock starts
where the previous stage's ended, so recipes compare at equal total training time. Needs
matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Curve:
    label: str
    minutes: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    colorfulness: list[float] = field(default_factory=list)
    truth_colorfulness: float | None = None
    stage_starts: list[float] = field(default_factory=list)  # minutes at which a later stage begins


def _stage_seconds(run: Path, records: list[dict]) -> float:
    """Training time of a finished stage; its summary is exact, the last validation a fallback."""
    summary = run / "summary-rank0.json"
    if summary.is_file():
        return float(json.loads(summary.read_text())["seconds"])
    return float(records[-1]["seconds"])


def load_curve(label: str, runs: list[Path]) -> Curve:
    curve = Curve(label)
    offset = 0.0
    for stage, run in enumerate(runs):
        metrics = run / "validation" / "metrics.jsonl"
        if not metrics.is_file():
            raise FileNotFoundError(f"{run}: no validation/metrics.jsonl (is it a train.py output folder?)")
        records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        if not records:
            raise ValueError(f"{metrics}: no validation records yet")
        if stage:
            curve.stage_starts.append(offset / 60)
        for record in records:
            curve.minutes.append((offset + record["seconds"]) / 60)
            curve.psnr.append(record["psnr"])
            curve.colorfulness.append(record["colorfulness"])
            curve.truth_colorfulness = record.get("colorfulness_true", curve.truth_colorfulness)
        offset += _stage_seconds(run, records)
    return curve


def parse_run(text: str) -> tuple[str, list[Path]]:
    label, separator, folders = text.rpartition("=")
    if not separator or not label or not folders:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LABEL=RUN_DIR[,RUN_DIR...]")
    return label, [Path(folder) for folder in folders.split(",")]


def plot(curves: list[Curve], out: Path, title: str | None = None) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting curves needs matplotlib: pip install matplotlib") from error

    figure, (psnr_axis, colour_axis) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for curve in curves:
        (line,) = psnr_axis.plot(curve.minutes, curve.psnr, marker="o", label=curve.label)
        colour_axis.plot(curve.minutes, curve.colorfulness, marker="o", color=line.get_color())
        for start in curve.stage_starts:
            for axis in (psnr_axis, colour_axis):
                axis.axvline(start, color=line.get_color(), linestyle=":", linewidth=1)
    truths = {curve.truth_colorfulness for curve in curves if curve.truth_colorfulness is not None}
    for truth in truths:
        colour_axis.axhline(truth, color="gray", linestyle="--", linewidth=1, label=f"truth ({truth:.1f})")
    psnr_axis.set(xlabel="training minutes", ylabel="PSNR (dB) ↑", title="accuracy")
    colour_axis.set(xlabel="training minutes", ylabel="colourfulness", title="colour")
    psnr_axis.legend(fontsize=8)
    if truths:
        colour_axis.legend(fontsize=8)
    for axis in (psnr_axis, colour_axis):
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=parse_run, action="append", required=True, metavar="LABEL=RUN_DIR[,RUN_DIR]")
    parser.add_argument("--out", type=Path, required=True, help="picture to write (.png)")
    parser.add_argument("--title")
    args = parser.parse_args(argv)
    try:
        curves = [load_curve(label, runs) for label, runs in args.run]
        plot(curves, args.out, args.title)
    except (OSError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for curve in curves:
        print(
            f"{curve.label}: {len(curve.minutes)} points over {curve.minutes[-1]:.1f} min, "
            f"last PSNR {curve.psnr[-1]:.2f} dB, colourfulness {curve.colorfulness[-1]:.1f}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
