"""Colour hints: a person's clicks or strokes, or hints simulated from a photo's own colours, as model inputs.

A model that takes hints (its ``conditions`` include ``hints`` and ``hint_mask``) reads them at its
working size: ``hints`` (B, 2, S, S), the hinted a*b* normalised as the model's output, zero where
there is none, and ``hint_mask`` (B, 1, S, S), 1 where a hint is. All zero is no hint at all.

* :class:`Hints` is what a person gives, in the photo's own pixels: points ``(x, y, colour)`` and/or
  a stroke image (RGBA over the photo, painted pixels are hints). :meth:`Hints.maps` turns them into
  the two maps. A colour is sRGB (0-255 or ``#rrggbb``); its a*b* is taken as it is, and the merge
  with the photo's own lightness keeps the result in gamut.
* :func:`spread_hints` carries each hint's correction over the region it falls on, for any model.
* :func:`simulate_hints` draws hints from the truth's a*b*, as Zhang et al. ("Real-Time User-Guided
  Image Colorization with Learned Deep Priors", 2017) train and evaluate: random points, each the
  mean colour of a small patch of the truth.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageColor

from .color import L_SCALE, normalize_ab, rgb_to_lab
from .image_io import DEFAULT_MAX_PIXELS, open_image

# A clicked point covers this many cells of the model's grid a side: one cell of 224 is too small
# to find, and simulated training hints are patches of 1 to 5 cells.
POINT_CELLS = 3
# A stroke pixel of the model's grid counts as painted when more than this share of it is covered.
STROKE_COVERAGE = 0.5
# spread_hints: neighbouring cells whose L* differs by SPREAD_EDGE units are tied exp(-1/2) as strongly
# as cells of equal L*, so a correction flows across an object and stops at its edges; SPREAD_LEAK
# pulls it back to the model's own colours far from every hint. Chosen on 48 training photos and one
# clicked example (docs/hints.md): 3 units scored 0.14 dB more, but coloured the face with the suit's clicks.
SPREAD_EDGE = 2.0
SPREAD_LEAK = 1e-5
MAX_POINTS = 1000  # hints for one photo (a points file, or simulated by evaluate --hints): work per input is bounded


def colour_ab(colour) -> tuple[float, float]:
    """An sRGB colour, ``(r, g, b)`` 0-255 or a name / ``#rrggbb``, as its a*b* (CIELAB units)."""
    rgb = ImageColor.getrgb(colour) if isinstance(colour, str) else tuple(colour)
    if len(rgb) < 3 or not all(0 <= value <= 255 for value in rgb[:3]):
        raise ValueError(f"a hint colour is sRGB (r, g, b) from 0 to 255 or '#rrggbb'; got {colour!r}")
    lab = rgb_to_lab(torch.tensor(rgb[:3], dtype=torch.float64).view(3, 1, 1) / 255)
    return float(lab[1]), float(lab[2])


@dataclass
class Hints:
    """Hints for one photo: ``points`` ``[(x, y, colour)]`` in its pixels and/or ``strokes``, an RGBA
    image of its size whose painted (opaque) pixels are hints of their colour."""

    points: Sequence[tuple[float, float, object]] = field(default_factory=list)
    strokes: Image.Image | None = None

    @classmethod
    def load(cls, path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Hints:
        """A stroke image (PNG with transparency: unpainted pixels transparent) or a JSON list of points,
        ``[{"x": 120, "y": 80, "colour": "#c03020"}, ...]``. A stroke image over ``max_pixels`` is
        refused before it is decoded (:class:`~hfcolor.image_io.ImageReadError`)."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            try:
                entries = json.loads(path.read_text())
                if not isinstance(entries, list) or len(entries) > MAX_POINTS:
                    raise ValueError(f"a list of at most {MAX_POINTS} points")
                return cls(points=[(float(e["x"]), float(e["y"]), e.get("colour", e.get("color"))) for e in entries])
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise ValueError(
                    f'{path}: hints are a JSON list of {{"x": ..., "y": ..., "colour": "#rrggbb"}}; {error}'
                ) from None
        with open_image(path, max_pixels) as image:
            if "A" not in image.getbands() and "transparency" not in image.info:
                raise ValueError(f"{path}: a stroke image needs transparency (unpainted pixels transparent)")
            return cls(strokes=image.convert("RGBA"))

    def maps(self, photo_size: tuple[int, int], size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(hints (2, size, size) normalised a*b*, mask (1, size, size)) for a photo of ``photo_size`` (w, h)."""
        width, height = photo_size
        ab, mask = torch.zeros(2, size, size), torch.zeros(1, size, size)
        if self.strokes is not None:
            if self.strokes.size != photo_size:
                raise ValueError(f"the stroke image is {self.strokes.size}, the photo {photo_size}: they must match")
            # Premultiplied, so that averaging over transparent pixels does not darken the painted colour.
            small = np.asarray(self.strokes.convert("RGBa").resize((size, size), Image.Resampling.BOX), np.float64)
            painted = torch.from_numpy(small[..., 3] / 255 > STROKE_COVERAGE)
            rgb = torch.from_numpy(small[..., :3] / np.maximum(small[..., 3:], 1)).clamp(0, 1)
            lab = rgb_to_lab(rgb.permute(2, 0, 1))
            ab[:, painted] = normalize_ab(lab[1:, painted].float())
            mask[0, painted] = 1
        for x, y, colour in self.points:
            if not (0 <= x < width and 0 <= y < height):
                raise ValueError(f"hint point ({x}, {y}) is outside the {width}x{height} photo")
            column, row = int(x * size / width), int(y * size / height)
            top, left = max(0, row - POINT_CELLS // 2), max(0, column - POINT_CELLS // 2)
            cells = (slice(top, top + POINT_CELLS), slice(left, left + POINT_CELLS))
            ab[(slice(None), *cells)] = normalize_ab(torch.tensor(colour_ab(colour))).view(2, 1, 1)
            mask[(slice(None), *cells)] = 1
        return ab, mask


def simulate_hints(
    ab: torch.Tensor, counts: Sequence[int], generator: torch.Generator | None = None, max_patch: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hints drawn from the truth: ``ab`` (B, 2, H, W) normalised -> (hints, mask) of the same size, with
    ``counts[b]`` points in image b, each a square of 1 to ``max_patch`` cells holding the mean a*b* of
    the truth under it (Zhang et al.'s simulated user)."""
    height, width = ab.shape[-2:]
    hints, mask = torch.zeros_like(ab), torch.zeros_like(ab[:, :1])
    for index, count in enumerate(counts):
        sides = torch.randint(1, max_patch + 1, (count,), generator=generator).tolist()
        rows = torch.rand(count, generator=generator).tolist()
        columns = torch.rand(count, generator=generator).tolist()
        for side, row, column in zip(sides, rows, columns):
            top, left = int(row * (height - side + 1)), int(column * (width - side + 1))
            cells = (slice(top, top + side), slice(left, left + side))
            hints[(index, slice(None), *cells)] = ab[(index, slice(None), *cells)].mean(dim=(1, 2), keepdim=True)
            mask[(index, slice(None), *cells)] = 1
    return hints, mask


def spread_hints(ab: torch.Tensor, lightness: torch.Tensor, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A model's a*b* (B, 2, S, S) with each photo's hints imposed and their corrections spread.

    ``lightness`` is the model's normalised L* input (B, 1, S, S); ``hints`` and ``mask`` as a model
    takes them. Where a hint is, the a*b* becomes the hint's; elsewhere the difference between hint
    and prediction spreads over cells of similar lightness, as Levin et al. ("Colorization using
    Optimization", 2004) spread scribbles, but applied to the model's error rather than to a gray
    photo. The spreading is solved on a grid of half the size (a sparse linear system per photo,
    about 30 ms at 112x112) and upsampled. A photo with no hint is unchanged. Differentiable in
    ``ab``, so that a model that takes hints can train with the spreading after it.
    """
    size = [(side + 1) // 2 for side in ab.shape[-2:]]
    coverage = F.adaptive_avg_pool2d(mask.float(), size)
    error = F.adaptive_avg_pool2d((hints - ab).float() * mask, size) / coverage.clamp(min=1e-6)
    lum = F.adaptive_avg_pool2d(lightness.float(), size).detach() * L_SCALE
    corrections = []
    for index in range(len(ab)):
        hinted = coverage[index, 0].detach().cpu().numpy() > 0
        if hinted.any():
            lum_cells = lum[index, 0].cpu().numpy()
            corrections.append(_SpreadSolve.apply(error[index], _spreading_system(lum_cells, hinted)))
        else:
            corrections.append(torch.zeros_like(error[index]))
    correction = F.interpolate(torch.stack(corrections), size=ab.shape[-2:], mode="bilinear", align_corners=False)
    return torch.where(mask.bool(), hints, ab + correction.to(ab.dtype)).clamp(-1, 1)


def _spreading_system(lightness: np.ndarray, hinted: np.ndarray):
    """(the factorised system, the pin of each cell) that spreads an error over a photo's cells: the
    smooth field equal to the error at ``hinted`` cells that varies least across cells of similar
    ``lightness`` (L* units) solves (graph Laplacian + hinted + leak) x = hinted * error."""
    import scipy.sparse.linalg  # here, not on top: a quarter of a second off every `import hfcolor`

    height, width = lightness.shape
    lightness = lightness.astype(np.float64)
    cells = np.arange(height * width).reshape(height, width)
    pairs = [(cells[:, :-1], cells[:, 1:], lightness[:, :-1] - lightness[:, 1:])]
    pairs += [(cells[:-1], cells[1:], lightness[:-1] - lightness[1:])]
    first = np.concatenate([a.ravel() for a, _, _ in pairs])
    second = np.concatenate([b.ravel() for _, b, _ in pairs])
    weight = np.exp(-(np.concatenate([d.ravel() for _, _, d in pairs]) ** 2) / (2 * SPREAD_EDGE**2))
    ties = scipy.sparse.coo_matrix((weight, (first, second)), shape=(cells.size,) * 2).tocsr()
    ties = ties + ties.T
    pinned = hinted.ravel() * 1e3  # hinted cells keep the hint (up to 0.1% of the error)
    system = scipy.sparse.diags(np.asarray(ties.sum(axis=1)).ravel() + pinned + SPREAD_LEAK) - ties
    return scipy.sparse.linalg.splu(system.tocsc(), permc_spec="MMD_AT_PLUS_A"), pinned


class _SpreadSolve(torch.autograd.Function):
    """x = system^-1 (pin * error) for each channel of ``error`` (2, H, W). The system is symmetric, so
    the gradient reuses its factors: d error = pin * system^-1 (d x)."""

    @staticmethod
    def forward(ctx, error: torch.Tensor, system) -> torch.Tensor:
        ctx.system = system
        return _solve(system, error, pinned_first=True)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _solve(ctx.system, grad, pinned_first=False), None


def _solve(system, field: torch.Tensor, pinned_first: bool) -> torch.Tensor:
    factors, pinned = system
    values = field.detach().cpu().numpy().astype(np.float64).reshape(len(field), -1)
    solved = [factors.solve(pinned * v) if pinned_first else pinned * factors.solve(v) for v in values]
    return torch.from_numpy(np.stack(solved).reshape(field.shape)).to(field)
