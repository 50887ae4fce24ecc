"""ResNet-18-Gray (Melas-Kyriazi and Han), the CNN baseline of seed 000 (section 2.2).

Seed 000 takes "ResNet-18-Gray from [9]" (128x128 L* in, a*b* out, trained with MSE) and shows only a
figure: convolutional layers, then deconvolutional ones. The cited original (the authors' code,
github.com/lukemelas/Automatic-Image-Colorization) keeps the first six children of a gray ResNet-18,
the stem and ``layer1``-``layer2`` (128 channels at 1/8 resolution, its "midlevel features"), then
alternates 3x3 conv-BN-ReLU layers with three 2x nearest upsamplings back to full size.

Here, faithfully: the same truncated ResNet-18 (``encoder_stages=2``; the later stages are removed,
not left unused) on a 1-channel L*, with the RGB filters of ``conv1`` summed when ImageNet weights
are loaded, as the original does. Where the original upsamples, this decoder uses 4x4 stride-2
transposed convolutions, the "deconvolutional layers" of seed 000's figure: each of the original's
"upsample, conv" pairs becomes one deconvolution with the same output width (128 -> 64 -> 32 -> 2),
the remaining 3x3 convolutions stay, and the output goes through tanh (a*b* in [-1, 1]) where the
original has none. The original starts from Places365 weights; hfcolor offers ImageNet ones
(``imagenet_init``), the only ResNet-18 weights :mod:`hfcolor.models.resnet` knows.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ColorizationModel
from .registry import register, register_family
from .resnet import ResNet18, load_imagenet_weights

STAGES = 4


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    conv = nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)
    return [conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def _deconv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """2x upsampling by a 4x4 stride-2 transposed convolution."""
    deconv = nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False)
    return [deconv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


@register_family
class ResNet18Gray(ColorizationModel):
    """A truncated ResNet-18 on L*, then a deconvolution decoder to a*b* (regression)."""

    family = "resnet18_gray"
    predicts = "ab"

    def __init__(self, width: int = 64, encoder_stages: int = 2, image_size: int = 128, imagenet_init: bool = False):
        super().__init__()
        if not 1 <= encoder_stages <= STAGES:
            raise ValueError(f"encoder_stages must be 1 to {STAGES}, not {encoder_stages}")
        # The stem and the max-pool halve the size once each, every stage after the first once more.
        self.downsampling = 2 ** (encoder_stages + 1)
        if image_size % self.downsampling:
            raise ValueError(f"image_size {image_size} must be a multiple of {self.downsampling}")
        self.encoder_stages = encoder_stages
        self.encoder = ResNet18(in_channels=1, width=width, num_classes=0)
        for index in range(encoder_stages + 1, STAGES + 1):
            delattr(self.encoder, f"layer{index}")
        if imagenet_init:
            load_imagenet_weights(self.encoder)

        channels = self.encoder.channels[encoder_stages]
        layers: list[nn.Module] = []
        for _ in range(encoder_stages):
            layers += _conv_bn_relu(channels, channels) + _deconv_bn_relu(channels, channels // 2)
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, 2, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*layers)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        if lightness.shape[-1] % self.downsampling or lightness.shape[-2] % self.downsampling:
            raise ValueError(
                f"{type(self).__name__} needs height and width divisible by {self.downsampling}; "
                f"got {tuple(lightness.shape[-2:])}"
            )
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
    "MSE regression (seed 000, 2.2)",
    tiny={"width": 8, "image_size": 32},
)
