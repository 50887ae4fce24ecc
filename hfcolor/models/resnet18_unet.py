"""ResNet-18 U-Net: report 003's improved cGAN generator (3.4), fastai's ``DynamicUnet`` rebuilt in plain PyTorch.

Built as the report's source tutorial builds it, ``DynamicUnet(create_body(resnet18, n_in=1, cut=-2), 2,
(256, 256))``, with fastai's defaults: a ResNet-18 encoder on L*, four U-Net blocks with ICNR-initialised
pixel-shuffle upsampling over skips from ``layer3`` down to the stem, L* concatenated back before a residual
block, and a 1x1 convolution to a*b* in [-1, 1]. Input sides must be multiples of 32. With ``imagenet_init``,
ImageNet weights (``conv1``'s RGB filters summed, as fastai does) are copied into the encoder by
``fetch_pretrained_parts()``, which :func:`hfcolor.create_model` calls for a new model and loading never does.

Where we deviate from the report and fastai:

* tanh after the last convolution, which fastai leaves unbounded: a*b* in [-1, 1] like every ``"ab"`` model.
* ``imagenet_init`` is off in the recipes, on in ``seed003_resnet18_unet_pretrain.yaml``: it needs the Hub.
* The shipped ``resnet18_unet.seed003_small`` (quarter width) never saw ImageNet: ImageNet's weights fit width 64 only.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ColorizationModel
from .registry import register
from .resnet import ImageNetEncoder, ResNet18

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
    """fastai's ``UnetBlock``: upsample 2x, concatenate the BatchNorm'd skip, ReLU, two 3x3 conv-ReLU layers."""

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
    """fastai's ``ResBlock`` as ``DynamicUnet`` ends with it: two 3x3 convolutions around an identity."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv_relu(channels, channels)
        self.conv2 = _conv(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(self.conv1(x)))


class ResNet18UNet(ImageNetEncoder, ColorizationModel):
    """Report 003's ResNet-18 U-Net (fastai's ``DynamicUnet``): L* in, a*b* out (regression).

    Parameters:
        width: channels of the ResNet-18 encoder's stem, which the decoder scales with (64: the real
            network, the only width ImageNet weights fit).
        image_size: working resolution in pixels (square), a multiple of 32 (256: the report's).
        imagenet_init: whether ``fetch_pretrained_parts()`` copies ImageNet weights into the encoder (the
            report's pretrained encoder).
    """

    family = "resnet18_unet"
    predicts = "ab"

    def __init__(self, width: int = 64, image_size: int = 256, imagenet_init: bool = False):
        super().__init__()
        self.set_size_multiple(DOWNSAMPLING, image_size)
        self.encoder = ResNet18(in_channels=1, width=width, num_classes=0)
        self.imagenet_init = imagenet_init

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
        *skips, deepest = self.encoder.features(lightness)
        x = self.middle(deepest)
        for block, skip in zip(self.up_blocks, reversed(skips)):
            x = block(x, skip)
        x = torch.cat([self.final_upsample(x), lightness], dim=1)
        return torch.tanh(self.head(self.refine(x)))


register(
    "resnet18_unet.seed003",
    ResNet18UNet,
    {"width": 64, "image_size": 256},
    "fastai-style U-Net on a ResNet-18 encoder at 256 px, report 003's improved cGAN generator (3.4); "
    "pretrain the encoder with imagenet_init=True, then the whole net with L1, then train as a cGAN",
)
register(
    "resnet18_unet.seed003_small",
    ResNet18UNet,
    {"width": 16, "image_size": 64},
    "report 003's ResNet-18 U-Net at quarter width (2M parameters) and 64 px: the compact one hfcolor ships",
    summary="bolder still, with blotches of colour",
)
