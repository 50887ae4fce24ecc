"""Colorization metrics on a predicted and a true photo, both 8-bit RGB arrays (H, W, 3).

* ``psnr`` / ``ssim``: scikit-image's, on 8-bit RGB (data range 255).
* ``ab_l1`` / ``ab_l2``: mean absolute / squared a*b* error in Lab units.
* ``frobenius``: seed 004's "closeness", ||pred - true||_F on RGB scaled to [0, 1].
* ``bin_accuracy``: seed 004 Table 2, the share of a* and b* values that fall in the same of
  ``num_bins`` bins over [-100, 100].
* ``colorfulness``: Hasler and Suesstrunk (2003), ``sigma_rgyb + 0.3 * mu_rgyb``; 0 for gray.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

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
    return float(peak_signal_noise_ratio(true, pred, data_range=255))


# SSIM compares 7x7 windows (scikit-image's default), so it needs images at least that large.
SSIM_MIN_SIDE = 7


def ssim(pred: np.ndarray, true: np.ndarray) -> float:
    _check_pair(pred, true)
    if min(true.shape[:2]) < SSIM_MIN_SIDE:
        raise ValueError(f"SSIM needs images of at least {SSIM_MIN_SIDE} px on each side; got {true.shape[:2]}")
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
