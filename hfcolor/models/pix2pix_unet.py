"""Pix2pix U-Net generator (Isola et al. 2017): the cGAN generator of reports 000 (2.3), 003 (3.1), 004 (App. 1).

L* in, a*b* in [-1, 1] out, through ``num_downs`` 4x4 stride-2 levels (LeakyReLU-Conv-BatchNorm down,
ReLU-ConvTranspose-BatchNorm up, skip concatenations, widths ``base_channels * (1, 2, 4, 8, 8, ...)``). Dropout
in the decoder blocks after the innermost is pix2pix's noise source (report 000: "in place of a noise input"),
so outputs vary in training mode. Input sides must be multiples of ``2**num_downs``; each recipe picks
``num_downs`` for a 1x1 bottleneck (8 at 256 px, 7 at 128 px, 6 at 64 px).

Where we deviate from the paper:

* Three dropout blocks at every depth, where pix2pix has ``num_downs - 5``: the reports give no count.
* Biases in the first and innermost encoder convolutions, which no BatchNorm follows (pix2pix has none).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ColorizationModel
from .registry import register


class Pix2PixUNet(ColorizationModel):
    """The pix2pix U-Net generator: L* in, a*b* out through ``num_downs`` skip-connected levels.

    Parameters:
        in_channels: input channels (1: L*).
        out_channels: output channels, bounded to [-1, 1] by tanh (2: a*b*; keep 2, since ``predicts`` is ``"ab"``).
        base_channels: width of the first encoder block (64: pix2pix's ``ngf``).
        num_downs: stride-2 levels; input sides must be multiples of ``2**num_downs`` (8 at 256 px: a 1x1 bottleneck).
        max_width_multiplier: widths stop growing at ``base_channels`` times this (8: pix2pix's).
        dropout: drop probability in the decoder's noise blocks (0.5: pix2pix's; 0 turns them off).
        dropout_blocks: how many decoder blocks after the innermost carry dropout (3).
        image_size: working resolution in pixels (square), a multiple of ``2**num_downs``.
    """

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
        self.set_size_multiple(2**num_downs, image_size)
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
        skips = []
        x = lightness
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = self.decoder[-1](skips[-1])
        for i in range(self.num_downs - 2, -1, -1):
            x = self.decoder[i](torch.cat([x, skips[i]], dim=1))
        return x


register(
    "pix2pix_unet.seed003",
    Pix2PixUNet,
    {"base_channels": 64, "num_downs": 8, "image_size": 256},
    "pix2pix U-Net generator at 256 px, the base cGAN of report 003 (with a PatchGAN, L1 lambda 100)",
)
register(
    "pix2pix_unet.seed000",
    Pix2PixUNet,
    {"base_channels": 64, "num_downs": 7, "image_size": 128},
    "pix2pix U-Net generator at 128 px, the cGAN generator of report 000 (2.3)",
)
register(
    "pix2pix_unet.seed004",
    Pix2PixUNet,
    {"base_channels": 64, "num_downs": 6, "image_size": 64},
    "pix2pix U-Net generator at 64 px, the cGAN of report 004 (Appendix 1)",
)
register(
    "pix2pix_unet.seed004_small",
    Pix2PixUNet,
    {"base_channels": 32, "num_downs": 6, "image_size": 64},
    "report 004's 64 px cGAN generator at half width (a quarter of the weights): the compact one hfcolor ships",
    summary="bold GAN colours, often wrong",
)
