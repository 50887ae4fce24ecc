"""Every registered recipe, at its tiny config: forward at two sizes, backward, strict save/load, colorize."""

import numpy as np
import pytest
import torch

from hfcolor import Colorizer, create_model, load_model
from hfcolor.models import RECIPES


@pytest.fixture(params=sorted(RECIPES))
def recipe(request):
    return RECIPES[request.param]


def outputs(model, inputs):
    """What a user gets: a*b* for a colorizer (decoded, sampled with a fixed seed), scores for a discriminator."""
    torch.manual_seed(1234)
    with torch.no_grad():
        return model.predict_ab(inputs[0]) if hasattr(model, "predict_ab") else model(*inputs)


def test_recipe_names_and_descriptions(recipe):
    family, _, name = recipe.name.partition(".")
    assert family == recipe.family.family and name
    assert recipe.description
    assert recipe.family.__doc__, f"{recipe.family.__name__} has no docstring"


def test_forward_at_two_sizes(recipe):
    torch.manual_seed(0)
    model = create_model(recipe.name, tiny=True).eval()
    sizes = [model.input_size] if model.fixed_size else [model.input_size, 2 * model.input_size]
    for size in sizes:
        inputs = model.example_inputs(batch_size=2, size=size)
        result = outputs(model, inputs)
        assert torch.isfinite(result).all()
        if recipe.is_colorizer:
            assert result.shape == (2, 2, size, size)
            assert result.abs().max() <= 1.0 + 1e-5
    if model.fixed_size:
        with pytest.raises(ValueError, match="size"):
            model(*model.example_inputs(batch_size=1, size=2 * model.input_size))


def test_backward_reaches_every_trainable_parameter(recipe):
    torch.manual_seed(0)
    model = create_model(recipe.name, tiny=True).train()
    output = model(*model.example_inputs(batch_size=2))
    (output.float() ** 2).mean().backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    without_gradient = [n for n, p in trainable if p.grad is None]
    assert not without_gradient, f"parameters outside the graph: {without_gradient[:5]}"


def test_save_and_load_strictly_with_identical_outputs(recipe, tmp_path):
    torch.manual_seed(0)
    model = create_model(recipe.name, tiny=True)
    # One training-mode pass gives BatchNorm non-default statistics, so buffers are tested too.
    with torch.no_grad():
        model.train()(*model.example_inputs(batch_size=2))
    model.eval()
    model.save_pretrained(tmp_path / "saved")
    reloaded = load_model(tmp_path / "saved")
    assert type(reloaded) is type(model) and reloaded.config == model.config
    assert not reloaded.training
    inputs = model.example_inputs(batch_size=2)
    assert torch.equal(outputs(model, inputs), outputs(reloaded, inputs))


def test_colorize_pipeline_gives_an_rgb_image(recipe, photo):
    if not recipe.is_colorizer:
        pytest.skip(f"{recipe.name} is a discriminator: it scores colorizations, it does not make them")
    torch.manual_seed(0)
    result = Colorizer(create_model(recipe.name, tiny=True))(photo)
    assert result.size == photo.size and result.mode == "RGB"
    assert np.asarray(result).std() > 0
