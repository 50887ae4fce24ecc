"""The reports' tables, re-run under hfcolor's evaluation protocol on whatever weights exist.

    python benchmarks/report_tables.py --data coco --split validation --limit 500 [--out report_tables]
    python benchmarks/report_tables.py --data /path/to/photos --limit 16 --untrained   # a dry run

* report 000, Table 1: GAN (pix2pix_unet.seed000, or ``--gan``) vs CNN (resnet18_gray.seed000): L1, L2, PSNR, SSIM;
* report 004, Table 1: Euclidean distance ||D||_F for L2 + dropout, smooth L1, L2 and cross-entropy;
* report 004, Table 2: bin accuracy of the 10-, 30- and 50-bin classifiers, each at its own bins.

Models load like ``hfcolor evaluate`` loads them (trained weights by registry name); one without
weights shows as "no weights" and the rest still run. ``--untrained`` scores freshly initialised
real-size models instead, to try the script before anything is trained. The published numbers are
printed beside ours; they were measured under other protocols (see the notes), which is why hfcolor
re-runs them under one.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPORT000 = {"GAN": "pix2pix_unet.seed000", "CNN": "resnet18_gray.seed000"}
# Published numbers are kept as the reports print them.
REPORT000_PUBLISHED = {"GAN": ("4846186", "31749", "29.10", "0.88"), "CNN": ("6880237", "37858", "28.31", "0.71")}
REPORT004_LOSSES = {
    "L2 Dropout": "bins_cnn.l2_dropout",
    "Smooth L1": "bins_cnn.smooth_l1",
    "L2": "bins_cnn.l2",
    "Cross Entropy": "bins_cnn_classifier.ce10",  # the report's final classifier uses 10 bins
}
REPORT004_LOSSES_PUBLISHED = ("18.67", "13.45", "15.65", "11.27")
REPORT004_BINS = {10: "bins_cnn_classifier.ce10", 30: "bins_cnn_classifier.ce30", 50: "bins_cnn_classifier.ce50"}
REPORT004_BINS_PUBLISHED = ("41.5", "27.8", "18.9")


def table_models(report000: dict[str, str] = REPORT000) -> list[str]:
    return list(dict.fromkeys([*report000.values(), *REPORT004_LOSSES.values(), *REPORT004_BINS.values()]))


def cell(evaluation, name: str, key: str, digits: int, factor: float = 1) -> str:
    if name in evaluation.failed:
        return "no weights" if "no trained weights" in evaluation.failed[name] else "failed"
    value = evaluation.results[name].mean()[key] * factor
    return f"{value:.{digits}f}"


def table(headings: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def report_tables(evaluation, report000: dict[str, str] = REPORT000) -> str:
    from hfcolor.evaluation import GRAY, PROTOCOL_VERSION

    size = evaluation.protocol.image_size
    metrics = (("ab_l1", 2), ("ab_l2", 1), ("psnr", 2), ("ssim", 4))
    report000 = [
        [f"{label} `{name}`"] + [cell(evaluation, name, k, d) for k, d in metrics] for label, name in report000.items()
    ]
    report000.append([f"`{GRAY}` baseline"] + [cell(evaluation, GRAY, k, d) for k, d in metrics])
    report000 += [[f"{label}, published", *REPORT000_PUBLISHED[label]] for label in REPORT000_PUBLISHED]

    losses = list(REPORT004_LOSSES.values())
    report004_losses = [
        [f"‖D‖F per image, ours ({size} px)"] + [cell(evaluation, n, "frobenius", 2) for n in losses + [GRAY]],
        ["published (64 px test set)", *REPORT004_LOSSES_PUBLISHED, "—"],
    ]
    bins = [
        ["ours"] + [cell(evaluation, name, f"bin_accuracy_{n}", 1, 100) for n, name in REPORT004_BINS.items()],
        [f"`{GRAY}` baseline"] + [cell(evaluation, GRAY, f"bin_accuracy_{n}", 1, 100) for n in REPORT004_BINS],
        ["published", *REPORT004_BINS_PUBLISHED],
    ]
    data = evaluation.data
    return "\n\n".join(
        [
            (
                f"Data: `{data.get('source')}` split `{data.get('split')}`, {evaluation.images} images, "
                f"protocol v{PROTOCOL_VERSION} at {size}x{size}."
            ),
            "Report 000, Table 1: GAN vs CNN",
            table(["model", "a\\*b\\* L1 ↓", "a\\*b\\* L2 ↓", "PSNR ↑", "SSIM ↑"], report000),
            (
                "Ours: per-pixel means of a\\*b\\* errors in Lab units; the report's L1/L2 are sums over an "
                "unstated set of pixels, so only the ordering of the rows compares."
            ),
            "Report 004, Table 1: Euclidean distance on the test set",
            table(
                ["metric"] + [f"{label} `{name}`" for label, name in REPORT004_LOSSES.items()] + [f"`{GRAY}`"],
                report004_losses,
            ),
            "‖D‖F grows with the number of pixels: ours are at the protocol's size, the report's at 64x64.",
            "Report 004, Table 2: bin accuracy (%), each classifier at its own number of bins",
            table(["", *(f"{n} bins `{name}`" for n, name in REPORT004_BINS.items())], bins),
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="any hfcolor data source (preset, Hub id, folder, parquet glob)")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--limit", type=int, default=500, help="images (default 500, report 000's test set size)")
    parser.add_argument("--size", type=int, default=256, help="evaluation size (default 256)")
    parser.add_argument("--out", default=None, help="also write results.json, results.md and grid.png here")
    parser.add_argument("--gan", default=REPORT000["GAN"], help="report 000's GAN row: any cGAN's name or folder")
    parser.add_argument("--cnn", default=REPORT000["CNN"], help="report 000's CNN row")
    parser.add_argument("--untrained", action="store_true", help="score freshly initialised models (a dry run)")
    parser.add_argument("--no-fid", action="store_true", help="skip FID and KID")
    args = parser.parse_args()

    import torch

    from hfcolor import create_model
    from hfcolor.evaluation import Protocol, evaluate_source

    report000 = {"GAN": args.gan, "CNN": args.cnn}
    names = table_models(report000)
    if args.untrained:
        torch.manual_seed(0)
        models = [(name, create_model(name)) for name in names]
    else:
        models = names
    protocol = Protocol(image_size=args.size, fid_kid=not args.no_fid)
    evaluation = evaluate_source(models, args.data, args.split, args.limit, protocol)
    if args.out:
        evaluation.save(args.out)
    if args.untrained:
        print("UNTRAINED models (random weights): these numbers only show that the script runs.\n")
    print(report_tables(evaluation, report000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
