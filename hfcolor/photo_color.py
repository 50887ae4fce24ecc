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

from .color import _XYZ_FROM_RGB, CHROMA_TABLE_STEP, max_chroma_table, rgb_to_lightness, srgb_to_linear

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
    """L* in [0, 100] of a uint8 photo, RGB (H, W, 3) or gray (H, W), as float32 (H, W)."""
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ValueError(f"expected uint8 pixels of shape (H, W, 3) or (H, W); got {pixels.dtype} {pixels.shape}")
    if pixels.ndim == 2:  # a gray level has one L*: a table lookup, a sixth of the RGB path's time
        return cv2.LUT(pixels, _lightness_from_byte())
    lightness = np.empty(pixels.shape[:2], dtype=np.float32)

    def stripe(top: int) -> None:
        rows = slice(top, top + STRIPE_ROWS)
        luminance = cv2.transform(cv2.LUT(pixels[rows], _linear_from_byte()), _LUMINANCE)
        _lightness_of(luminance, out=lightness[rows])

    over_stripes(stripe, *pixels.shape[:2], threads)
    return lightness


@functools.cache
def _lightness_from_byte() -> np.ndarray:
    gray = (torch.arange(256, dtype=torch.float64) / 255).expand(3, 1, 256)
    return rgb_to_lightness(gray)[0, 0].float().numpy()


def _lightness_of(luminance: np.ndarray, out: np.ndarray) -> None:
    # L* = 116 f(Y) - 16, f the cube root above 0.008856 and its tangent line (7.787 Y + 16/116) below.
    # A tangent lies above a concave curve everywhere, so L* is the smaller of the two: no branches.
    cube_root = cv2.exp(cv2.log(cv2.max(luminance, 0.008856)) * np.float32(1 / 3))  # 0.86x the time of cv2.pow
    np.minimum(cube_root * np.float32(116.0) - np.float32(16.0), luminance * np.float32(116.0 * 7.787), out=out)


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
    hue *= np.float32(1 / CHROMA_TABLE_STEP)
    limit = cv2.remap(
        _max_chroma(),
        hue,
        lightness * np.float32(1 / CHROMA_TABLE_STEP),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,  # L* outside [0, 100] takes the limit at 0 or 100: none
    )
    scale = cv2.divide(limit, chroma)  # inf, or NaN for 0 / 0 (L* 0 or 100 with no chroma)
    # fmin, not minimum: NaN becomes 1, and a pixel with no chroma keeps none.
    np.fmin(scale, np.float32(1.0), out=scale)
    return cv2.multiply(a, scale), cv2.multiply(b, scale)


@functools.cache
def _max_chroma() -> np.ndarray:
    # Two more rows and columns, copies of the last: remap then never reaches for pixels beyond the
    # table at L* = 100 or hue = 360, which sends it down a 1.4x slower border path (white photos).
    return np.pad(max_chroma_table().numpy(), ((0, 2), (0, 2)), mode="edge")


def lab_to_srgb8(lightness: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """In-gamut L*a*b* float32 arrays (H, W) -> uint8 sRGB (H, W, 3), rounded to nearest (into ``out`` if given)."""
    rgb = cv2.cvtColor(cv2.merge([lightness, a, b]), cv2.COLOR_Lab2RGB)
    return cv2.convertScaleAbs(rgb, out, alpha=255.0)


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
        # No clip of L* to [0, 100] needed: beyond it the chroma limit is that of black or white,
        # none, and the conversion saturates to 0 or 255.
        lum = lightness[rows]
        lab_to_srgb8(lum, *fit_chroma(lum, a[rows], b[rows]), out=rgb[rows])

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
