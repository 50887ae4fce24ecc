"""The shared ResNet-18's load_imagenet_weights: offline, a network keeps its random init and says so."""

import logging

import torch
from conftest import tiny_model


def test_imagenet_init_offline_keeps_random_weights_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        model = tiny_model("resnet18_unet.seed003", pretrained_parts=True, imagenet_init=True)
    assert "random init" in caplog.text
    assert torch.isfinite(model.eval()(torch.zeros(1, 1, 32, 32))).all()
