"""Family-specific checks for ResNet-18-Gray."""

import pytest
import torch
from conftest import tiny_model

from hfcolor.models import create_model


def test_resnet18_gray_keeps_only_the_first_two_stages_with_torchvision_keys():
    model = tiny_model("resnet18_gray.seed000")
    keys = set(model.state_dict())
    assert {"encoder.conv1.weight", "encoder.layer2.0.downsample.0.weight", "encoder.layer2.1.bn2.running_var"} <= keys
    assert not any(key.startswith(("encoder.layer3.", "encoder.layer4.", "encoder.fc.")) for key in keys)
    assert model.encoder.conv1.in_channels == 1
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder.modules())


def test_resnet18_gray_imagenet_init_copies_the_kept_stages(fake_imagenet_checkpoint):
    weights, _ = fake_imagenet_checkpoint
    encoder = create_model("resnet18_gray.seed000", imagenet_init=True).encoder.state_dict()
    assert torch.equal(encoder["conv1.weight"], weights["conv1.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(encoder["layer2.1.bn2.running_var"], weights["layer2.1.bn2.running_var"])
    assert torch.equal(encoder["layer1.0.conv2.weight"], weights["layer1.0.conv2.weight"])


@pytest.mark.parametrize("stages, factor", [(1, 4), (2, 8), (4, 32)])
def test_resnet18_gray_encoder_depth_sets_the_size_multiple(stages, factor):
    model = tiny_model("resnet18_gray.seed000", encoder_stages=stages, image_size=32)
    assert model(torch.zeros(1, 1, 2 * factor, factor)).shape == (1, 2, 2 * factor, factor)
    with pytest.raises(ValueError, match=f"divisible by {factor}"):
        model(torch.zeros(1, 1, factor + factor // 2, factor))
