"""Family-specific checks for the ResNet-18 U-Net."""

import pytest
import torch
from conftest import tiny_model

from hfcolor.models import create_model
from hfcolor.models.resnet18_unet import PixelShuffleUpsample

# A few torchvision ``resnet18`` state-dict keys, downsampling shortcuts and BatchNorm buffers included.
TORCHVISION_KEYS = [
    "conv1.weight",
    "bn1.running_mean",
    "layer1.0.conv1.weight",
    "layer2.0.downsample.0.weight",
    "layer2.0.downsample.1.running_var",
    "layer3.1.bn1.num_batches_tracked",
    "layer4.1.bn2.running_var",
]

TORCHVISION_KEY_COUNT_WITHOUT_FC = 120


def test_unet_encoder_keys_are_torchvision_resnet18_keys():
    keys = set(tiny_model("resnet18_unet.seed003").state_dict())
    encoder_keys = {key.removeprefix("encoder.") for key in keys if key.startswith("encoder.")}
    assert {f"encoder.{key}" for key in TORCHVISION_KEYS} <= keys
    assert len(encoder_keys) == TORCHVISION_KEY_COUNT_WITHOUT_FC
    assert not any(key.startswith("fc.") for key in encoder_keys)


def test_unet_imagenet_init_copies_every_encoder_weight(fake_imagenet_checkpoint):
    weights, requested = fake_imagenet_checkpoint
    model = create_model("resnet18_unet.seed003", imagenet_init=True)
    assert requested == [("timm/resnet18.tv_in1k", "model.safetensors")]
    encoder = model.encoder.state_dict()
    # A gray image seen by the RGB filters: the three input channels summed.
    assert torch.equal(encoder["conv1.weight"], weights["conv1.weight"].sum(dim=1, keepdim=True))
    for key in encoder.keys() - {"conv1.weight"}:
        assert torch.equal(encoder[key], weights[key]), key


def test_unet_pixel_shuffle_upsampling_starts_as_nearest_neighbour():
    upsample = PixelShuffleUpsample(6, 4)
    output = upsample(torch.randn(1, 6, 5, 5))
    assert output.shape == (1, 4, 10, 10)
    top_left = output[..., ::2, ::2]
    for dy, dx in [(0, 1), (1, 0), (1, 1)]:
        assert torch.allclose(output[..., dy::2, dx::2], top_left)


def test_unet_rejects_sizes_not_divisible_by_32():
    model = tiny_model("resnet18_unet.seed003")
    with pytest.raises(ValueError, match="divisible by 32"):
        model(torch.zeros(1, 1, 48, 48))
    with pytest.raises(ValueError, match="multiple of 32"):
        tiny_model("resnet18_unet.seed003", image_size=80)
