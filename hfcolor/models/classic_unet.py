"""Classic U-Net (Ronneberger et al. 2015): report 001's U-Net (3.2) and the generator of its cGAN (3.3).

L* in; RGB (the report's output, trained with MSE) or a*b* out (``predicts``), both in [-1, 1]. Each level is two
3x3 Conv-BatchNorm-LeakyReLU layers (64 -> 1024 channels at ``depth=4``); 2x2 max-pooling goes down, 2x2
up-convolutions come back up and are concatenated with the mirrored level. Input sides must be multiples of
``2**depth``; the recipes work at 256 px, the shipped ``classic_unet.seed001_small`` at 64 px and quarter width.

Where we deviate from the paper and the report:

* Padded convolutions: the output keeps the input's size, as the report needs (the paper crops 572 px to 388).
* BatchNorm and LeakyReLU instead of ReLU, as the report says; its missing slope is pix2pix's 0.2.
* tanh on the output: RGB and a*b* land in [-1, 1] like every hfcolor model's.
* No dropout at the end of the contracting path: the report does not mention it.
* ``predicts="ab"`` beside the report's RGB, to compare with the a*b* models; config.json records which.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ColorizationModel
from .registry import register

OUTPUT_CHANNELS = {"ab": 2, "rgb": 3}


def _double_conv(in_channels: int, out_channels: int, negative_slope: float) -> nn.Sequential:
    # No bias: BatchNorm's shift right after would cancel it.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(negative_slope, inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(negative_slope, inplace=True),
    )


class ClassicUNet(ColorizationModel):
    """Report 001's classic U-Net: L* in, RGB or a*b* out; the generator of its cGAN.

    Parameters:
        predicts: ``"rgb"`` (the report's output, 3 channels) or ``"ab"`` (2 channels); both in [-1, 1].
        in_channels: input channels (1: L*).
        base_channels: width of the first level; level k has ``base_channels * 2**k`` (64: the paper's).
        depth: 2x2 poolings (4: the paper's); input sides must be multiples of ``2**depth``.
        negative_slope: LeakyReLU slope (0.2, pix2pix's; the report gives none).
        image_size: working resolution in pixels (square), a multiple of ``2**depth``.
    """

    family = "classic_unet"

    def __init__(
        self,
        predicts: str = "ab",
        in_channels: int = 1,
        base_channels: int = 64,
        depth: int = 4,
        negative_slope: float = 0.2,
        image_size: int = 256,
    ):
        super().__init__()
        if predicts not in OUTPUT_CHANNELS:
            raise ValueError(f"predicts must be one of {tuple(OUTPUT_CHANNELS)}, not {predicts!r}")
        self.set_size_multiple(2**depth, image_size)
        self.predicts = predicts
        self.depth = depth
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.encoder = nn.ModuleList(
            _double_conv(in_channels if level == 0 else widths[level - 1], width, negative_slope)
            for level, width in enumerate(widths)
        )
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2) for level in range(depth)
        )
        self.decoder = nn.ModuleList(
            _double_conv(2 * widths[level], widths[level], negative_slope) for level in range(depth)
        )
        self.head = nn.Sequential(nn.Conv2d(widths[0], OUTPUT_CHANNELS[predicts], 1), nn.Tanh())

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        skips = []
        x = lightness
        for level, block in enumerate(self.encoder):
            x = block(x if level == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for level in reversed(range(self.depth)):
            x = self.decoder[level](torch.cat([self.up[level](x), skips[level]], dim=1))
        return self.head(x)


register(
    "classic_unet.seed001",
    ClassicUNet,
    {"base_channels": 64, "depth": 4, "image_size": 256, "predicts": "rgb"},
    "Ronneberger's U-Net (64 -> 1024 channels, BatchNorm, LeakyReLU) predicting RGB at 256 px, report 001 (3.2)",
)
register(
    "classic_unet.seed001_ab",
    ClassicUNet,
    {"base_channels": 64, "depth": 4, "image_size": 256, "predicts": "ab"},
    "report 001's U-Net (64 -> 1024 channels) predicting a*b* instead of RGB, at 256 px",
)
register(
    "classic_unet.seed001_small",
    ClassicUNet,
    {"base_channels": 16, "depth": 4, "image_size": 64, "predicts": "rgb"},
    "report 001's U-Net at quarter width (16 -> 256 channels, 2M parameters) and 64 px, RGB out: the compact one hfcolor ships",
    summary="vivid but still close to the truth; colours bleed at edges",
)
