"""Colour science in torch: sRGB <-> CIE L*a*b* (D65), model normalisation and a*b* quantisation.

Every function works on tensors whose colour channels sit at dim -3, so both ``(3, H, W)`` and
``(B, 3, H, W)`` work, on any device, in float32 or float64, and stays differentiable. The formulas
and constants are exactly scikit-image's (``skimage.color.rgb2lab`` / ``lab2rgb``, D65, 2 degree
observer) so results agree with it to floating-point precision.

Why Lab (report 003, section 1): L* is the grayscale photo the model sees; only the two chroma
channels a*, b* have to be predicted, and they can be merged with a full-resolution L* later.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

# sRGB primaries to XYZ (the sRGB specification, as in scikit-image).
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_D65_WHITE = (0.95047, 1.0, 1.08883)
_RGB_FROM_XYZ = torch.linalg.inv(torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64))

# The reports' convention (report 000, 2.1): L* in [0, 100] and a*b* both mapped to [-1, 1] for the
# networks. 110 covers the whole sRGB gamut (a* in [-86.2, 98.2], b* in [-107.9, 94.5]).
L_SCALE = 50.0
AB_SCALE = 110.0

# The a*b* extremes that sRGB colours reach, used for "the real a*b* range" of report 004's bins.
SRGB_AB_RANGE = ((-86.2, 98.3), (-107.9, 94.5))


def _matrix(rows, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64, device=like.device).to(like.dtype)


def _apply_matrix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """A 3x3 (or 1x3) colour matrix applied to every pixel of (..., 3, H, W)."""
    return (matrix @ image.flatten(-2)).unflatten(-1, image.shape[-2:])


def _check_channels(image: torch.Tensor, name: str) -> None:
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(
            f"{name} must have 3 channels at dim -3, i.e. (3, H, W) or (B, 3, H, W); got {tuple(image.shape)}"
        )
    if not image.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (float32 or float64); got {image.dtype}")


# Each conversion is a dozen element-wise passes. On CPU, pieces that fit in the cache make those
# passes about 3x faster than whole batches, which go through main memory on every pass.
_PIECE_PIXELS = 1 << 16


def _per_pixel(name: str):
    """Run a per-pixel conversion of (..., C, H, W) over cache-sized row stripes of each image."""

    def wrap(convert):
        @functools.wraps(convert)
        def converted(image: torch.Tensor) -> torch.Tensor:
            _check_channels(image, name)
            height, width = image.shape[-2:]
            if image.device.type != "cpu" or image.numel() // image.shape[-3] <= _PIECE_PIXELS:
                return convert(image)
            rows = max(1, _PIECE_PIXELS // width)
            images = image.reshape(-1, *image.shape[-3:])
            out = None
            for i in range(len(images)):
                for top in range(0, height, rows):
                    piece = convert(images[i, :, top : top + rows])
                    if out is None:
                        out = image.new_empty(len(images), piece.shape[0], height, width)
                    out[i, :, top : top + rows] = piece  # differentiable: autograd records slice copies
            return out.reshape(*image.shape[:-3], *out.shape[-3:])

        return converted

    return wrap


def _power(positive: torch.Tensor, exponent: float) -> torch.Tensor:
    # exp(k log x) is exact to a few ulp and, on CPU, 2-3x faster than torch.pow with a fractional exponent.
    return torch.exp(torch.log(positive) * exponent)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    # Clamping inside each branch keeps gradients finite where torch.where evaluates both sides.
    return torch.where(rgb > 0.04045, _power((rgb.clamp(min=0.04045) + 0.055) / 1.055, 2.4), rgb / 12.92)


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    srgb = torch.where(linear > 0.0031308, 1.055 * _power(linear.clamp(min=0.0031308), 1 / 2.4) - 0.055, linear * 12.92)
    return srgb.clamp(0.0, 1.0)


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > 0.008856, _power(t.clamp(min=0.008856), 1 / 3), 7.787 * t + 16.0 / 116.0)


def _lab_f_inverse(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > 0.2068966, t**3, (t - 16.0 / 116.0) / 7.787)


@_per_pixel("rgb")
def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] to L*a*b* (L* in [0, 100]), channels at dim -3."""
    _check_channels(rgb, "rgb")
    # XYZ relative to the white point in one matrix product: rows of the sRGB matrix divided by white.
    xyz_from_rgb = (
        torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64) / torch.tensor(_D65_WHITE, dtype=torch.float64)[:, None]
    )
    fx, fy, fz = _lab_f(_apply_matrix(xyz_from_rgb.to(rgb.device, rgb.dtype), srgb_to_linear(rgb))).unbind(-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


@_per_pixel("lab")
def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """L*a*b* to sRGB in [0, 1]. Out-of-gamut colours are clipped (as scikit-image does), never NaN."""
    _check_channels(lab, "lab")
    lightness, a, b = lab.unbind(-3)
    # negative Z is unphysical; scikit-image clips it to zero too (fz = (L + 16) / 116 - b / 200 >= 0)
    b = torch.minimum(b, (lightness + 16.0) / 116.0 * 200.0)
    return linear_to_srgb(_lab_to_linear_rgb(torch.stack([lightness, a, b], dim=-3)))


@_per_pixel("rgb")
def rgb_to_lightness(rgb: torch.Tensor) -> torch.Tensor:
    """L* alone, shape (..., 1, H, W): cheaper than a full conversion for multi-megapixel photos."""
    _check_channels(rgb, "rgb")
    weights = _matrix(_XYZ_FROM_RGB[1:2], rgb)  # only Y matters for L*, and white Y is 1
    y = _apply_matrix(weights, srgb_to_linear(rgb))
    return 116.0 * _lab_f(y) - 16.0


# The largest chroma sRGB can show at each lightness and hue, tabulated every half unit of L* and
# every half degree: a gamut fit then costs the same few passes for any photo (bisecting only the
# offending pixels made an all-black photo, where every pixel is out of gamut, cost 2.5-8x a real one). Interpolated, it keeps at least 98% of the chroma sRGB allows and overshoots the gamut
# by at most 0.2% of full scale, near the yellow cusp (tests/test_photo_color.py measures both).
CHROMA_TABLE_STEP = 0.5


@functools.lru_cache(maxsize=1)
def max_chroma_table() -> torch.Tensor:
    """Float32 (201, 721): row i is L* = i / 2, column j is hue = j / 2 degrees (0 and 360 both kept)."""
    with torch.device("cpu"):  # whatever the default device (a loader sizes models up on the meta device)
        lightness = torch.arange(0, 100 + CHROMA_TABLE_STEP / 2, CHROMA_TABLE_STEP, dtype=torch.float64)
        hue = torch.deg2rad(torch.arange(0, 360 + CHROMA_TABLE_STEP / 2, CHROMA_TABLE_STEP, dtype=torch.float64))
        lightness, hue = torch.meshgrid(lightness, hue, indexing="ij")
        low, high = torch.zeros_like(lightness), torch.full_like(lightness, 2 * AB_SCALE)
        for _ in range(18):  # bisection to 220 / 2**18 < 0.001 chroma; ``low`` always fits
            middle = (low + high) / 2
            lab = torch.stack([lightness, middle * hue.cos(), middle * hue.sin()])
            fits = _in_gamut(_lab_to_linear_rgb(lab), tolerance=0.0)[0]
            low, high = torch.where(fits, middle, low), torch.where(fits, high, middle)
        return low.float()


@_per_pixel("lab")
def fit_to_gamut(lab: torch.Tensor) -> torch.Tensor:
    """Shrink the chroma of out-of-gamut colours until they fit sRGB, keeping L* and hue.

    Plain clipping in RGB changes lightness; a photo's L* must survive colorization unchanged, so
    each pixel's a*b* is scaled down to at most the largest chroma sRGB shows at its L* and hue
    (:func:`max_chroma_table`). The cost does not depend on the colours.
    """
    _check_channels(lab, "lab")
    lightness, a, b = lab.unbind(-3)
    lightness = lightness.clamp(0.0, 100.0)
    chroma = torch.hypot(a, b)
    hue = torch.rad2deg(torch.atan2(b, a)) % 360.0
    # grid_sample's coordinates run from -1 to 1 over the table's first and last rows and columns.
    grid = torch.stack([hue / 180.0 - 1.0, lightness / 50.0 - 1.0], dim=-1).reshape(1, -1, 1, 2)
    table = max_chroma_table().to(lab.device, lab.dtype)[None, None]
    limit = F.grid_sample(table, grid, mode="bilinear", align_corners=True).reshape(chroma.shape)
    scale = (limit / chroma.clamp(min=1e-6)).clamp(max=1.0)
    return torch.stack([lightness, a * scale, b * scale], dim=-3)


def _in_gamut(linear_rgb: torch.Tensor, tolerance: float = 1e-4) -> torch.Tensor:
    return ((linear_rgb >= -tolerance) & (linear_rgb <= 1 + tolerance)).all(dim=-3, keepdim=True)


def _lab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab -> linear RGB without clipping: values outside [0, 1] are out of the sRGB gamut."""
    lightness, a, b = lab.unbind(-3)
    fy = (lightness + 16.0) / 116.0
    white = torch.tensor(_D65_WHITE, dtype=torch.float64, device=lab.device).to(lab.dtype).view(3, 1, 1)
    xyz = _lab_f_inverse(torch.stack([a / 500.0 + fy, fy, fy - b / 200.0], dim=-3)) * white
    return _apply_matrix(_RGB_FROM_XYZ.to(lab.device, lab.dtype), xyz)


# ----------------------------------------------------------------------------------------------
# Normalisation used by every model: L* -> [-1, 1], a*b* -> [-1, 1] (report 000, 2.1).


def normalize_lightness(lightness: torch.Tensor) -> torch.Tensor:
    return lightness / L_SCALE - 1.0


def denormalize_lightness(lightness: torch.Tensor) -> torch.Tensor:
    return (lightness + 1.0) * L_SCALE


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab / AB_SCALE


def denormalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab * AB_SCALE


def rgb_to_model_space(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB in [0, 1] to the (L, a*b*) pair the models train on, both in [-1, 1]."""
    lab = rgb_to_lab(rgb)
    return normalize_lightness(lab[..., :1, :, :]), normalize_ab(lab[..., 1:, :, :])


def model_space_to_rgb(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_model_space`, with chroma fitted into the sRGB gamut."""
    lab = torch.cat([denormalize_lightness(lightness), denormalize_ab(ab)], dim=-3)
    return lab_to_rgb(fit_to_gamut(lab))


def gray_rgb(lightness: torch.Tensor) -> torch.Tensor:
    """Normalised L* (B, 1, H, W) -> the gray photo it describes, sRGB (B, 3, H, W) in [0, 1]: what an
    ImageNet network is shown of a black-and-white photo. In float32 even under autocast: the
    conversion needs the precision."""
    with torch.autocast(lightness.device.type, enabled=False):
        lightness_100 = denormalize_lightness(lightness.float())
        return lab_to_rgb(torch.cat([lightness_100, torch.zeros_like(lightness_100).expand(-1, 2, -1, -1)], dim=1))


# ----------------------------------------------------------------------------------------------
# a*b* quantisation for the classification models.
#
# A quantiser has ``centers`` of shape (K, D): D = 1 for per-channel bins (report 004 bins a* and b*
# separately) and D = 2 for the joint a*b* grid (Zhang et al. 2016). Logits carry the K classes
# at dim -3, so the same decoding serves both.

DECODE_MODES = ("mode", "mean", "annealed_mean")


def _decode(logits: torch.Tensor, centers: torch.Tensor, how: str, temperature: float) -> torch.Tensor:
    """Class scores (..., K, H, W) -> values (..., D, H, W)."""
    centers = centers.to(logits.device, logits.dtype)
    if how == "mode":
        return centers[logits.argmax(dim=-3)].movedim(-1, -3)
    if how == "mean":
        probs = logits.softmax(dim=-3)
    elif how == "annealed_mean":
        # Zhang et al.: re-normalise p^(1/T); T -> 0 is the mode, T = 1 the mean. T = 0.38 in the paper.
        probs = (logits.log_softmax(dim=-3) / temperature).softmax(dim=-3)
    else:
        raise ValueError(f"unknown decoding {how!r}; choose one of {DECODE_MODES}")
    return torch.einsum("...khw,kd->...dhw", probs, centers)


def _nearest(values: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Values (..., D, H, W) -> index of the nearest centre, (..., H, W)."""
    distances = torch.cdist(values.movedim(-3, -1).reshape(-1, centers.shape[1]), centers.to(values))
    return distances.argmin(dim=1).reshape(values.shape[:-3] + values.shape[-2:])


def _soft_encode(values: torch.Tensor, centers: torch.Tensor, neighbours: int, sigma: float) -> torch.Tensor:
    """Zhang et al.'s soft encoding: Gaussian weights on the nearest centres, (..., K, H, W)."""
    centers = centers.to(values)
    flat = values.movedim(-3, -1).reshape(-1, centers.shape[1])
    distances, index = torch.cdist(flat, centers).topk(min(neighbours, len(centers)), dim=1, largest=False)
    weights = torch.exp(-(distances**2) / (2 * sigma**2))
    weights = weights / weights.sum(dim=1, keepdim=True)
    encoded = torch.zeros(flat.shape[0], len(centers), dtype=values.dtype, device=values.device)
    encoded.scatter_(1, index, weights)
    return encoded.reshape(values.shape[:-3] + values.shape[-2:] + (len(centers),)).movedim(-1, -3)


class UniformABBins:
    """Report 004's bins: ``num_bins`` equal bins per channel over [low, high] (a* and b* separately).

    Logits have shape (B, 2 * num_bins, H, W): the a* scores, then the b* scores.
    """

    def __init__(self, num_bins: int = 10, low: float = -100.0, high: float = 100.0):
        if num_bins < 2 or not high > low:
            raise ValueError(f"need num_bins >= 2 and high > low; got {num_bins}, [{low}, {high}]")
        self.num_bins, self.low, self.high = num_bins, float(low), float(high)
        width = (self.high - self.low) / num_bins
        self.centers = (self.low + width * (torch.arange(num_bins, dtype=torch.float64) + 0.5)).unsqueeze(1)

    @property
    def num_classes(self) -> int:
        return 2 * self.num_bins

    def _per_channel(self, ab: torch.Tensor) -> list[torch.Tensor]:
        if ab.shape[-3] != 2:
            raise ValueError(f"ab must have 2 channels at dim -3; got {tuple(ab.shape)}")
        return [ab[..., c : c + 1, :, :] for c in range(2)]

    def index(self, ab: torch.Tensor) -> torch.Tensor:
        """a*b* in Lab units (..., 2, H, W) -> bin index per channel (..., 2, H, W), clamped to the range."""
        scaled = (ab - self.low) / (self.high - self.low) * self.num_bins
        return scaled.floor().long().clamp(0, self.num_bins - 1)

    def soft_encode(self, ab: torch.Tensor, neighbours: int = 2, sigma: float | None = None) -> torch.Tensor:
        sigma = sigma or (self.high - self.low) / self.num_bins / 2
        return torch.cat([_soft_encode(c, self.centers, neighbours, sigma) for c in self._per_channel(ab)], dim=-3)

    def decode(self, logits: torch.Tensor, how: str = "mode", temperature: float = 0.38) -> torch.Tensor:
        a_scores, b_scores = logits.split(self.num_bins, dim=-3)
        return torch.cat([_decode(s, self.centers, how, temperature) for s in (a_scores, b_scores)], dim=-3)


@functools.lru_cache(maxsize=8)
def in_gamut_cells(grid_size: float = 10.0, ab_limit: float = 110.0, samples_per_channel: int = 64) -> torch.Tensor:
    """Centres (Q, 2) of the a*b* grid cells that some sRGB colour falls into (313 cells in Zhang et al.).

    Found by converting a dense RGB lattice to Lab, so the set is exact up to the lattice spacing.
    """
    with torch.device("cpu"):  # whatever the default device (a loader sizes models up on the meta device)
        return _in_gamut_cells(grid_size, ab_limit, samples_per_channel)


def _in_gamut_cells(grid_size: float, ab_limit: float, samples_per_channel: int) -> torch.Tensor:
    levels = torch.linspace(0, 1, samples_per_channel, dtype=torch.float64)
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij")).reshape(3, -1, 1)
    ab = rgb_to_lab(rgb)[1:].reshape(2, -1)
    cells_per_side = math.ceil(2 * ab_limit / grid_size)
    cell = ((ab + ab_limit) / grid_size).floor().long().clamp(0, cells_per_side - 1)
    occupied = torch.unique(cell[0] * cells_per_side + cell[1])
    centers = torch.stack([occupied // cells_per_side, occupied % cells_per_side], dim=1).double()
    return (centers + 0.5) * grid_size - ab_limit


class GamutABBins:
    """Joint a*b* classes on a ``grid_size`` grid, restricted to cells that sRGB colours reach.

    Logits have shape (B, Q, H, W). ``decode`` supports the mode, the mean and Zhang et al.'s
    annealed mean; ``soft_encode`` gives the 5-nearest-neighbour Gaussian targets (sigma 5).
    """

    def __init__(self, grid_size: float = 10.0, ab_limit: float = 110.0):
        self.grid_size, self.ab_limit = float(grid_size), float(ab_limit)
        self.centers = in_gamut_cells(self.grid_size, self.ab_limit)

    @property
    def num_classes(self) -> int:
        return len(self.centers)

    def index(self, ab: torch.Tensor) -> torch.Tensor:
        return _nearest(ab, self.centers)

    def soft_encode(self, ab: torch.Tensor, neighbours: int = 5, sigma: float = 5.0) -> torch.Tensor:
        return _soft_encode(ab, self.centers, neighbours, sigma)

    def decode(self, logits: torch.Tensor, how: str = "annealed_mean", temperature: float = 0.38) -> torch.Tensor:
        return _decode(logits, self.centers, how, temperature)

    def rebalancing_weights(self, class_counts: torch.Tensor, mix: float = 0.5, sigma: float = 5.0) -> torch.Tensor:
        """Zhang et al.'s class-rebalancing weights from the training set's a*b* histogram.

        The empirical prior is smoothed with a Gaussian over the grid, mixed with a uniform
        distribution (``mix`` = lambda = 0.5), inverted, and normalised so the expected weight is 1.
        """
        prior = class_counts.double() / class_counts.sum()
        distances = torch.cdist(self.centers, self.centers)
        kernel = torch.exp(-(distances**2) / (2 * sigma**2))
        smoothed = kernel @ prior
        smoothed = smoothed / smoothed.sum()
        weights = 1.0 / ((1 - mix) * smoothed + mix / self.num_classes)
        return (weights / (smoothed * weights).sum()).float()
