"""A smaller copy of a photo dataset for the trip to a GPU machine: the train split downscaled, the rest as is.

    python train_scripts/shrink_dataset.py ../shared/data/photos .gpu/photos --side 128
    python train_scripts/train_zoo.py train_scripts/zoo.yaml --data .gpu --out /tmp/zoo

Recipes train on random crops at 64-128 px, so a 128-px train split loses little and is a third of
the size (``photos``: 27 MB instead of 87 MB), small enough to travel with the code. Validation
splits keep their full size: the evaluation protocol scores at 256 px. The output is a Hub-layout
folder (``data/SPLIT-00000-of-00001.parquet``, one ``image`` column) that every hfcolor data option
reads. Unreadable images are reported and left out.

With ``--embed_for MODEL`` (a Deep Koalarization model), every photo also gets an ``embedding``
column: its global embedding, computed once here as the paper did rather than on every training
batch, exactly as the colorize pipeline computes it (the whole photo, at the model's input size):

    python train_scripts/shrink_dataset.py ../shared/data/photos .gpu/photos-inception \
        --embed_for deep_koalarization.seed001_inception_small
"""

from __future__ import annotations

import argparse
import io
import sys
import uuid
from pathlib import Path

import torch
from datasets import Features, List, Value
from PIL import Image

from hfcolor.data import load_images, open_record
from hfcolor.image_io import DEFAULT_MAX_PIXELS, ImageReadError, image_lightness, load_image
from hfcolor.models import create_model
from hfcolor.pipelines import model_input


def shrink(image: Image.Image, side: int, quality: int, path: str | None) -> dict:
    scale = side / min(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return {"bytes": buffer.getvalue(), "path": path}


@torch.inference_mode()
def embeddings(model, images: list[Image.Image]) -> list[list[float]]:
    """The model's global embedding of each whole photo, prepared as :class:`hfcolor.Colorizer` prepares it."""
    if not images:
        return []
    lightness = model_input([image_lightness(image) for image in images], model.input_size)
    return model.image_embedding(lightness).float().tolist()


def readable_copies(batch: dict, indices: list[int], split: str, settings, problems: list[str], model) -> dict:
    """Each image decoded once: unreadable ones dropped (a batched map may return fewer rows)."""
    kept, pictures = [], []
    for record, index in zip(batch["image"], indices):
        try:
            image = open_record(record, record["path"] or f"{split} record {index}", DEFAULT_MAX_PIXELS)
        except ImageReadError as error:
            problems.append(str(error))
            continue
        copy = shrink(image, settings.side, settings.quality, record["path"]) if split in settings.shrink else record
        kept.append(copy)
        if model is not None:  # the embedding of what training will see: the copy, not the original
            pictures.append(load_image(copy["bytes"]) if copy.get("bytes") else image)
    return {"image": kept, **({"embedding": embeddings(model, pictures)} if model is not None else {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="any hfcolor data source (Hub-layout folder, image folder, Hub id)")
    parser.add_argument("out", type=Path, help="folder to write")
    parser.add_argument("--splits", nargs="+", default=["train", "validation"])
    parser.add_argument("--shrink", nargs="+", default=["train"], help="splits to downscale")
    parser.add_argument("--side", type=int, default=128, help="shorter side of the downscaled photos")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality of the downscaled photos")
    parser.add_argument(
        "--embed_for", metavar="MODEL", help="add each photo's global embedding for this model (Deep Koalarization)"
    )
    args = parser.parse_args(argv)
    model = create_model(args.embed_for).eval() if args.embed_for else None
    if model is not None and "embedding" not in model.data_conditions():
        parser.error(
            f"--embed_for {args.embed_for}: this model has no frozen classifier whose embeddings could be computed "
            "in advance (a Deep Koalarization model with ImageNet weights or the InceptionV3 embedding has one)"
        )

    problems: list[str] = []
    (args.out / "data").mkdir(parents=True, exist_ok=True)
    for split in args.splits:
        images = load_images(args.source, split, streaming=False)
        # Never from datasets' cache: the problems are collected while the function runs. A fresh
        # fingerprint, since datasets cannot hash a model (it would warn with the whole network's repr).
        images = images.map(
            readable_copies,
            batched=True,
            with_indices=True,
            load_from_cache_file=False,
            new_fingerprint=uuid.uuid4().hex,
            batch_size=32,
            features=Features({**images.features, "embedding": List(Value("float32"))}) if model else None,
            fn_kwargs={"split": split, "settings": args, "problems": problems, "model": model},
        )
        images.to_parquet(str(args.out / "data" / f"{split}-00000-of-00001.parquet"))
        print(f"{split}: {len(images)} photos")
    for problem in problems:
        print(f"left out: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
