"""hfcolor.hints: a person's points and strokes, and hints simulated from the truth, as model inputs."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2lab

from hfcolor.color import denormalize_ab
from hfcolor.hints import POINT_CELLS, Hints, colour_ab, simulate_hints

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
