"""Pix2pix U-Net generator (Isola et al. 2017), the generator of seeds 000 (2.3), 003 (3.1) and 004 (Appendix 1).

Encoder: ``num_downs`` blocks of LeakyReLU(0.2) -> Conv 4x4 stride 2 -> BatchNorm, widths
``base_channels * (1, 2, 4, 8, 8, ...)`` (no norm on the first and innermost blocks). Decoder: ReLU ->
ConvTranspose 4x4 stride 2 -> BatchNorm, each concatenated with the mirrored encoder output; the
three blocks after the innermost carry Dropout(0.5), which pix2pix uses as its noise source instead
of a noise vector (seed 004 Appendix 1). The last block ends in tanh: a*b* in [-1, 1].
At 256 px with 8 downsamplings the bottleneck is 1x1, as in pix2pix.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ColorizationModel
from .registry import register, register_family


@register_family
class Pix2PixUNet(ColorizationModel):
    """The pix2pix U-Net generator: L* in, a*b* out through ``num_downs`` skip-connected levels."""

    family = "pix2pix_unet"
    predicts = "ab"

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        base_channels: int = 64,
        num_downs: int = 8,
        max_width_multiplier: int = 8,
        dropout: float = 0.5,
        dropout_blocks: int = 3,
        image_size: int = 256,
    ):
        super().__init__()
        if image_size % 2**num_downs:
            raise ValueError(f"image_size {image_size} must be a multiple of 2**num_downs = {2**num_downs}")
        widths = [base_channels * min(2**i, max_width_multiplier) for i in range(num_downs)]
        self.num_downs = num_downs
        self.encoder = nn.ModuleList()
        for i, width in enumerate(widths):
            innermost, outermost = i == num_downs - 1, i == 0
            layers = [] if outermost else [nn.LeakyReLU(0.2)]
            layers.append(
                nn.Conv2d(in_channels if outermost else widths[i - 1], width, 4, 2, 1, bias=outermost or innermost)
            )
            if not (outermost or innermost):
                layers.append(nn.BatchNorm2d(width))
            self.encoder.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList()
        for i, width in enumerate(widths):
            innermost, outermost = i == num_downs - 1, i == 0
            in_width = width if innermost else 2 * width
            layers = [
                nn.ReLU(),
                nn.ConvTranspose2d(in_width, out_channels if outermost else widths[i - 1], 4, 2, 1, bias=outermost),
            ]
            if outermost:
                layers.append(nn.Tanh())
            else:
                layers.append(nn.BatchNorm2d(widths[i - 1]))
                if num_downs - 1 - dropout_blocks <= i < num_downs - 1 and dropout > 0:
                    layers.append(nn.Dropout(dropout))
            self.decoder.append(nn.Sequential(*layers))

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        factor = 2**self.num_downs
        if lightness.shape[-1] % factor or lightness.shape[-2] % factor:
            raise ValueError(
                f"{type(self).__name__} needs height and width divisible by {factor}; got {tuple(lightness.shape[-2:])}"
            )
        skips = []
        x = lightness
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = self.decoder[-1](skips[-1])
        for i in range(self.num_downs - 2, -1, -1):
            x = self.decoder[i](torch.cat([x, skips[i]], dim=1))
        return x


_TINY = {"base_channels": 4, "num_downs": 4, "image_size": 32}

# name: (base_channels, num_downs, image_size, description)
_RECIPES = {
    "pix2pix_unet.seed003": (
        64, 8, 256, "pix2pix U-Net generator at 256 px, the base cGAN of seed 003 (with a PatchGAN, L1 lambda 100)"
    ),
    "pix2pix_unet.seed000": (64, 7, 128, "pix2pix U-Net generator at 128 px, the cGAN generator of seed 000 (2.3)"),
    "pix2pix_unet.seed004": (64, 6, 64, "pix2pix U-Net generator at 64 px, the cGAN of seed 004 (Appendix 1)"),
    "pix2pix_unet.seed004_small": (
        32, 6, 64, "seed 004's 64 px cGAN generator at half width (a quarter of the weights): the compact one hfcolor ships"
    ),
}  # fmt: skip
for _name, (_width, _downs, _size, _description) in _RECIPES.items():
    register(
        _name,
        Pix2PixUNet,
        {"base_channels": _width, "num_downs": _downs, "image_size": _size},
        _description,
        tiny=_TINY,
    )
