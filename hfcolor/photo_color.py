"""Colour at photo resolution: a photo's L*, and its L* merged with a model's a*b* back into sRGB.

These are the only steps whose cost grows with the photo (a 12-megapixel photo is 240 times the
pixels a 224 px model sees), so they are written for throughput rather than autograd: float32
NumPy arrays, OpenCV's vectorised kernels (its resize, polar and Lab -> sRGB conversions, measured
by ``benchmarks/bench_colour.py``), cache-sized stripes of rows spread over threads, and a gamut fit
whose cost does not depend on the colours. The torch functions in :mod:`hfcolor.color` stay the
differentiable reference; the tests hold these to them and to scikit-image.

OpenCV's own sRGB -> Lab is not used: on float input it is off by up to 0.23 L* (it interpolates
the sRGB curve), so :func:`photo_lightness` computes L* exactly from a 256-entry table.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch

from .color import _XYZ_FROM_RGB, CHROMA_TABLE_STEP, max_chroma_table, srgb_to_linear

# hfcolor spreads stripes over its own threads (hfcolor.hardware), so each OpenCV call runs on one.
cv2.setNumThreads(1)

UPSAMPLING = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
# 64 rows of a 4000 px photo are about 1 MB per float32 channel: each stripe's dozen passes stay in
# the CPU's cache instead of going through main memory (3x faster than whole-image passes here).
STRIPE_ROWS = 64
# Under a megapixel, handing stripes to threads costs more than it saves (2x slower at 512x512).
PARALLEL_MIN_PIXELS = 1_000_000


@functools.cache
def _linear_from_byte() -> np.ndarray:
    return srgb_to_linear(torch.arange(256, dtype=torch.float64) / 255).float().numpy()


_LUMINANCE = np.array([_XYZ_FROM_RGB[1]], dtype=np.float32)  # Y of linear RGB; white's Y is 1


def photo_lightness(pixels: np.ndarray, threads: int = 1) -> np.ndarray:
    """L* in [0, 100] of a uint8 RGB photo (H, W, 3), as float32 (H, W)."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected uint8 pixels of shape (H, W, 3); got {pixels.dtype} {pixels.shape}")
    lightness = np.empty(pixels.shape[:2], dtype=np.float32)

    def stripe(top: int) -> None:
        rows = slice(top, top + STRIPE_ROWS)
        y = cv2.transform(cv2.LUT(pixels[rows], _linear_from_byte()), _LUMINANCE)
        # pow of exact zeros (black) takes a slow path, 3x slower; np.where discards those values anyway.
        cube_root = cv2.pow(np.maximum(y, 0.008856), 1 / 3)
        lightness[rows] = np.where(y > 0.008856, 116.0 * cube_root - 16.0, (116.0 * 7.787) * y)

    over_stripes(stripe, *pixels.shape[:2], threads)
    return lightness


def upsample_ab(ab: np.ndarray, height: int, width: int, upsampling: str = "bicubic") -> tuple[np.ndarray, np.ndarray]:
    """Low-resolution a*b* (h, w, 2) resized to two float32 planes a*, b* of (height, width), sampled
    as torch's ``interpolate(..., align_corners=False)`` samples (same pixel centres, same cubic)."""
    if upsampling not in UPSAMPLING:
        raise ValueError(f"upsampling must be one of {tuple(UPSAMPLING)}, not {upsampling!r}")
    # One plane at a time: the merge reads each plane in contiguous stripes.
    planes = (np.ascontiguousarray(ab[..., channel], dtype=np.float32) for channel in (0, 1))
    return tuple(cv2.resize(plane, (width, height), interpolation=UPSAMPLING[upsampling]) for plane in planes)


def fit_chroma(lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hfcolor.color.fit_to_gamut` on float32 arrays: a*b* scaled to the sRGB limit at each L* and hue."""
    chroma, hue = cv2.cartToPolar(a, b, angleInDegrees=True)
    limit = cv2.remap(
        _max_chroma(),
        hue * (1 / CHROMA_TABLE_STEP),
        lightness * (1 / CHROMA_TABLE_STEP),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,  # L* outside [0, 100] takes the limit at 0 or 100: none
    )
    scale = np.minimum(limit / np.maximum(chroma, 1e-6), 1.0)
    return a * scale, b * scale


@functools.cache
def _max_chroma() -> np.ndarray:
    # Two more rows and columns, copies of the last: remap then never reaches for pixels beyond the
    # table at L* = 100 or hue = 360, which sends it down a 1.4x slower border path (white photos).
    return np.pad(max_chroma_table().numpy(), ((0, 2), (0, 2)), mode="edge")


def lab_to_srgb8(lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """In-gamut L*a*b* float32 arrays (H, W) -> uint8 sRGB (H, W, 3), rounded to nearest."""
    rgb = cv2.cvtColor(cv2.merge([lightness, a, b]), cv2.COLOR_Lab2RGB)
    return cv2.convertScaleAbs(rgb, alpha=255.0)


def merge(lightness: np.ndarray, ab: np.ndarray, upsampling: str = "bicubic", threads: int = 1) -> np.ndarray:
    """A photo's L* (H, W) and a model's a*b* (h, w, 2), both float32 in Lab units -> uint8 sRGB (H, W, 3).

    The a*b* is upsampled to the photo, fitted into the sRGB gamut at the photo's own L*, and
    converted; the photo's lightness and detail survive unchanged.
    """
    height, width = lightness.shape
    a, b = upsample_ab(ab, height, width, upsampling)
    rgb = np.empty((height, width, 3), dtype=np.uint8)

    def stripe(top: int) -> None:
        rows = slice(top, top + STRIPE_ROWS)
        lum = np.clip(lightness[rows], 0, 100)
        rgb[rows] = lab_to_srgb8(lum, *fit_chroma(lum, a[rows], b[rows]))

    over_stripes(stripe, height, width, threads)
    return rgb


def over_stripes(work, height: int, width: int, threads: int) -> None:
    """Call ``work(top)`` for every stripe; with ``threads`` > 1 several at once (OpenCV and NumPy
    release the GIL inside each call), for photos big enough to repay handing stripes out."""
    tops = range(0, height, STRIPE_ROWS)
    if threads <= 1 or height * width < PARALLEL_MIN_PIXELS:
        for top in tops:
            work(top)
        return
    list(_pool(threads).map(work, tops))


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="hfcolor-stripes")
