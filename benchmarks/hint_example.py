"""The README's colour-hint picture: one photo colorized alone, then steered by a few clicked colours.

    python benchmarks/hint_example.py [--model NAME] --out docs/hints.jpg [--threads 1 2]

Takes scikit-image's public-domain astronaut photo in gray and a few points that paint her orange
suit blue and the flag's stripes green (colours the truth does not have, so what moves is the
hints' doing), and writes four panels side by side: the input, the model with no hint, the hints
over the input, the model with them. Then times what a person waits for after each click: one
colorization of the photo at 512x512 with the hints (median of 5 after a warm-up), on each number
of CPU threads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw
from skimage import data as skimage_data

from hfcolor import DEFAULT_MODEL, Colorizer, Hints
from hfcolor.bench import median_ms
from hfcolor.hardware import set_threads

SIZE = 384
# (x, y, colour) on the 384x384 photo: the suit (torso and arms) in blue, a flag stripe in green.
POINTS = [
    (50, 300, "#2050c0"), (60, 235, "#2050c0"), (140, 240, "#2050c0"), (250, 225, "#2050c0"), (180, 365, "#2050c0"),
    (25, 170, "#30a040"), (30, 130, "#30a040"),
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="any colorizer: a name, folder or Hub id")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args(argv)
    photo = Image.fromarray(skimage_data.astronaut()).resize((SIZE, SIZE)).convert("L").convert("RGB")
    colorizer = Colorizer.from_pretrained(args.model)
    alone = colorizer(photo)
    steered = colorizer(photo, hints=Hints(points=POINTS))
    marked = photo.copy()
    draw = ImageDraw.Draw(marked)
    for x, y, colour in POINTS:
        draw.ellipse((x - 7, y - 7, x + 7, y + 7), fill=colour, outline="white", width=2)
    panels = [photo, alone, marked, steered]
    canvas = Image.new("RGB", (SIZE * len(panels), SIZE), "white")
    for index, panel in enumerate(panels):
        canvas.paste(panel, (index * SIZE, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out, quality=85)
    print(f"wrote {args.out}: input, no hint, {len(POINTS)} hints, with them")
    large = photo.resize((512, 512))
    hints = Hints(points=[(x * 512 / SIZE, y * 512 / SIZE, colour) for x, y, colour in POINTS])
    for threads in args.threads:
        set_threads(threads)
        alone_ms = median_ms(lambda: colorizer(large), 5)
        hinted_ms = median_ms(lambda: colorizer(large, hints=hints), 5)
        print(f"512x512, {threads} thread(s): {hinted_ms:.0f} ms with {len(POINTS)} hints, {alone_ms:.0f} ms without")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
