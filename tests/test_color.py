import warnings

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from hfcolor import color

EDGE_RGB = np.array(
    [
        [0, 0, 0],
        [1, 1, 1],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [0, 1, 1],
        [1, 0, 1],
        [0.5, 0.5, 0.5],
        [0.002, 0.003, 0.001],
    ],
    dtype=np.float64,
)


def as_tensor(hwc: np.ndarray, dtype) -> torch.Tensor:
    return torch.from_numpy(hwc).permute(2, 0, 1).to(dtype)


def as_numpy(chw: torch.Tensor) -> np.ndarray:
    return chw.permute(1, 2, 0).double().numpy()


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-8), (torch.float32, 1e-4)])
def test_rgb_to_lab_matches_skimage(dtype, tolerance):
    rng = np.random.default_rng(1)
    rgb = np.concatenate([rng.random((30, 10, 3)), EDGE_RGB.reshape(1, 10, 3)])
    expected = skcolor.rgb2lab(rgb)
    assert np.abs(as_numpy(color.rgb_to_lab(as_tensor(rgb, dtype))) - expected).max() < tolerance


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-8), (torch.float32, 1e-4)])
def test_lab_to_rgb_matches_skimage_including_out_of_gamut(dtype, tolerance):
    rng = np.random.default_rng(2)
    lab = np.stack(
        [rng.uniform(0, 100, (40, 20)), rng.uniform(-128, 128, (40, 20)), rng.uniform(-128, 128, (40, 20))], -1
    )
    lab[0, :4] = [[0, 0, 0], [100, 0, 0], [50, 127, -127], [100, -128, 127]]  # black, white, far out of gamut
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about the negative Z it clips
        expected = skcolor.lab2rgb(lab)
    result = color.lab_to_rgb(as_tensor(lab, dtype))
    assert not torch.isnan(result).any()
    assert result.min() >= 0 and result.max() <= 1
    assert np.abs(as_numpy(result) - expected).max() < tolerance


def test_edge_colours_round_trip():
    rgb = as_tensor(EDGE_RGB.reshape(2, 5, 3), torch.float64)
    assert torch.allclose(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-10)
    lab = color.rgb_to_lab(rgb)
    assert lab[0, 0, 0] == pytest.approx(0, abs=1e-9)  # black
    assert lab[0, 0, 1] == pytest.approx(100, abs=1e-4)  # white


def test_batched_and_differentiable():
    rgb = torch.rand(4, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    lab = color.rgb_to_lab(rgb)
    assert lab.shape == (4, 3, 8, 8)
    assert torch.autograd.gradcheck(color.rgb_to_lab, (rgb[:1, :, :2, :2].detach().requires_grad_(),))
    back = color.lab_to_rgb(lab)
    back.sum().backward()
    assert torch.isfinite(rgb.grad).all()
    # gradients stay finite at the piecewise boundaries and at zero
    edge = torch.zeros(1, 3, 1, 2, dtype=torch.float64, requires_grad=True)
    color.lab_to_rgb(color.rgb_to_lab(edge)).sum().backward()
    assert torch.isfinite(edge.grad).all()


def test_large_inputs_convert_in_cache_sized_pieces_with_the_same_result_and_gradients(monkeypatch):
    rgb = torch.rand(2, 3, 24, 20, dtype=torch.float64, requires_grad=True)
    whole_lab = color.rgb_to_lab(rgb)
    whole_rgb = color.lab_to_rgb(color.fit_to_gamut(whole_lab * 1.3))
    (whole_grad,) = torch.autograd.grad(whole_rgb.sum(), rgb)
    monkeypatch.setattr(color, "_PIECE_PIXELS", 64)  # stripes of 3 rows, the last one shorter
    pieces_lab = color.rgb_to_lab(rgb)
    pieces_rgb = color.lab_to_rgb(color.fit_to_gamut(pieces_lab * 1.3))
    (pieces_grad,) = torch.autograd.grad(pieces_rgb.sum(), rgb)
    assert torch.equal(pieces_lab, whole_lab)
    assert torch.allclose(pieces_rgb, whole_rgb, atol=1e-12)
    assert torch.allclose(pieces_grad, whole_grad, atol=1e-10)
    assert torch.allclose(color.rgb_to_lightness(rgb[0]), whole_lab[0, :1], atol=1e-10)


def test_lightness_shortcut_equals_full_conversion():
    rgb = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    assert torch.allclose(color.rgb_to_lightness(rgb), color.rgb_to_lab(rgb)[:, :1], atol=1e-10)


def test_rejects_wrong_shapes_and_integer_tensors():
    with pytest.raises(ValueError, match="3 channels"):
        color.rgb_to_lab(torch.rand(4, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        color.rgb_to_lab(torch.zeros(3, 2, 2, dtype=torch.uint8))


def test_normalisation_round_trip_and_range():
    # Inside the gamut by a margin: the gamut fit's interpolated table may take up to 2% of the chroma
    # of a colour on its edge (a channel at 0 or 1), so only those colours round-trip exactly.
    rgb = 0.05 + 0.9 * torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lightness, ab = color.rgb_to_model_space(rgb)
    assert lightness.min() >= -1 and lightness.max() <= 1 and ab.abs().max() <= 1
    assert torch.allclose(color.model_space_to_rgb(lightness, ab), rgb, atol=1e-8)
    assert color.normalize_lightness(torch.tensor(0.0)) == -1 and color.normalize_lightness(torch.tensor(100.0)) == 1


def test_fit_to_gamut_keeps_lightness_and_hue():
    lab = torch.tensor([60.0, 120.0, -90.0], dtype=torch.float64).view(3, 1, 1)
    fitted = color.fit_to_gamut(lab)
    assert fitted[0] == lab[0]
    assert torch.allclose(fitted[1] / fitted[2], lab[1] / lab[2])  # same hue angle
    assert 0 < fitted[1, 0, 0] < 120
    assert torch.allclose(color.rgb_to_lab(color.lab_to_rgb(fitted))[0], lab[0], atol=0.05)


@pytest.mark.parametrize("num_bins", [10, 30, 50])
def test_uniform_bins_round_trip(num_bins):
    bins = color.UniformABBins(num_bins)
    ab = torch.empty(2, 2, 6, 6).uniform_(-100, 100)
    index = bins.index(ab)
    assert index.min() >= 0 and index.max() < num_bins
    one_hot = torch.nn.functional.one_hot(index, num_bins).permute(0, 1, 4, 2, 3).reshape(2, 2 * num_bins, 6, 6).float()
    decoded = bins.decode(one_hot * 50, how="mode")
    assert (decoded - ab).abs().max() <= 100 / num_bins + 1e-5  # within half a bin width
    assert bins.index(torch.full((1, 2, 1, 1), 1e3)).eq(num_bins - 1).all()  # clamped, not out of range


def test_uniform_bins_real_range_and_soft_encoding():
    (a_low, a_high), _ = color.SRGB_AB_RANGE
    bins = color.UniformABBins(30, a_low, a_high)
    ab = torch.empty(1, 2, 4, 4).uniform_(a_low, a_high)
    soft = bins.soft_encode(ab)
    assert soft.shape == (1, 60, 4, 4)
    assert torch.allclose(soft[:, :30].sum(1), torch.ones(1, 4, 4)) and torch.allclose(
        soft[:, 30:].sum(1), torch.ones(1, 4, 4)
    )
    decoded = bins.decode(torch.log(soft.clamp_min(1e-12)), how="mean")
    assert (decoded - ab).abs().max() < (a_high - a_low) / 30


def test_gamut_grid_is_restricted_and_decodes():
    torch.manual_seed(0)  # unseeded, a colour exactly between two centres made mode and annealed mean differ
    bins = color.GamutABBins()
    assert 250 < bins.num_classes < 330  # Zhang et al. report 313 in-gamut cells of size 10
    assert bins.centers.abs().max() < 110
    # every real sRGB colour's a*b* is within a cell's reach of some centre
    ab = color.rgb_to_lab(torch.rand(3, 16, 16, dtype=torch.float64))[1:]
    nearest = bins.centers[bins.index(ab)].permute(2, 0, 1)
    assert (nearest - ab).abs().max() <= 5 + 1e-6
    soft = bins.soft_encode(ab[None])
    assert soft.shape == (1, bins.num_classes, 16, 16)
    assert torch.allclose(soft.sum(1), torch.ones(1, 16, 16, dtype=torch.float64))
    logits = torch.log(soft.clamp_min(1e-12))
    assert (bins.decode(logits, how="mean")[0] - ab).abs().max() < 6
    assert torch.allclose(
        bins.decode(logits, how="annealed_mean", temperature=1.0), bins.decode(logits, how="mean"), atol=1e-6
    )
    assert torch.allclose(
        bins.decode(logits, how="annealed_mean", temperature=1e-4), bins.decode(logits, how="mode"), atol=1e-3
    )
    with pytest.raises(ValueError, match="unknown decoding"):
        bins.decode(logits, how="median")


def test_rebalancing_weights_favour_rare_colours():
    bins = color.GamutABBins()
    counts = torch.ones(bins.num_classes)
    counts[0] = 1000.0
    weights = bins.rebalancing_weights(counts)
    assert weights[0] < weights[1:].min()
