"""The photo-resolution colour path (NumPy + OpenCV) against the torch reference and scikit-image."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import color as skcolor

from hfcolor import color, photo_color


def exact_max_chroma(lightness: torch.Tensor, hue: torch.Tensor, steps: int = 30) -> torch.Tensor:
    """The sRGB chroma limit by bisection in float64, for each (L*, hue in radians) pair."""
    low, high = torch.zeros_like(lightness), torch.full_like(lightness, 250.0)
    for _ in range(steps):
        middle = (low + high) / 2
        lab = torch.stack([lightness, middle * hue.cos(), middle * hue.sin()])[:, None]
        fits = color._in_gamut(color._lab_to_linear_rgb(lab), tolerance=0.0)[0, 0]
        low, high = torch.where(fits, middle, low), torch.where(fits, high, middle)
    return low


def random_lab(count: int, seed: int = 0, chroma: float = 150.0) -> torch.Tensor:
    """(3, 1, count) float64 L*a*b*, most of it far outside sRGB, L* up to and including 0 and 100."""
    rng = np.random.default_rng(seed)
    lightness = rng.uniform(0, 100, count)
    lightness[:4] = [0, 100, 0, 100]
    ab = rng.uniform(-chroma, chroma, (2, count))
    return torch.from_numpy(np.stack([lightness, *ab]))[:, None]


def test_the_chroma_table_keeps_nearly_all_the_chroma_sRGB_allows_and_no_more():
    lab = random_lab(4000)
    exact = exact_max_chroma(lab[0, 0], torch.atan2(lab[2, 0], lab[1, 0]))
    fitted = color.fit_to_gamut(lab)
    assert (fitted[0] == lab[0]).all() and torch.allclose(fitted[1] * lab[2], fitted[2] * lab[1])  # L*, hue kept
    achievable = torch.minimum(exact, torch.hypot(lab[1, 0], lab[2, 0]))
    assert (torch.hypot(fitted[1, 0], fitted[2, 0]) >= achievable * 0.98 - 1e-3).all()
    # Between table rows the limit can overshoot a little near the yellow cusp: 0.2% of full scale
    # in linear RGB at most, which the final conversion clips with no visible change of L*.
    linear = color._lab_to_linear_rgb(fitted)
    assert linear.min() > -2e-3 and linear.max() < 1 + 2e-3


@pytest.mark.parametrize("chroma", [70.0, 0.0])
@pytest.mark.parametrize("lightness", [0.0, 100.0])
def test_black_and_white_lose_all_chroma(lightness, chroma):
    lab = torch.tensor([lightness, chroma, -chroma], dtype=torch.float64).view(3, 1, 1).expand(3, 4, 4)
    assert color.fit_to_gamut(lab)[1:].abs().max() < 1e-9
    ab = np.full((2, 2, 2), chroma, dtype=np.float32)  # no chroma: 0 / 0 in the fit (it gave white for black)
    rgb = photo_color.merge(np.full((6, 5), lightness, dtype=np.float32), ab)
    assert (rgb == (0 if lightness == 0 else 255)).all()
    beyond = np.full((6, 5), -5.0 if lightness == 0 else 105.0, dtype=np.float32)  # as if clipped to 0 or 100
    assert np.array_equal(photo_color.merge(beyond, ab), rgb)


def test_photo_lightness_equals_the_reference(random_rgb):
    pixels = random_rgb.copy()
    pixels[0, :2] = [[0, 0, 0], [255, 255, 255]]
    reference = color.rgb_to_lightness(torch.from_numpy(pixels).permute(2, 0, 1).double() / 255)[0].numpy()
    assert np.abs(photo_color.photo_lightness(pixels) - reference).max() < 1e-3
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every level, through the one-channel table
    rgb_of_gray = np.repeat(gray[..., None], 3, axis=2)
    assert np.abs(photo_color.photo_lightness(gray) - photo_color.photo_lightness(rgb_of_gray)).max() < 1e-4
    with pytest.raises(ValueError, match="uint8"):
        photo_color.photo_lightness(pixels.astype(np.float32))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_upsampling_samples_where_torch_does(mode):
    ab = torch.randn(1, 2, 7, 9)
    expected = F.interpolate(ab, size=(50, 70), mode=mode, align_corners=False)[0].permute(1, 2, 0).numpy()
    got = np.stack(photo_color.upsample_ab(ab[0].permute(1, 2, 0).numpy(), 50, 70, mode), axis=-1)
    assert np.abs(got - expected).max() < 1e-4
    with pytest.raises(ValueError, match="upsampling"):
        photo_color.upsample_ab(got, 60, 80, "nearest")


def test_merge_agrees_with_the_torch_reference_and_scikit_image():
    rng = np.random.default_rng(1)
    lightness = rng.uniform(0, 100, (150, 90)).astype(np.float32)
    ab = rng.uniform(-110, 110, (150, 90, 2)).astype(np.float32)  # full resolution: no resize in between
    rgb = photo_color.merge(lightness, ab).astype(np.float64)

    lab = torch.from_numpy(np.concatenate([lightness[None], ab.transpose(2, 0, 1)]).astype(np.float64))
    fitted = color.fit_to_gamut(lab)
    reference = np.round(color.lab_to_rgb(fitted).permute(1, 2, 0).numpy() * 255)
    assert np.abs(rgb - reference).max() <= 2 and (rgb != reference).mean() < 0.01
    assert np.abs(skcolor.lab2rgb(fitted.permute(1, 2, 0).numpy()) * 255 - reference).max() <= 0.5
    # the photo's lightness survives, up to 8-bit rounding
    assert np.abs(skcolor.rgb2lab(rgb / 255)[..., 0] - lightness).max() < 0.5


def test_stripes_on_threads_give_the_same_photo(monkeypatch):
    monkeypatch.setattr(photo_color, "STRIPE_ROWS", 8)
    monkeypatch.setattr(photo_color, "PARALLEL_MIN_PIXELS", 0)
    rng = np.random.default_rng(2)
    lightness = rng.uniform(0, 100, (61, 40)).astype(np.float32)
    ab = rng.uniform(-80, 80, (5, 4, 2)).astype(np.float32)
    one = photo_color.merge(lightness, ab, threads=1)
    assert np.array_equal(one, photo_color.merge(lightness, ab, threads=3))
    pixels = rng.integers(0, 256, (61, 40, 3), dtype=np.uint8)
    assert np.array_equal(photo_color.photo_lightness(pixels, 1), photo_color.photo_lightness(pixels, 3))
