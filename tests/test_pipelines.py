import json
import os
import subprocess
import sys
import warnings
from unittest.mock import ANY as ANY_TEXT

import numpy as np
import pytest
import torch
from conftest import needs_inception, tiny_model
from PIL import Image

from hfcolor import CheckpointError, Colorizer, hardware, load_model
from hfcolor.color import rgb_to_lab
from hfcolor.image_io import image_lightness, image_to_tensor
from hfcolor.pipelines import model_input


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    model = tiny_model("pix2pix_unet.seed003")
    # Train-mode BatchNorm statistics make the untrained net predict visible colour, not ~0.
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 1, 32, 32))
    return model.eval()


def lightness(image: Image.Image) -> torch.Tensor:
    return rgb_to_lab(image_to_tensor(image).double())[0]


@pytest.mark.parametrize("size", [(97, 61), (33, 200)])
def test_output_keeps_size_and_lightness(unet, photo, size):
    source = photo.resize(size)
    result = Colorizer(unet)(source)
    assert result.size == source.size and result.mode == "RGB"
    assert (lightness(result) - lightness(source)).abs().max() <= 1.0
    assert np.asarray(result).std(axis=2).mean() > 0.5  # it did add colour


def test_gray_input_gets_colour_and_keeps_lightness(unet, photo):
    gray = photo.convert("L")
    result = Colorizer(unet)(gray)
    assert result.size == gray.size
    assert (lightness(result) - lightness(gray.convert("RGB"))).abs().max() <= 1.0
    # a gray photo is read as one channel (a sixth of the work) with the colours of its RGB copy
    assert np.abs(np.asarray(result, dtype=int) - np.asarray(Colorizer(unet)(gray.convert("RGB")))).max() <= 1


def test_batches_keep_order(unet, photos):
    colorizer = Colorizer(unet)
    together = colorizer(photos, batch_size=3)
    assert isinstance(together, list) and len(together) == len(photos)
    for image, result in zip(photos, together):
        assert np.array_equal(np.asarray(result), np.asarray(colorizer(image)))


def test_saved_model_reloads_with_identical_colorizations(unet, photo, tmp_path):
    unet.save_pretrained(tmp_path / "unet")
    assert {p.name for p in (tmp_path / "unet").iterdir()} >= {"config.json", "model.safetensors", "README.md"}
    reloaded = Colorizer.from_pretrained(str(tmp_path / "unet"))
    assert np.array_equal(np.asarray(reloaded(photo)), np.asarray(Colorizer(unet)(photo)))
    card = (tmp_path / "unet" / "README.md").read_text()
    assert "pix2pix_unet" in card and "library_name: hfcolor" in card


def test_shipped_weights_are_found_by_name(unet, photo, tmp_path, monkeypatch):
    unet.save_pretrained(tmp_path / "weights" / "pix2pix_unet.seed003")
    monkeypatch.setenv("HFCOLOR_WEIGHTS_DIR", str(tmp_path / "weights"))
    assert Colorizer.from_pretrained("pix2pix_unet.seed003")(photo).size == photo.size


def test_hub_id_loads_from_the_local_cache(unet, photo, tmp_path):
    """The real Hub code path, served offline from a cache laid out as huggingface_hub writes it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--someone--tiny-unet"
    unet.save_pretrained(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    colorizer = Colorizer.from_pretrained("someone/tiny-unet", cache_dir=str(tmp_path / "cache"))
    assert np.array_equal(np.asarray(colorizer(photo)), np.asarray(Colorizer(unet)(photo)))


def test_unknown_names_and_wrong_checkpoints_are_refused(unet, tmp_path):
    with pytest.raises(CheckpointError, match="not a model folder"):
        load_model("no-such-model")
    with pytest.raises(CheckpointError, match="no trained weights"):
        load_model("pix2pix_unet.seed000")
    folder = tmp_path / "wrong"
    unet.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "base_channels": 8}))
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps({**config, "family": "no_such_family"}))
    with pytest.raises(CheckpointError, match="no_such_family"):
        load_model(folder)


def test_pickled_weights_are_never_loaded(unet, tmp_path):
    folder = tmp_path / "pickled"
    unet.save_pretrained(folder)
    torch.save(unet.state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="safetensors only"):
        load_model(folder)


def test_extra_keys_fail_strict_loading(unet, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "extra"
    unet.save_pretrained(folder)
    weights = load_file(folder / "model.safetensors")
    weights["stray.weight"] = torch.zeros(1)
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="stray"):
        load_model(folder)


def test_option_checks(unet):
    with pytest.raises(ValueError, match="upsampling"):
        Colorizer(unet, upsampling="nearest")
    with pytest.raises(ValueError, match="float16 needs a GPU"):
        Colorizer(unet, device="cpu", dtype=torch.float16)


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_autocast_on_cpu_warns_where_it_is_emulated(unet, photo, monkeypatch, native):
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Colorizer(unet, device="cpu", dtype=torch.bfloat16)(photo)
    assert result.size == photo.size
    assert [str(w.message) for w in caught if "bfloat16" in str(w.message)] == ([] if native else [ANY_TEXT])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_gpu_half_precision(unet, photo):
    result = Colorizer(unet, device="cuda", dtype=torch.float16)(photo)
    assert result.size == photo.size


def test_uncached_hub_id_fails_fast_when_the_hub_is_unreachable(tmp_path, monkeypatch):
    from hfcolor.models import registry

    monkeypatch.setattr(registry, "hub_unreachable_reason", lambda: "cannot reach huggingface.co (test)")
    with pytest.raises(
        CheckpointError, match=r"someone/missing: not in the local Hub cache.*cannot reach huggingface\.co"
    ):
        load_model("someone/missing", cache_dir=str(tmp_path))


@pytest.mark.parametrize("not_an_image", [None, 5, 2.5, object()])
def test_colorizer_says_what_it_takes_when_given_something_else(not_an_image):
    colorizer = Colorizer(tiny_model("resnet18_gray.seed000"))
    with pytest.raises(TypeError, match="cannot read an image from .*: pass a path, bytes"):
        colorizer(not_an_image)


@pytest.mark.parametrize("level", [0, 255])
def test_black_and_white_photos_stay_black_and_white(unet, level):
    """At L* 0 and 100 every colour is out of gamut: the worst case of a gamut fit, still exact."""
    image = Image.new("RGB", (300, 200), (level, level, level))
    assert np.array_equal(np.asarray(Colorizer(unet)(image)), np.asarray(image))


def test_importing_hfcolor_asks_openmp_not_to_spin_unless_told_otherwise():
    check = "import os, hfcolor; print(os.environ['OMP_WAIT_POLICY'])"
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = [sys.executable, "-c", check]
    assert subprocess.run(run, check=True, env=environment, capture_output=True, text=True).stdout.strip() == "PASSIVE"
    environment["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run(run, check=True, env=environment, capture_output=True, text=True).stdout.strip() == "ACTIVE"


@pytest.fixture(scope="module")
def sampler():
    torch.manual_seed(0)
    return Colorizer(tiny_model("diffusion.small"))


def test_a_sampling_model_gives_samples_that_keep_their_colours_per_seed(sampler, photo):
    three = sampler(photo, samples=3, seed=5)
    assert len(three) == 3 and all(image.size == photo.size for image in three)
    assert not np.array_equal(np.asarray(three[0]), np.asarray(three[1]))  # different noise, different colours
    np.testing.assert_array_equal(np.asarray(sampler(photo, seed=5)), np.asarray(three[0]))
    np.testing.assert_array_equal(np.asarray(sampler(photo, samples=2, seed=6)[0]), np.asarray(three[1]))
    per_photo = sampler([photo, photo.rotate(90)], samples=2, seed=5)
    assert [len(samples) for samples in per_photo] == [2, 2]
    np.testing.assert_array_equal(np.asarray(per_photo[0][1]), np.asarray(three[1]))


def test_sampler_options_pass_through_the_same_call(sampler, photo):
    one_step = np.asarray(sampler(photo, seed=0, num_inference_steps=1))
    two_steps = np.asarray(sampler(photo, seed=0, num_inference_steps=2))
    assert not np.array_equal(one_step, two_steps)
    np.testing.assert_array_equal(np.asarray(Colorizer(sampler.model, num_inference_steps=1)(photo, seed=0)), one_step)


def test_samples_and_unknown_inputs_are_refused_by_name(unet, photo):
    with pytest.raises(ValueError, match="samples must be 1 for a model that does not sample"):
        Colorizer(unet)(photo, samples=2)
    with pytest.raises(ValueError, match="has no option num_inference_steps"):
        Colorizer(unet)(photo, num_inference_steps=3)
    with pytest.raises(ValueError, match="has no condition hints"):
        Colorizer(unet).predict([photo], conditions={"hints": torch.zeros(1, 2, 8, 8)})


@needs_inception
def test_conditions_reach_the_model_by_name(photo):
    torch.manual_seed(0)
    model = tiny_model("deep_koalarization.seed001_inception_small").eval()
    with torch.no_grad():
        model.fusion[0].weight.mul_(50)  # an untrained model barely hears its embedding; make it loud
    colorizer = Colorizer(model)
    other = photo.transpose(Image.Transpose.FLIP_TOP_BOTTOM)

    def embedding_of(image):
        with torch.no_grad():
            return model.image_embedding(model_input([image_lightness(image)], model.input_size))

    ((_, own),) = colorizer.predict([photo])
    ((_, same),) = colorizer.predict([photo], conditions={"embedding": embedding_of(photo)})
    ((_, swapped),) = colorizer.predict([photo], conditions={"embedding": embedding_of(other)})
    torch.testing.assert_close(same, own, atol=1e-5, rtol=0)  # the given one replaces what it would compute
    assert (swapped - own).abs().max() > 1e-3
