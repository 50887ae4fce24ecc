"""Throughput of ``hfcolor colorize`` over a folder of about-1-megapixel photos, as a user runs it.

    python benchmarks/bench_cli.py --photos FOLDER [--count 50] [--threads 1 2] [--gray] [--before OLD_CHECKOUT]

Makes ``--count`` JPEGs of about 1 megapixel from the photos in FOLDER (cycled, every second copy
mirrored; RGB, as the web serves old photos, or with ``--gray`` one channel, as scanners save them), then times the whole command (model loading included) with the default model and
prints images per second; with ``--before``, an older checkout of hfcolor runs the same command
on the same files in the same run, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
PIXELS = 1_000_000


def make_photos(source: Path, folder: Path, count: int, mode: str = "RGB") -> None:
    originals = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not originals:
        raise SystemExit(f"no .jpg/.png photos in {source}")
    for index in range(count):
        image = ImageOps.exif_transpose(Image.open(originals[index % len(originals)])).convert(mode)
        scale = (PIXELS / (image.width * image.height)) ** 0.5
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        if (index // len(originals)) % 2:
            image = ImageOps.mirror(image)
        image.save(folder / f"photo_{index:03d}.jpg", quality=90)


def run_cli(photos: Path, output: Path, threads: int, checkout: Path) -> float:
    """Seconds of ``hfcolor colorize`` as ``checkout`` has it, the photos' folder and ``output`` absolute."""
    environment = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": str(threads)}
    environment.setdefault("HF_HUB_OFFLINE", "1")
    environment.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    command = [sys.executable, "-m", "hfcolor.cli", "colorize", str(photos), "-o", str(output)]
    start = time.perf_counter()
    # Run from outside any checkout: ``python -m`` puts the working directory ahead of PYTHONPATH.
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=output.parent, check=False)
    seconds = time.perf_counter() - start
    if completed.returncode:
        raise SystemExit(f"{checkout}: {completed.stderr.strip()[-500:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", required=True, type=Path, help="a folder of photos to make the test set from")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--gray", action="store_true", help="one-channel JPEGs, as scanners save old photos")
    parser.add_argument("--before", type=Path, default=None, help="an older hfcolor checkout to compare with")
    args = parser.parse_args()
    checkouts = [("this checkout", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    with tempfile.TemporaryDirectory() as temporary:
        photos = Path(temporary) / "photos"
        photos.mkdir()
        make_photos(args.photos, photos, args.count, "L" if args.gray else "RGB")
        kind = "gray" if args.gray else "RGB"
        print(
            f"{args.count} {kind} photos of about {PIXELS / 1e6:.0f} MP from {args.photos}; default model; whole command\n"
        )
        print("| threads | " + " | ".join(label for label, _ in checkouts) + (" | ratio |" if args.before else " |"))
        print("|---|" + "---|" * (len(checkouts) + bool(args.before)))
        for threads in args.threads:
            rates = []
            for index, (_, checkout) in enumerate(checkouts):
                seconds = run_cli(photos, Path(temporary) / f"out-{threads}-{index}", threads, checkout)
                rates.append(args.count / seconds)
            cells = [f"{rate:.2f} img/s" for rate in rates] + ([f"{rates[0] / rates[1]:.2f}x"] if args.before else [])
            print(f"| {threads} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
