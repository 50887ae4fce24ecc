"""The model contract and the registry, for every registered recipe at its tiny test config: forward at two
sizes, the base class's input checks, backward, strict save/load, named conditions, colorize."""

import inspect

import numpy as np
import pytest
import torch
from conftest import tiny_config, tiny_model

from hfcolor import Colorizer, load_model
from hfcolor.models import FAMILIES, RECIPES
from hfcolor.models.registry import register


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
    model = tiny_model(recipe.name).eval()
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
    model = tiny_model(recipe.name).train()
    output = model(*model.example_inputs(batch_size=2))
    (output.float() ** 2).mean().backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    without_gradient = [n for n, p in trainable if p.grad is None]
    assert not without_gradient, f"parameters outside the graph: {without_gradient[:5]}"


def test_save_and_load_strictly_with_identical_outputs(recipe, tmp_path):
    torch.manual_seed(0)
    model = tiny_model(recipe.name)
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


COLORIZERS = sorted(name for name, recipe in RECIPES.items() if recipe.is_colorizer)


@pytest.mark.parametrize("name", COLORIZERS)
def test_colorize_pipeline_gives_an_rgb_image(name, photo):
    torch.manual_seed(0)
    result = Colorizer(tiny_model(name))(photo)
    assert result.size == photo.size and result.mode == "RGB"
    assert np.asarray(result).std() > 0


def test_every_recipe_has_a_tiny_test_config_of_real_arguments(recipe):
    config = tiny_config(recipe.name)
    assert config, f"tests/conftest.py has no tiny config for {recipe.name}"
    assert set(config) <= set(inspect.signature(recipe.family.__init__).parameters)


def test_input_sides_are_checked_once_by_the_base_class(recipe):
    model = tiny_model(recipe.name).eval()
    assert "divisible" not in inspect.getsource(type(model).forward)  # the base class's pre-hook checks it
    if model.size_multiple == 1 and not model.fixed_size:
        return
    odd = model.input_size + 1
    inputs = model.example_inputs(batch_size=1)
    skewed = (torch.nn.functional.pad(inputs[0], (0, 1, 0, 1)), *inputs[1:])
    with pytest.raises(ValueError, match=f"divisible by {model.size_multiple}|image_size {model.input_size}"):
        model(*skewed)
    with pytest.raises(ValueError, match="multiple of|image_size"):
        tiny_model(recipe.name, image_size=odd) if model.size_multiple > 1 else model(*skewed)


def test_predict_ab_takes_only_the_named_conditions_and_options(recipe):
    if not recipe.is_colorizer:
        return
    model = tiny_model(recipe.name).eval()
    lightness = model.example_inputs(batch_size=1)[0]
    with pytest.raises(ValueError, match="has no condition or option reference"):
        model.predict_ab(lightness, reference=torch.zeros(1, 3, 4, 4))
    assert all(isinstance(name, str) and name.isidentifier() for name in (*model.conditions, *model.options))


def test_registry_refuses_misnamed_recipes_and_a_second_class_for_one_family():
    family = FAMILIES["pix2pix_unet"]
    with pytest.raises(ValueError, match="must be named"):
        register("unet.other", family, {}, "a recipe under another family's name")
    with pytest.raises(ValueError, match="registered twice"):
        register("pix2pix_unet.seed003", family, {}, "again")
    impostor = type("Impostor", (family,), {"__doc__": "same family, other class"})
    with pytest.raises(ValueError, match="belongs to Pix2PixUNet"):
        register("pix2pix_unet.impostor", impostor, {}, "a second class for one family")
    assert "pix2pix_unet.impostor" not in RECIPES
