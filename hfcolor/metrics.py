"""Colorization metrics: per pair of a predicted and a true photo, both 8-bit RGB arrays (H, W, 3),
and per pair of image sets.

* ``psnr`` / ``ssim``: scikit-image's, on 8-bit RGB (data range 255).
* ``ab_l1`` / ``ab_l2``: mean absolute / squared a*b* error in Lab units.
* ``frobenius``: report 004's "closeness", ||pred - true||_F on RGB scaled to [0, 1].
* ``bin_accuracy``: report 004 Table 2, the share of a* and b* values that fall in the same of
  ``num_bins`` bins over [-100, 100].
* ``colorfulness``: Hasler and Suesstrunk (2003), ``sigma_rgyb + 0.3 * mu_rgyb``; 0 for gray.
* :class:`Flicker`: for video, the mean a*b* change between consecutive frames along the flow.

The set measures compare feature vectors (InceptionV3's, in :mod:`hfcolor.evaluation`), pure numpy:

* ``frechet_distance``: FID, exact, with no d x d matrix square root.
* ``kernel_inception_distance``: KID, the unbiased MMD^2 with a cubic polynomial kernel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from .color import UniformABBins, rgb_to_lab


def _check_pair(pred: np.ndarray, true: np.ndarray) -> None:
    for name, array in (("pred", pred), ("true", true)):
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"{name} must be a uint8 RGB array (H, W, 3); got {array.dtype} {array.shape}")
    if pred.shape != true.shape:
        raise ValueError(f"pred and true differ in shape: {pred.shape} vs {true.shape}")


def _ab(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255.0)[1:]


def psnr(pred: np.ndarray, true: np.ndarray) -> float:
    _check_pair(pred, true)
    if np.array_equal(pred, true):
        return float("inf")
    from skimage.metrics import peak_signal_noise_ratio  # here: importing it takes 0.6 s (scipy.stats)

    return float(peak_signal_noise_ratio(true, pred, data_range=255))


# SSIM compares 7x7 windows (scikit-image's default), so it needs images at least that large.
SSIM_MIN_SIDE = 7


def ssim(pred: np.ndarray, true: np.ndarray) -> float:
    _check_pair(pred, true)
    if min(true.shape[:2]) < SSIM_MIN_SIDE:
        raise ValueError(f"SSIM needs images of at least {SSIM_MIN_SIDE} px on each side; got {true.shape[:2]}")
    from skimage.metrics import structural_similarity

    return float(structural_similarity(true, pred, channel_axis=2, data_range=255, win_size=SSIM_MIN_SIDE))


def ab_l1(pred: np.ndarray, true: np.ndarray) -> float:
    _check_pair(pred, true)
    return float((_ab(pred) - _ab(true)).abs().mean())


def ab_l2(pred: np.ndarray, true: np.ndarray) -> float:
    _check_pair(pred, true)
    return float(((_ab(pred) - _ab(true)) ** 2).mean())


def frobenius(pred: np.ndarray, true: np.ndarray) -> float:
    _check_pair(pred, true)
    return float(np.linalg.norm((pred.astype(np.float64) - true.astype(np.float64)).ravel() / 255.0))


def bin_accuracy(pred: np.ndarray, true: np.ndarray, num_bins: int = 10) -> float:
    _check_pair(pred, true)
    return _bin_accuracy(_ab(pred), _ab(true), num_bins)


def _bin_accuracy(pred_ab: torch.Tensor, true_ab: torch.Tensor, num_bins: int) -> float:
    bins = UniformABBins(num_bins)
    return float((bins.index(pred_ab) == bins.index(true_ab)).double().mean())


def colorfulness(rgb: np.ndarray) -> float:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"colorfulness needs an RGB array (H, W, 3); got {rgb.shape}")
    r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


# How far (in a*b* units) the 99th-percentile pixel may stray from the photo's mean tint in a black-and-white
# photo. Scans of old prints carry one faint tint (sepia, yellowed paper): 5 of the 13 old photos tried reach
# 1.5-2.4, while every one of the 207 `photos` validation colour photos reaches 8.7 or more.
TINT_SPREAD = 6.0


def is_black_and_white(image: Image.Image) -> bool:
    """Whether a photo has no colours of its own: gray, or one uniform tint (sepia, a yellowed print).

    Judged on a 256 px thumbnail by how far its pixels' a*b* stray from their mean (the tint).
    """
    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((256, 256))
    ab = rgb_to_lab(torch.from_numpy(np.array(thumbnail)).permute(2, 0, 1).float() / 255.0)[1:].flatten(1)
    spread = torch.linalg.vector_norm(ab - ab.mean(dim=1, keepdim=True), dim=0)
    return torch.quantile(spread, 0.99).item() < TINT_SPREAD


def against_truth(
    truth: Image.Image, outputs: Sequence[Image.Image], max_pixels: int
) -> tuple[float, list[dict[str, float | None]], tuple[int, int]]:
    """How colorizations of a colour photo compare with its own colours, as a person checks one photo.

    All are reduced (box filter) to at most ``max_pixels`` first: SSIM of one 12 MP pair takes longer
    than colorizing it. Returns the truth's colourfulness, per output its ``psnr``, ``ssim`` (None
    when a side is under ``SSIM_MIN_SIDE``) and ``colorfulness``, and the size scored at.
    """
    scale = min(1.0, (max_pixels / (truth.width * truth.height)) ** 0.5)
    size = (max(1, round(truth.width * scale)), max(1, round(truth.height * scale)))
    true, *arrays = (
        np.asarray(im if scale == 1 else im.resize(size, Image.Resampling.BOX)) for im in (truth, *outputs)
    )
    fits = min(true.shape[:2]) >= SSIM_MIN_SIDE
    scores = [
        {"psnr": psnr(x, true), "ssim": ssim(x, true) if fits else None, "colorfulness": colorfulness(x)}
        for x in arrays
    ]
    return colorfulness(true), scores, size


def score(pred: np.ndarray, true: np.ndarray, num_bins: tuple[int, ...] = (10, 30, 50)) -> dict[str, float]:
    """Every metric for one pair, as a flat dict (the evaluation tables' columns)."""
    pred_colorfulness, true_colorfulness = colorfulness(pred), colorfulness(true)
    pred_ab, true_ab = _ab(pred), _ab(true)
    scores = {
        "psnr": psnr(pred, true),
        "ssim": ssim(pred, true),
        "ab_l1": float((pred_ab - true_ab).abs().mean()),
        "ab_l2": float(((pred_ab - true_ab) ** 2).mean()),
        "frobenius": frobenius(pred, true),
        "colorfulness": pred_colorfulness,
        "colorfulness_true": true_colorfulness,
        "colorfulness_gap": pred_colorfulness - true_colorfulness,
    }
    scores.update({f"bin_accuracy_{n}": _bin_accuracy(pred_ab, true_ab, n) for n in num_bins})
    return scores


class Flicker:
    """How much a video's colours jump between frames: the mean a*b* change (in Lab units) from each
    frame to the next along the optical flow, on the pixels the flow says both frames show.

    Feed frames in order (uint8 RGB, one size) with :meth:`add`; :attr:`value` is the mean over
    every pair so far. Measured on the truth's frames too, it gives the floor (flow error,
    occlusions, real changes of colour). The flow comes from the frames' own lightness, which a
    colorization keeps, so a clip and its colorizations are measured along the same flow. Frames
    are reduced to at most ``max_side`` pixels a side first.
    """

    def __init__(self, max_side: int = 480):
        self.max_side, self.previous, self.changes = max_side, None, []

    def add(self, rgb: np.ndarray) -> None:
        from .flow import flow_between, warp  # OpenCV, needed only for video

        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"frames must be uint8 RGB arrays (H, W, 3); got {rgb.dtype} {rgb.shape}")
        scale = min(1.0, self.max_side / max(rgb.shape[:2]))
        if scale < 1:
            size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
        lab = rgb_to_lab(torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float() / 255.0).permute(1, 2, 0).numpy()
        gray = np.clip(lab[..., 0] * 2.55 + 0.5, 0, 255).astype(np.uint8)
        current = (gray, np.ascontiguousarray(lab[..., 1:]))
        if self.previous is not None:
            if self.previous[0].shape != gray.shape:
                raise ValueError(f"frames differ in size: {self.previous[0].shape} then {gray.shape}")
            flow = flow_between(self.previous[0], gray)
            if flow.trusted.any():
                change = np.linalg.norm(current[1] - warp(self.previous[1], flow.back), axis=2)
                self.changes.append(float(change[flow.trusted].mean()))
        self.previous = current

    @property
    def value(self) -> float:
        return float(np.mean(self.changes)) if self.changes else float("nan")


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """FID between feature sets x (n1, d) and y (n2, d), exactly, without a d x d matrix square root.

    With centred features A and B the covariances are A'A / (n1 - 1) and B'B / (n2 - 1); the nonzero
    eigenvalues of their product are the squared singular values of AB' / sqrt((n1 - 1)(n2 - 1)), so
    tr sqrt(S1 S2) is the sum of those singular values. QR factors bring AB' down to at most d x d.
    """
    x, y = x.astype(np.float64), y.astype(np.float64)
    a, b = x - x.mean(axis=0), y - y.mean(axis=0)
    cross = np.linalg.qr(a, mode="r") @ np.linalg.qr(b, mode="r").T
    trace_sqrt = np.linalg.svd(cross, compute_uv=False).sum() / math.sqrt((len(x) - 1) * (len(y) - 1))
    mean_term = ((x.mean(axis=0) - y.mean(axis=0)) ** 2).sum()
    return float(mean_term + (a**2).sum() / (len(x) - 1) + (b**2).sum() / (len(y) - 1) - 2 * trace_sqrt)


def kernel_inception_distance(
    x: np.ndarray, y: np.ndarray, subset_size: int = 1000, subsets: int = 100, seed: int = 0
) -> tuple[float, float]:
    """KID (mean, std): unbiased MMD^2 with the kernel (x.y / d + 1)^3, over random subsets.

    When both sets fit in one subset there is only one estimate, and the std is 0.
    """
    size = min(len(x), len(y), subset_size)
    whole = size == len(x) == len(y)
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(1 if whole else subsets):
        xs = x if whole else x[rng.choice(len(x), size, replace=False)]
        ys = y if whole else y[rng.choice(len(y), size, replace=False)]
        kxx, kyy, kxy = ((p @ q.T / x.shape[1] + 1) ** 3 for p, q in ((xs, xs), (ys, ys), (xs, ys)))
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (size * (size - 1))
        estimates.append(within - 2 * kxy.mean())
    return float(np.mean(estimates)), float(np.std(estimates))
