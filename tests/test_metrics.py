import math

import numpy as np
import pytest
from PIL import Image
from scipy import linalg

from hfcolor import metrics


def constant(rgb, shape=(16, 16)) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), shape + (3,)).copy()


def test_identical_images(random_rgb):
    scores = metrics.score(random_rgb, random_rgb)
    assert scores["psnr"] == math.inf and scores["ssim"] == pytest.approx(1.0)
    assert scores["ab_l1"] == 0 and scores["ab_l2"] == 0 and scores["frobenius"] == 0
    assert scores["bin_accuracy_10"] == 1 and scores["colorfulness_gap"] == 0


def test_psnr_of_a_known_shift():
    true = constant((100, 100, 100))
    pred = constant((110, 110, 110))  # MSE = 100 everywhere
    assert metrics.psnr(pred, true) == pytest.approx(10 * math.log10(255**2 / 100))


def test_frobenius_by_hand():
    true = constant((0, 0, 0), (2, 2))
    pred = constant((255, 0, 0), (2, 2))  # four pixels off by 1.0 in one channel
    assert metrics.frobenius(pred, true) == pytest.approx(2.0)


def test_gray_prediction_has_no_colour_and_known_ab_error():
    true = constant((200, 40, 40))
    gray = constant((90, 90, 90))
    assert metrics.colorfulness(gray) == 0
    assert metrics.ab_l1(gray, gray) == 0
    # a*b* of the gray is (0, 0) up to 1e-3 (sRGB's white is not exactly D65's), so L1 is the mean of |a*|, |b*|
    from skimage.color import rgb2lab

    a, b = rgb2lab(true[:1, :1] / 255.0)[0, 0, 1:]
    assert metrics.ab_l1(gray, true) == pytest.approx((abs(a) + abs(b)) / 2, abs=1e-2)
    assert metrics.ab_l2(gray, true) == pytest.approx((a * a + b * b) / 2, rel=1e-3)


def test_colorfulness_by_hand():
    # pure red: rg = 255, yb = 127.5, no spread -> 0.3 * hypot(255, 127.5)
    assert metrics.colorfulness(constant((255, 0, 0))) == pytest.approx(0.3 * math.hypot(255, 127.5))
    # half black, half red: rg in {0, 255}, yb in {0, 127.5}: std 127.5 / 63.75, mean 127.5 / 63.75
    half = constant((0, 0, 0), (2, 2))
    half[0] = (255, 0, 0)
    expected = math.hypot(127.5, 63.75) + 0.3 * math.hypot(127.5, 63.75)
    assert metrics.colorfulness(half) == pytest.approx(expected)


def test_bin_accuracy_counts_both_channels():
    true = constant((200, 40, 40))
    assert metrics.bin_accuracy(true, true, 50) == 1
    gray = constant((90, 90, 90))
    # gray sits in the centre bins; a strongly red truth is in other bins for both a* and b* at 50 bins
    assert metrics.bin_accuracy(gray, true, 50) == 0


def test_ssim_drops_for_structure_change(random_rgb):
    assert metrics.ssim(255 - random_rgb, random_rgb) < 0.5


def test_shape_checks():
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(constant((0, 0, 0), (4, 4)), constant((0, 0, 0), (4, 5)))
    with pytest.raises(ValueError, match="uint8 RGB"):
        metrics.psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))


def test_frechet_distance_matches_the_matrix_square_root_formula():
    rng = np.random.default_rng(0)
    for n in (5, 40):  # fewer and more samples than dimensions
        x, y = rng.normal(size=(n, 12)), rng.normal(0.5, 2.0, size=(n + 3, 12))
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        reference = ((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
        assert metrics.frechet_distance(x, y) == pytest.approx(reference, rel=1e-6)
    assert metrics.frechet_distance(x, x) == pytest.approx(0, abs=1e-9)


def test_kid_separates_distributions():
    rng = np.random.default_rng(0)
    x, same, other = rng.normal(size=(60, 8)), rng.normal(size=(60, 8)), rng.normal(1.0, size=(60, 8))
    assert abs(metrics.kernel_inception_distance(x, same)[0]) < metrics.kernel_inception_distance(x, other)[0]
    mean, std = metrics.kernel_inception_distance(x, other, subset_size=20, subsets=10)
    assert mean > 0 and std > 0


def test_against_truth_scores_a_big_photo_reduced_and_a_tiny_one_without_ssim(photo):
    big = photo.resize((3000, 2000))
    blurred = big.resize((300, 200)).resize(big.size)
    true_colour, (same, other), size = metrics.against_truth(big, [big, blurred], max_pixels=60_000)
    assert size == (300, 200) and same["psnr"] == float("inf") and same["ssim"] == 1.0
    assert 10 < other["psnr"] < 60 and other["ssim"] < 1 and true_colour == same["colorfulness"] > 0
    _, (tiny,), size = metrics.against_truth(photo.resize((5, 4)), [photo.resize((5, 4))], max_pixels=60_000)
    assert size == (5, 4) and tiny["ssim"] is None


def test_black_and_white_means_gray_or_one_uniform_tint_never_a_colour_photo(photo, photos):
    gray = photo.convert("L")
    assert metrics.is_black_and_white(gray) and metrics.is_black_and_white(photo.convert("LA"))
    sepia = Image.blend(gray.convert("RGB"), Image.new("RGB", photo.size, (112, 66, 20)), 0.15)  # a toned print
    assert metrics.colorfulness(np.asarray(sepia)) > 2  # over the old colourfulness threshold (1.0)
    assert metrics.is_black_and_white(sepia)
    assert not any(metrics.is_black_and_white(colour) for colour in [photo, *photos])
