"""Video in, colour video out, with any hfcolor model, and colours that hold still from frame to frame.

A model colorizes each frame alone, and wherever it is unsure its guess changes from one frame to
the next: the flicker every frame-by-frame colorizer is known for. Here each frame's a*b*, at the
model's working size (where the guess is made, and small), is blended with the previous frame's
result carried along the optical flow, wherever the flow can be trusted (:mod:`hfcolor.flow`):
colours follow what moves, and a new shot (where the flow holds almost nowhere) starts afresh.
Lightness is always the frame's own.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator

import cv2
import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..flow import flow_between, warp
from ..video_io import VideoReader, VideoWriter
from .colorization import Colorizer, merge_pixels


class VideoColorizer:
    """Colorize video frames with a :class:`Colorizer`, steadying their colours along the motion.

    >>> video = VideoColorizer(Colorizer.from_pretrained("inception_colorizer.base"))
    >>> video.colorize_file("film.mp4", "film_colour.mp4")  # keeps its sound
    >>> for rgb in video(frames): ...  # uint8 RGB arrays in, uint8 RGB arrays out

    Parameters:
        colorizer: colorizes each frame; its model's options (``vividness``...) apply to every frame.
        temporal: weight (0-1) of the colours carried from earlier frames wherever the flow holds;
            0 colorizes every frame alone, and the closer to 1, the longer colours persist.
        cut_share: a frame whose flow holds on less than this share of its pixels starts a new
            shot, taking the model's colours alone.
        batch_size: frames the model colorizes at once.
    """

    def __init__(self, colorizer: Colorizer, temporal: float = 0.8, cut_share: float = 0.3, batch_size: int = 4):
        if not 0 <= temporal <= 1:
            raise ValueError(f"temporal must be between 0 (each frame alone) and 1; got {temporal}")
        if colorizer.model.stochastic:
            raise ValueError("a sampling model draws new colours every frame; choose one that does not sample")
        self.colorizer, self.temporal, self.cut_share, self.batch_size = colorizer, temporal, cut_share, batch_size
        self.cuts: list[int] = []  # frames of the last call where a new shot began (besides its first)

    def __call__(self, frames: Iterable[np.ndarray], **options) -> Iterator[np.ndarray]:
        """Colorized frames, one per frame in, as they are done; ``options`` as in :meth:`Colorizer.predict`."""
        self.cuts, previous, index = [], None, 0
        frames = iter(frames)
        while batch := list(itertools.islice(frames, self.batch_size)):
            images = [Image.fromarray(frame).convert("RGB") for frame in batch]
            for lightness, ab in self.colorizer.predict(images, **options):
                ab, previous = self.steady(lightness, ab, previous, index)
                yield merge_pixels(lightness, ab, self.colorizer.upsampling)
                index += 1

    def steady(self, lightness: torch.Tensor, ab: torch.Tensor, previous: tuple | None, index: int):
        """One frame's model a*b* (2, h, w), blended with ``previous`` (its gray and a*b*, at the
        model's size) carried along the flow; returns the a*b* to merge and this frame's state."""
        height, width = ab.shape[-2:]
        gray = cv2.resize(lightness[0].numpy(), (width, height), interpolation=cv2.INTER_AREA)
        gray = np.clip(gray * 2.55 + 0.5, 0, 255).astype(np.uint8)
        chroma = ab.permute(1, 2, 0).numpy()
        if previous is None or self.temporal == 0:
            return ab, (gray, chroma)
        flow = flow_between(previous[0], gray)
        if flow.trusted_share < self.cut_share:
            self.cuts.append(index)
            return ab, (gray, chroma)
        # Trust fades over a pixel's neighbours, so no hard seam where the flow stops holding.
        weight = self.temporal * cv2.blur(flow.trusted.astype(np.float32), (3, 3))[..., None]
        steadied = weight * warp(previous[1], flow.back) + (1 - weight) * chroma
        return torch.from_numpy(steadied).permute(2, 0, 1), (gray, steadied)

    def colorize_file(
        self,
        source: str | os.PathLike,
        target: str | os.PathLike,
        start: int = 0,
        stop: int | None = None,
        progress: bool = False,
        **options,
    ) -> int:
        """Colorize frames ``start`` to ``stop`` (all by default) of a video file into an H.264 MP4 with
        the same frame rate, size and sound; returns the number of frames written."""
        written = 0
        with tqdm(desc=os.path.basename(source), unit="frame", disable=not progress) as bar:
            for written, total in self.frames_written(source, target, start, stop, **options):
                bar.total = total
                bar.update(1)
        return written

    def frames_written(
        self, source: str | os.PathLike, target: str | os.PathLike, start: int = 0, stop: int | None = None, **options
    ) -> Iterator[tuple[int, int | None]]:
        """:meth:`colorize_file` a frame at a time: yields (frames written, frames to write if known) after each.
        The file appears once the last frame is written; stopping early leaves none."""
        with VideoReader(source, self.colorizer.max_pixels) as reader:
            total = reader.info.frames
            total = None if total is None else max(0, min(total, stop or total) - start)
            with VideoWriter(target, reader.info, sound_from=source, start=start, trim=stop is not None) as writer:
                for rgb in self(reader.frames(start, stop), **options):
                    writer.write(rgb)
                    yield writer.written, total
                if not writer.written:
                    raise ValueError(f"{source}: no frames from {start} to {stop or 'the end'}")
