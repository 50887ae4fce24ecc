"""The README's video strip: frames of a clip as the model sees them, colorized frame by frame, and
with the temporal step, plus the flicker of each (and of the truth).

    python benchmarks/video_strip.py --out docs/video_strip.jpg [--frames 40] [--model NAME]

The clip is a slow pan and zoom over scikit-image's coffee photo (public domain), so the picture
may be published; the colorizer sees only its lightness.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from bench_video import camera_motion
from PIL import Image, ImageDraw

from hfcolor import DEFAULT_MODEL, Colorizer
from hfcolor.metrics import Flicker
from hfcolor.pipelines.video import VideoColorizer

TILE = 240


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--shown", type=int, default=4, help="frames shown, evenly spaced")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--temporal", type=float, default=0.8)
    args = parser.parse_args()

    truth = list(camera_motion(args.frames))
    colorizer = Colorizer.from_pretrained(args.model)
    rows = {"input (its lightness)": [np.asarray(Image.fromarray(f).convert("L").convert("RGB")) for f in truth]}
    for label, temporal in (("frame by frame", 0.0), (f"temporal {args.temporal:g}", args.temporal)):
        rows[label] = list(VideoColorizer(colorizer, temporal=temporal)(truth))
    rows["truth"] = truth
    flicker = {}
    for label, frames in rows.items():
        meter = Flicker()
        for frame in frames:
            meter.add(frame)
        flicker[label] = meter.value
        print(f"{label}: flicker {meter.value:.2f}")

    shown = np.linspace(0, args.frames - 1, args.shown).round().astype(int)
    height = round(TILE * truth[0].shape[0] / truth[0].shape[1])
    strip = Image.new("RGB", (TILE * len(shown), (height + 22) * len(rows)), "white")
    draw = ImageDraw.Draw(strip)
    for row, (label, frames) in enumerate(rows.items()):
        top = row * (height + 22)
        caption = label if "input" in label else f"{label}: flicker {flicker[label]:.2f}"
        draw.text((4, top + 4), caption, fill="black")
        for column, index in enumerate(shown):
            strip.paste(
                Image.fromarray(frames[index]).resize((TILE, height), Image.Resampling.BICUBIC),
                (column * TILE, top + 22),
            )
    strip.save(args.out, quality=88)
    print(f"wrote {args.out}: frames {', '.join(map(str, shown))} of {args.frames}")


if __name__ == "__main__":
    main()
