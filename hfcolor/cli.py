"""The ``hfcolor`` command: colorize files and folders, list the models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm.auto import tqdm

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}


def _collect(inputs: list[str], recursive: bool) -> list[tuple[Path, Path]]:
    """(file, output name relative to OUTDIR) for every input; folders contribute their images."""
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            pattern = "**/*" if recursive else "*"
            for path in sorted(item.glob(pattern)):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    found.append((path, path.relative_to(item)))
        else:
            found.append((item, Path(item.name)))  # a missing file is reported when it is read
    return found


def colorize_command(args) -> int:
    from .image_io import ImageReadError, load_image, save_image
    from .models import CheckpointError
    from .pipeline import Colorizer

    try:
        colorizer = Colorizer.from_pretrained(args.model, device=args.device, max_pixels=args.max_pixels)
    except (CheckpointError, OSError, ValueError) as error:
        print(f"hfcolor: cannot load model {args.model!r}: {error}", file=sys.stderr)
        return 2
    jobs = _collect(args.inputs, args.recursive)
    if not jobs:
        print("hfcolor: no images found in the inputs", file=sys.stderr)
        return 1
    failures = 0
    for path, relative in tqdm(jobs, desc="colorizing", unit="img"):
        try:
            image = load_image(path, args.max_pixels)
            (colorized,) = colorizer.colorize_images([image])
            save_image(colorized, Path(args.output) / relative.with_suffix("." + args.format))
        except (ImageReadError, OSError) as error:
            failures += 1
            tqdm.write(f"hfcolor: skipped {error}", file=sys.stderr)
    print(f"{len(jobs) - failures} colorized, {failures} failed -> {args.output}")
    return 1 if failures else 0


def models_command(args) -> int:
    from .models import RECIPES, available_weights

    weights = available_weights()
    colorizers = {name: recipe for name, recipe in sorted(RECIPES.items()) if recipe.is_colorizer}
    width = max(map(len, colorizers))
    print(f"{'model':<{width}}  weights  description")
    for name, recipe in colorizers.items():
        print(f"{name:<{width}}  {'yes' if name in weights else '-':<7}  {recipe.description}")
    for name, folder in weights.items():
        if name not in RECIPES:
            print(f"{name:<{width}}  yes      (weights at {folder})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hfcolor", description="Colorize grayscale photos with hfcolor models.")
    commands = parser.add_subparsers(dest="command", required=True)

    colorize = commands.add_parser("colorize", help="colorize image files and folders")
    colorize.add_argument("inputs", nargs="+", help="image files or folders of images")
    colorize.add_argument("-o", "--output", required=True, help="folder for the colorized images")
    colorize.add_argument("-m", "--model", required=True, help="model name (see `hfcolor models`), folder or Hub id")
    colorize.add_argument("--format", choices=("png", "jpg"), default="png", help="output format (default png)")
    colorize.add_argument("--recursive", action="store_true", help="also look into sub-folders")
    colorize.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    colorize.add_argument("--max-pixels", type=int, default=64_000_000, help="refuse larger images (default 64 MP)")
    colorize.set_defaults(run=colorize_command)

    models = commands.add_parser("models", help="list registered models and the weights found")
    models.set_defaults(run=models_command)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
