"""A smaller copy of a photo dataset for the trip to a GPU machine: the train split downscaled, the rest as is.

    python train_scripts/shrink_dataset.py ../shared/data/photos .gpu/photos --side 128
    python train_scripts/train_zoo.py train_scripts/zoo.yaml --data .gpu --out /tmp/zoo

Recipes train on random crops at 64-128 px, so a 128-px train split loses little and is a third of
the size (``photos``: 27 MB instead of 87 MB), small enough to travel with the code. Validation
splits keep their full size: the evaluation protocol scores at 256 px. The output is a Hub-layout
folder (``data/SPLIT-00000-of-00001.parquet``, one ``image`` column) that every hfcolor data option
reads. Unreadable images are reported and left out.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image

from hfcolor.data import _open_record, load_images
from hfcolor.image_io import DEFAULT_MAX_PIXELS, ImageReadError


def shrink(image: Image.Image, side: int, quality: int, path: str | None) -> dict:
    scale = side / min(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return {"bytes": buffer.getvalue(), "path": path}


def readable_copies(batch: dict, indices: list[int], split: str, settings, problems: list[str]) -> dict:
    """Each image decoded once: unreadable ones dropped (a batched map may return fewer rows)."""
    kept = []
    for record, index in zip(batch["image"], indices):
        try:
            image = _open_record(record, record["path"] or f"{split} record {index}", DEFAULT_MAX_PIXELS)
        except ImageReadError as error:
            problems.append(str(error))
            continue
        copy = shrink(image, settings.side, settings.quality, record["path"]) if split in settings.shrink else record
        kept.append(copy)
    return {"image": kept}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="any hfcolor data source (Hub-layout folder, image folder, Hub id)")
    parser.add_argument("out", type=Path, help="folder to write")
    parser.add_argument("--splits", nargs="+", default=["train", "validation"])
    parser.add_argument("--shrink", nargs="+", default=["train"], help="splits to downscale")
    parser.add_argument("--side", type=int, default=128, help="shorter side of the downscaled photos")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality of the downscaled photos")
    args = parser.parse_args(argv)

    problems: list[str] = []
    (args.out / "data").mkdir(parents=True, exist_ok=True)
    for split in args.splits:
        images = load_images(args.source, split, streaming=False)
        # Never from datasets' cache: the problems are collected while the function runs.
        images = images.map(
            readable_copies,
            batched=True,
            with_indices=True,
            load_from_cache_file=False,
            fn_kwargs={"split": split, "settings": args, "problems": problems},
        )
        images.to_parquet(str(args.out / "data" / f"{split}-00000-of-00001.parquet"))
        print(f"{split}: {len(images)} photos")
    for problem in problems:
        print(f"left out: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
