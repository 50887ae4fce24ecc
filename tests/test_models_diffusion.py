"""The diffusion family: seeded sampling, several colorizations per photo, exact save/load, kept lightness."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import tiny_model

from hfcolor import load_model
from hfcolor.color import rgb_to_lab
from hfcolor.image_io import image_lightness, image_to_tensor
from hfcolor.pipelines.diffusion import DiffusionColorizationPipeline

STEPS = 2


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return tiny_model("diffusion.base").eval()


@pytest.fixture(scope="module")
def pipe(model):
    pipe = DiffusionColorizationPipeline.from_colorizer(model)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_same_seed_same_colors_other_seed_other_colors(pipe, photo):
    first, again, other = (pipe(photo, STEPS, generator=seeded(s)).images[0] for s in (0, 0, 1))
    assert np.array_equal(pixels(first), pixels(again))
    assert np.abs(pixels(first) - pixels(other)).mean() > 1


def test_several_colorizations_per_photo_at_the_photo_size(pipe, photo):
    images = pipe(photo, STEPS, generator=seeded(0), num_images_per_prompt=3).images
    assert len(images) == 3
    assert all(image.size == photo.size and image.mode == "RGB" for image in images)
    assert np.abs(pixels(images[0]) - pixels(images[1])).mean() > 1
    assert np.abs(pixels(images[1]) - pixels(images[2])).mean() > 1


def test_save_load_round_trip_samples_identically(model, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = load_model(tmp_path)
    assert type(loaded) is type(model) and loaded.config == model.config
    lightness = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        expected = model.predict_ab(lightness, generator=seeded(3))
        assert torch.equal(loaded.predict_ab(lightness, generator=seeded(3)), expected)


def test_output_keeps_the_photo_lightness(pipe, photo):
    output = pipe(photo, STEPS, generator=seeded(0)).images[0]
    lightness = rgb_to_lab(image_to_tensor(output))[0]
    assert (lightness - image_lightness(photo)[0]).abs().max() < 1.0


def test_forward_predicts_noise_for_the_trainer(model):
    ab, lightness = torch.rand(2, 2, 32, 32) * 2 - 1, torch.rand(2, 1, 32, 32) * 2 - 1
    noise, timesteps = torch.randn_like(ab), torch.tensor([0, model.noise_scheduler.config.num_train_timesteps - 1])
    noisy = model.noise_scheduler.add_noise(ab, noise, timesteps)
    with torch.no_grad():
        assert model(lightness, noisy, timesteps).shape == noise.shape
        with pytest.raises(ValueError, match="1 channel"):
            model(noisy, lightness, timesteps)


def test_importing_hfcolor_does_not_import_diffusers():
    code = "import sys, hfcolor; sys.exit('diffusers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, env={**os.environ}).returncode == 0
