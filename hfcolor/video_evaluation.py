"""Scoring video colorization on colour clips: each frame against its truth, and the flicker.

The clip's own colours are the truth; the colorizer sees only their lightness. Per frame, PSNR
and colourfulness as :mod:`hfcolor.metrics` defines them (averaged over frames); per clip, the
:class:`~hfcolor.metrics.Flicker` of the colorization and of the truth (the floor: what flow
errors and real changes of colour leave).

    hfcolor evaluate-video clip.mp4 other.mp4 --temporal 0 0.8
"""

from __future__ import annotations

import itertools
import os

import numpy as np

from .metrics import Flicker, colorfulness, psnr
from .pipelines.video import VideoColorizer
from .video_io import VideoReader


def evaluate_clip(video: VideoColorizer, clip: str | os.PathLike, max_frames: int | None = None) -> dict[str, float]:
    """Scores of ``video`` on the first ``max_frames`` frames (all by default) of a colour clip."""
    with VideoReader(clip) as reader:
        truths = itertools.islice(reader.frames(), max_frames)
        outputs, truth_flicker, flicker = [], Flicker(), Flicker()
        pending = []  # the truths whose colorizations the (batched) colorizer has not yet given back

        def feed():
            for truth in truths:
                pending.append(truth)
                yield truth

        for output in video(feed()):
            truth = pending.pop(0)
            outputs.append((psnr(output, truth), colorfulness(output), colorfulness(truth)))
            flicker.add(output)
            truth_flicker.add(truth)
    if not outputs:
        raise ValueError(f"{clip}: no frames")
    scores = np.array(outputs)
    return {
        "frames": len(outputs),
        "psnr": float(np.mean(scores[:, 0])),
        "colourfulness": float(np.mean(scores[:, 1])),
        "truth colourfulness": float(np.mean(scores[:, 2])),
        "flicker": flicker.value,
        "truth flicker": truth_flicker.value,
        "new shots": len(video.cuts),
    }


def markdown(rows: list[tuple[str, float, dict[str, float]]]) -> str:
    """(clip, temporal, scores) rows as a table; the flicker cut is how far toward the truth's floor
    each temporal setting brings the frame-by-frame (temporal 0) flicker of the same clip."""
    alone = {clip: scores["flicker"] for clip, temporal, scores in rows if temporal == 0}
    lines = [
        "| clip | temporal | frames | PSNR dB | colourfulness (truth) | flicker (truth) | flicker cut | new shots |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for clip, temporal, s in rows:
        cut = "—"
        if temporal and clip in alone and alone[clip] > s["truth flicker"]:
            cut = f"{(alone[clip] - s['flicker']) / (alone[clip] - s['truth flicker']):.0%}"
        lines.append(
            f"| {clip} | {temporal:g} | {s['frames']} | {s['psnr']:.2f} | {s['colourfulness']:.1f} "
            f"({s['truth colourfulness']:.1f}) | {s['flicker']:.2f} ({s['truth flicker']:.2f}) | {cut} | "
            f"{s['new shots']} |"
        )
    return "\n".join(lines)
