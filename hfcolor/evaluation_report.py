"""How an :class:`~hfcolor.evaluation.Evaluation` is shown: a markdown table, a grid of samples, and the
three files ``hfcolor evaluate`` writes (results.json, results.md, grid.png).

The scores themselves are :mod:`hfcolor.evaluation`'s; this module only formats them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .evaluation import GRAY, PROTOCOL_VERSION, Evaluation

# Markdown columns: (heading, key in the mean scores, digits).
COLUMNS = (
    ("PSNR ↑", "psnr", 2),
    ("SSIM ↑", "ssim", 4),
    ("a\\*b\\* L1 ↓", "ab_l1", 2),
    ("a\\*b\\* L2 ↓", "ab_l2", 1),
    ("‖Δ‖F ↓", "frobenius", 2),
    ("colourfulness", "colorfulness", 1),
    ("truth's", "colorfulness_true", 1),
    ("gap", "colorfulness_gap", 1),
)


def markdown(evaluation: Evaluation) -> str:
    """The results table with the data, the protocol in words, the FID/KID note and the failed models."""
    bins = evaluation.protocol.num_bins
    headings = ["model", "predicts"] + [c[0] for c in COLUMNS] + [f"bins {n} % ↑" for n in bins] + ["FID ↓", "KID ↓"]
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    for name, result in evaluation.results.items():
        mean = result.mean()
        cells = [f"`{name}`", result.predicts]
        cells += [_format(mean.get(key), digits) for _, key, digits in COLUMNS]
        cells += [_format(mean.get(f"bin_accuracy_{n}"), 1, 100) for n in bins]
        cells += [_format(result.fid, 1), _format(result.kid, 4)]
        lines.append("| " + " | ".join(cells) + " |")
    data = evaluation.data
    source = f"`{data['source']}` split `{data['split']}`, " if "source" in data else ""
    skipped = f" ({data['skipped']} unreadable skipped)" if data.get("skipped") else ""
    protocol = evaluation.protocol
    text = [
        "# hfcolor evaluation",
        "",
        f"Data: {source}{evaluation.images} images{skipped}.",
        (
            f"Protocol v{PROTOCOL_VERSION}: centre square resized to {protocol.image_size}x{protocol.image_size}, "
            f"input = L\\* of the truth, a\\*b\\* upsampled {protocol.upsampling} and merged with the truth's "
            "L\\*; PSNR/SSIM on 8-bit RGB, L1/L2 on a\\*b\\* (Lab units), ‖Δ‖F on RGB in [0, 1]; "
            "all parameters are in results.json."
        ),
        "",
        *lines,
        "",
        (
            "Bin accuracy is measured on every output; only models marked `ab_bins` predict bins. "
            f"`{GRAY}` is the a\\*b\\* = 0 baseline."
        ),
        "",
        f"FID/KID: {evaluation.fid_kid_note}",
    ]
    if evaluation.failed:
        text += ["", "Models that could not be evaluated:", ""]
        text += [f"- `{name}`: {error}" for name, error in evaluation.failed.items()]
    return "\n".join(text) + "\n"


def grid(evaluation: Evaluation, tile: int = 128) -> Image.Image:
    """One row per image: the input (L*), each model's output, the truth."""
    columns = [("input (L*)", evaluation.results[GRAY].samples)]
    columns += [(_short(name), r.samples) for name, r in evaluation.results.items() if name != GRAY]
    columns += [("truth", evaluation.truths)]
    header = max(16, tile // 8)
    font = ImageFont.load_default(size=header * 3 // 4)
    picture = Image.new("RGB", (tile * len(columns), header + tile * len(evaluation.truths)), "white")
    draw = ImageDraw.Draw(picture)
    for column, (label, images) in enumerate(columns):
        while len(label) > 1 and draw.textlength(label, font=font) > tile - 4:
            label = label[:-2] + "…"
        draw.text((column * tile + 2, 1), label, fill="black", font=font)
        for row, image in enumerate(images):
            picture.paste(image.resize((tile, tile), Image.Resampling.LANCZOS), (column * tile, header + row * tile))
    return picture


def save(evaluation: Evaluation, folder: str | Path, tile: int = 128) -> dict[str, Path]:
    """Write results.json, results.md and grid.png into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "results.json", "markdown": folder / "results.md", "grid": folder / "grid.png"}
    # Python's json writes an infinite PSNR (identical images) as Infinity, which json.loads reads back.
    paths["json"].write_text(json.dumps(evaluation.to_dict(), indent=2) + "\n")
    paths["markdown"].write_text(markdown(evaluation))
    grid(evaluation, tile).save(paths["grid"], optimize=True)
    return paths


def _format(value: float | None, digits: int, factor: float = 1) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value * factor:.{digits}f}"


def _short(name: str) -> str:
    # A model given as a folder is labelled by the folder's name: a full path does not fit a grid tile.
    return Path(name).name if Path(name).is_dir() else name
