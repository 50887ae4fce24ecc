"""ResNet-18 U-Net, the generator of seed 003's improved cGAN (section 3.4).

Seed 003 says only that the pix2pix U-Net's encoder becomes an ImageNet-pretrained ResNet-18 and
that the U-Net is built with fastai's ``DynamicUnet``; its source tutorial builds it as
``DynamicUnet(create_body(resnet18, n_in=1, cut=-2), 2, (256, 256))``, and its images are 256 px
like its base pix2pix model. This module rebuilds that network with fastai's defaults (no blur, no
self-attention, no normalisation inside the decoder):

* encoder: ResNet-18 on 1-channel L* (``encoder.*`` keys are torchvision's, so ImageNet weights load
  with the RGB filters of ``conv1`` summed, as fastai's ``create_body`` does for one channel);
* middle: BatchNorm + ReLU on the 1/32 features, then two 3x3 conv-ReLU layers (C -> 2C -> C);
* four U-Net blocks, deepest first, each: upsample 2x by pixel shuffle (1x1 conv to 4x the channels,
  ReLU, ``PixelShuffle``, ICNR-initialised so it starts as a nearest upsampling), BatchNorm the
  skip, concatenate, ReLU, two 3x3 conv-ReLU layers; the skips are ``layer3``, ``layer2``,
  ``layer1`` and the stem, and the last block halves its width;
* a last pixel shuffle to full resolution, the L* input concatenated back ("last cross"), a residual
  block and a 1x1 conv to a*b*.

Decoder convolutions start from Kaiming-normal weights with zero biases, as fastai initialises
them. The one change: fastai ends at the 1x1 conv, unbounded; here a tanh follows, so the output is
a*b* in [-1, 1] like every ``"ab"`` model.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ColorizationModel
from .registry import register, register_family
from .resnet import ResNet18, load_imagenet_weights

DOWNSAMPLING = 32  # ResNet-18's deepest features are at 1/32 resolution


def _conv(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Conv2d:
    """A decoder convolution, initialised as fastai does: Kaiming-normal weights, zero bias."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    nn.init.zeros_(conv.bias)
    return conv


def _conv_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(_conv(in_channels, out_channels), nn.ReLU(inplace=True))


def _icnr_(weight: torch.Tensor, scale: int) -> None:
    """Initialise a conv feeding ``PixelShuffle(scale)`` so each output pixel's scale**2 children start equal.

    That makes the upsampling start as a nearest-neighbour one, free of checkerboard artefacts (Aitken et al. 2017).
    """
    out_channels, in_channels, height, width = weight.shape
    subkernel = torch.empty(out_channels // scale**2, in_channels, height, width)
    nn.init.kaiming_normal_(subkernel)
    with torch.no_grad():
        weight.copy_(subkernel.repeat_interleave(scale**2, dim=0))


class PixelShuffleUpsample(nn.Sequential):
    """2x upsampling: 1x1 conv to 4x the channels, ReLU, pixel shuffle (fastai's ``PixelShuffle_ICNR``)."""

    def __init__(self, in_channels: int, out_channels: int):
        conv = nn.Conv2d(in_channels, out_channels * 4, 1)
        super().__init__(conv, nn.ReLU(inplace=True), nn.PixelShuffle(2))
        _icnr_(conv.weight, 2)
        nn.init.zeros_(conv.bias)


class UnetBlock(nn.Module):
    def __init__(self, up_channels: int, skip_channels: int, halve_output: bool):
        super().__init__()
        self.upsample = PixelShuffleUpsample(up_channels, up_channels // 2)
        self.skip_norm = nn.BatchNorm2d(skip_channels)
        channels = up_channels // 2 + skip_channels
        self.out_channels = channels // 2 if halve_output else channels
        self.conv1 = _conv_relu(channels, self.out_channels)
        self.conv2 = _conv_relu(self.out_channels, self.out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.relu(torch.cat([self.upsample(x), self.skip_norm(skip)], dim=1))
        return self.conv2(self.conv1(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv_relu(channels, channels)
        self.conv2 = _conv(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(self.conv1(x)))


@register_family
class ResNet18UNet(ColorizationModel):
    """fastai's DynamicUnet on a ResNet-18 encoder: L* in, a*b* out (regression)."""

    family = "resnet18_unet"
    predicts = "ab"

    def __init__(self, width: int = 64, image_size: int = 256, imagenet_init: bool = False):
        super().__init__()
        if image_size % DOWNSAMPLING:
            raise ValueError(f"image_size {image_size} must be a multiple of {DOWNSAMPLING}")
        self.encoder = ResNet18(in_channels=1, width=width, num_classes=0)
        if imagenet_init:
            load_imagenet_weights(self.encoder)

        stem, *stages = self.encoder.channels
        deepest = stages[-1]
        self.middle = nn.Sequential(
            nn.BatchNorm2d(deepest),
            nn.ReLU(inplace=True),
            _conv_relu(deepest, 2 * deepest),
            _conv_relu(2 * deepest, deepest),
        )
        skip_channels = [stages[2], stages[1], stages[0], stem]
        self.up_blocks = nn.ModuleList()
        channels = deepest
        for index, skip in enumerate(skip_channels):
            block = UnetBlock(channels, skip, halve_output=index == len(skip_channels) - 1)
            self.up_blocks.append(block)
            channels = block.out_channels
        self.final_upsample = PixelShuffleUpsample(channels, channels)
        self.refine = ResidualBlock(channels + 1)
        self.head = _conv(channels + 1, 2, kernel_size=1)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        if lightness.shape[-1] % DOWNSAMPLING or lightness.shape[-2] % DOWNSAMPLING:
            raise ValueError(
                f"{type(self).__name__} needs height and width divisible by {DOWNSAMPLING}; "
                f"got {tuple(lightness.shape[-2:])}"
            )
        *skips, deepest = self.encoder.features(lightness)
        x = self.middle(deepest)
        for block, skip in zip(self.up_blocks, reversed(skips)):
            x = block(x, skip)
        x = torch.cat([self.final_upsample(x), lightness], dim=1)
        return torch.tanh(self.head(self.refine(x)))


_TINY = {"width": 8, "image_size": 32}

register(
    "resnet18_unet.seed003",
    ResNet18UNet,
    {"width": 64, "image_size": 256},
    "fastai-style U-Net on a ResNet-18 encoder at 256 px, seed 003's improved cGAN generator (3.4); "
    "pretrain the encoder with imagenet_init=True, then the whole net with L1, then train as a cGAN",
    tiny=_TINY,
)
register(
    "resnet18_unet.seed003_small",
    ResNet18UNet,
    {"width": 16, "image_size": 64},
    "seed 003's ResNet-18 U-Net at quarter width (2M parameters) and 64 px: the compact one hfcolor ships",
    tiny=_TINY,
)
