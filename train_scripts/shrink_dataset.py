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

from hfcolor.data import load_images
from hfcolor.image_io import ImageReadError, load_image


def shrink(record: dict, side: int, quality: int) -> dict:
    image = load_image(record["bytes"] or record["path"])
    scale = side / min(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return {"bytes": buffer.getvalue(), "path": record["path"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="any hfcolor data source (Hub-layout folder, image folder, Hub id)")
    parser.add_argument("out", type=Path, help="folder to write")
    parser.add_argument("--splits", nargs="+", default=["train", "validation"])
    parser.add_argument("--shrink", nargs="+", default=["train"], help="splits to downscale")
    parser.add_argument("--side", type=int, default=128, help="shorter side of the downscaled photos")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality of the downscaled photos")
    args = parser.parse_args(argv)

    problems = []

    def readable(record: dict) -> bool:
        try:
            load_image(record["image"]["bytes"] or record["image"]["path"])
            return True
        except ImageReadError as error:
            problems.append(str(error))
            return False

    (args.out / "data").mkdir(parents=True, exist_ok=True)
    for split in args.splits:
        images = load_images(args.source, split, streaming=False).filter(readable)
        if split in args.shrink:
            images = images.map(lambda record: {"image": shrink(record["image"], args.side, args.quality)})
        images.to_parquet(str(args.out / "data" / f"{split}-00000-of-00001.parquet"))
        print(f"{split}: {len(images)} photos")
    for problem in problems:
        print(f"left out: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
