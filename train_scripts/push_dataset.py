"""Turn an NCD-style folder (``<class>/<image>``) into a Hub dataset with an ``image`` and a ``class`` column.

    python train_scripts/push_dataset.py /data/NCD --repo_id me/natural-color-dataset
    python train_scripts/push_dataset.py /data/NCD --save_to ./ncd          # a local Hub-layout folder

The Natural-Color Dataset of report 001 (723 fruit and vegetable photos in 20 classes) is not on the
Hub; after pushing, point the ``ncd`` preset at it with ``HFCOLOR_NCD_DATASET=me/natural-color-dataset``.
Unreadable files are reported and left out, never pushed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import datasets

from hfcolor.image_io import IMAGE_SUFFIXES, ImageReadError, load_image


def collect(root: Path) -> tuple[list[str], list[str], list[str]]:
    """(image paths, their class names, problems) for every image in a class sub-folder."""
    paths, classes, problems = [], [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                load_image(path)
            except ImageReadError as error:
                problems.append(str(error))
                continue
            paths.append(str(path))
            classes.append(class_dir.name)
    return paths, classes, problems


def build_dataset(root: Path) -> datasets.Dataset:
    paths, classes, problems = collect(root)
    for problem in problems:
        print(f"left out: {problem}", file=sys.stderr)
    if not paths:
        raise SystemExit(f"{root}: no readable images in <class>/<image> sub-folders")
    features = datasets.Features({"image": datasets.Image(), "class": datasets.ClassLabel(names=sorted(set(classes)))})
    return datasets.Dataset.from_dict({"image": paths, "class": classes}, features=features)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="NCD-style folder: one sub-folder of images per class")
    parser.add_argument("--repo_id", help="Hub dataset to push to, e.g. me/natural-color-dataset")
    parser.add_argument("--save_to", type=Path, help="write a local Hub-layout folder (data/train-*.parquet) instead")
    parser.add_argument("--private", action="store_true")
    args = parser.parse_args(argv)
    if not (args.repo_id or args.save_to):
        parser.error("give --repo_id to push, or --save_to for a local folder")
    dataset = build_dataset(args.folder)
    print(f"{len(dataset)} images in {dataset.features['class'].num_classes} classes")
    if args.save_to:
        (args.save_to / "data").mkdir(parents=True, exist_ok=True)
        dataset.to_parquet(args.save_to / "data" / "train-00000-of-00001.parquet")
        (args.save_to / "README.md").write_text(
            "---\ntask_categories:\n- image-to-image\ntags:\n- colorization\n---\n"
            f"# Natural-Color Dataset\n\n{len(dataset)} photos of fruit and vegetables; `class` names the kind.\n"
        )
    if args.repo_id:
        dataset.push_to_hub(args.repo_id, private=args.private)
        print(f"pushed to https://huggingface.co/datasets/{args.repo_id}; use HFCOLOR_NCD_DATASET={args.repo_id}")


if __name__ == "__main__":
    main()
