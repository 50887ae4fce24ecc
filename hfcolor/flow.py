"""Optical flow between two gray frames, and where it can be trusted: what keeps a video's colours
steady (:class:`~hfcolor.pipelines.video.VideoColorizer`) and what measures their flicker
(:func:`hfcolor.metrics.flicker`).

OpenCV's DIS flow (Kroeger et al., 2016) is fast enough to run twice per frame on a CPU. A pixel's
flow is trusted where going back and coming forward again lands where it started and the two
frames agree there; everywhere else (occlusions, new content, a cut) it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Forward-backward round trip tolerated, in pixels, plus this share of the motion (Sundaram et al., 2010).
ROUND_TRIP_PIXELS = 1.0
ROUND_TRIP_SHARE = 0.05
# Gray levels (of 255) two frames may differ by where the flow is trusted.
BRIGHTNESS_LEVELS = 12


@dataclass
class Flow:
    """Where each pixel of frame ``t`` was in frame ``t - 1`` (``back``, (H, W, 2) in pixels), and
    whether that can be trusted (``trusted``, bool (H, W))."""

    back: np.ndarray
    trusted: np.ndarray

    @property
    def trusted_share(self) -> float:
        return float(self.trusted.mean())


def _dis() -> cv2.DISOpticalFlow:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def flow_between(previous: np.ndarray, current: np.ndarray) -> Flow:
    """The flow from ``current`` back to ``previous``, both uint8 gray (H, W), and where it holds."""
    if previous.shape != current.shape or previous.dtype != np.uint8 or previous.ndim != 2:
        raise ValueError(f"expected two uint8 gray frames of one size; got {previous.shape} and {current.shape}")
    dis = _dis()
    back = dis.calc(current, previous, None)
    forward = dis.calc(previous, current, None)
    # Follow the flow back, then the forward flow found there: a trusted pixel comes home.
    returned = warp(forward, back)
    round_trip = np.linalg.norm(back + returned, axis=2)
    motion = np.linalg.norm(back, axis=2)
    agree = np.abs(warp(previous, back).astype(np.int16) - current) <= BRIGHTNESS_LEVELS
    return Flow(back, (round_trip <= ROUND_TRIP_PIXELS + ROUND_TRIP_SHARE * motion) & agree & _inside(back))


def warp(image: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Frame ``t - 1``'s ``image`` (H, W[, C]) moved to where frame ``t``'s pixels are (``back``: :class:`Flow`)."""
    height, width = back.shape[:2]
    x, y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, x + back[..., 0], y + back[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _inside(back: np.ndarray) -> np.ndarray:
    height, width = back.shape[:2]
    x, y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    x, y = x + back[..., 0], y + back[..., 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
