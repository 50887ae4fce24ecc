"""A folder of black-and-white photos through several models, side by side: what a restorer would see.

    python benchmarks/bw_photos_grid.py PHOTOS --out grid.jpg \
        --models inception_colorizer.base deep_koalarization.seed001_inception_small pix2pix_unet.seed004_small

Every photo is reduced to gray first, so colour photos serve too (the README's picture is
scikit-image's photos this way). There is no ground truth for genuine old photos, so this is for
looking, not scoring. Each row is one photo (the input, then each model at its default settings),
each tile ``--tile`` px high. ``--include`` keeps only the photos whose file names contain one of
the words. Publish a grid only of photos whose licence allows it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hfcolor import Colorizer, load_image
from hfcolor.image_io import IMAGE_SUFFIXES


def grid(rows: list[list[Image.Image]], labels: list[str], tile: int) -> Image.Image:
    """Rows of equally many images, each scaled to ``tile`` px high, under a header of ``labels``."""
    header = max(18, tile // 9)
    widths = [max(round(row[0].width * tile / row[0].height) for row in rows)] * len(labels)
    canvas = Image.new("RGB", (sum(widths), header + tile * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=header * 3 // 4)
    for column, label in enumerate(labels):
        while len(label) > 4 and draw.textlength(label, font=font) > widths[column] - 8:  # no overlap with the next
            label = label[:-2] + "…"
        draw.text((sum(widths[:column]) + 4, 2), label, fill="black", font=font)
    for index, row in enumerate(rows):
        for column, picture in enumerate(row):
            scaled = picture.resize((round(picture.width * tile / picture.height), tile), Image.Resampling.LANCZOS)
            left = sum(widths[:column]) + (widths[column] - scaled.width) // 2
            canvas.paste(scaled, (left, header + index * tile))
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a folder of black-and-white photos")
    parser.add_argument("--models", nargs="+", required=True, help="model names, folders or Hub ids")
    parser.add_argument("--out", type=Path, required=True, help="the grid (JPEG or PNG)")
    parser.add_argument("--include", nargs="*", default=None, help="only photos whose names contain one of these")
    parser.add_argument("--tile", type=int, default=192, help="height of each tile in pixels")
    parser.add_argument("--max-side", type=int, default=768, help="photos are shrunk to this longest side first")
    args = parser.parse_args(argv)

    paths = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if args.include is not None:
        paths = [p for p in paths if any(word in p.name for word in args.include)]
    if not paths:
        print(f"no photos in {args.folder} match", file=sys.stderr)
        return 2
    photos = []
    for path in paths:
        photo = load_image(path)
        photo.thumbnail((args.max_side, args.max_side), Image.Resampling.LANCZOS)
        photos.append(photo.convert("L").convert("RGB"))
    rows = [[photo] for photo in photos]
    for name in args.models:
        colorized = Colorizer.from_pretrained(name)(photos, batch_size=1)
        for row, picture in zip(rows, colorized):
            row.append(picture)
        print(f"{name}: {len(colorized)} photos")
    picture = grid(rows, ["input", *args.models], args.tile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(args.out, quality=88) if args.out.suffix.lower() in (".jpg", ".jpeg") else picture.save(args.out)
    print(f"wrote {args.out} ({len(rows)} photos x {len(args.models)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
