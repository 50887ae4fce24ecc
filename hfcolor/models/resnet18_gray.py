"""ResNet-18-Gray (Melas-Kyriazi and Han): the CNN baseline of report 000 (2.2).

A ResNet-18 cut after ``layer2`` (128 channels at 1/8 resolution) reads L*, and 3x3 Conv-BN-ReLU layers with 2x
deconvolutions bring it back to full size, regressing a*b* in [-1, 1] (MSE at 128 px; ``resnet18_gray.seed000``
is shipped). Input sides must be multiples of ``2**(encoder_stages + 1)``. With ``imagenet_init``, ImageNet
weights (``conv1``'s RGB filters summed) are copied into the encoder by ``fetch_pretrained_parts()``, which
:func:`hfcolor.create_model` calls for a new model; a bare constructor or a loaded model never fetches them.

Where we deviate from the original (github.com/lukemelas/Automatic-Image-Colorization; the report only has a figure):

* 4x4 stride-2 deconvolutions where it upsamples then convolves: the report's figure shows deconvolutions.
* tanh on the output, which it lacks: hfcolor's a*b* lives in [-1, 1].
* ImageNet weights (off by default) instead of its Places365 ones: the only ResNet-18 weights hfcolor fetches.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ColorizationModel
from .registry import register
from .resnet import ImageNetEncoder, ResNet18

STAGES = 4


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    conv = nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)
    return [conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def _deconv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """2x upsampling by a 4x4 stride-2 transposed convolution."""
    deconv = nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False)
    return [deconv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class ResNet18Gray(ImageNetEncoder, ColorizationModel):
    """Report 000's ResNet-18-Gray: a truncated ResNet-18 on L*, then a deconvolution decoder to a*b* (regression).

    Parameters:
        width: channels of the ResNet-18's stem (64: the real network, the only width ImageNet weights fit).
        encoder_stages: ResNet-18 stages kept after the stem, 1 to 4 (2: the original's); input sides must be
            multiples of ``2**(encoder_stages + 1)``.
        image_size: working resolution in pixels (square; 128: report 000's).
        imagenet_init: whether ``fetch_pretrained_parts()`` copies ImageNet weights into the encoder.
    """

    family = "resnet18_gray"
    predicts = "ab"

    def __init__(self, width: int = 64, encoder_stages: int = 2, image_size: int = 128, imagenet_init: bool = False):
        super().__init__()
        if not 1 <= encoder_stages <= STAGES:
            raise ValueError(f"encoder_stages must be 1 to {STAGES}, not {encoder_stages}")
        # The stem and the max-pool halve the size once each, every stage after the first once more.
        self.set_size_multiple(2 ** (encoder_stages + 1), image_size)
        self.encoder_stages = encoder_stages
        self.encoder = ResNet18(in_channels=1, width=width, num_classes=0)
        for index in range(encoder_stages + 1, STAGES + 1):
            delattr(self.encoder, f"layer{index}")
        self.imagenet_init = imagenet_init

        channels = self.encoder.channels[encoder_stages]
        layers: list[nn.Module] = []
        for _ in range(encoder_stages):
            layers += _conv_bn_relu(channels, channels) + _deconv_bn_relu(channels, channels // 2)
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, 2, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*layers)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        encoder = self.encoder
        x = encoder.maxpool(encoder.relu(encoder.bn1(encoder.conv1(lightness))))
        for index in range(1, self.encoder_stages + 1):
            x = getattr(encoder, f"layer{index}")(x)
        return self.decoder(x)


register(
    "resnet18_gray.seed000",
    ResNet18Gray,
    {"width": 64, "encoder_stages": 2, "image_size": 128},
    "ResNet-18-Gray at 128 px: a ResNet-18's stem and first two stages, then a deconvolution decoder; "
    "MSE regression (report 000, 2.2)",
    summary="accurate, muted colours; tiny and fast",
)
