"""Classic U-Net (Ronneberger et al. 2015), the U-Net of seed 001 (3.2) and the generator of its cGAN (3.3).

Seed 001 follows "(almost) the same U-net as when it was proposed": convolutions with BatchNorm and
LeakyReLU and max-pooling down to 1024 channels, then upsampling, concatenation with the encoder's
feature maps and more convolutions back to the input's size. Where the report is vague we chose
what the original paper does:

* each level is two 3x3 convolutions (Conv -> BatchNorm -> LeakyReLU) at widths
  ``base_channels * (1, 2, 4, 8, 16)``, i.e. 64 -> 1024 with ``depth=4`` poolings (2x2 max-pooling);
* on the way up a 2x2 "up-convolution" (stride-2 transposed convolution) halves the channels before
  the concatenation with the mirrored encoder level;
* a 1x1 convolution maps the last 64 channels to the output.

Where we depart from the paper, and why: the convolutions are padded so the output keeps the input's
size, as the report requires (the paper's unpadded convolutions turn a 572 px tile into 388 px for
overlap-tile segmentation); BatchNorm and LeakyReLU replace plain ReLU, as the report says, with the
slope it does not give set to pix2pix's 0.2; tanh puts the output in [-1, 1]; the paper's dropout at
the end of the contracting path is left out because the report does not mention it.

The report predicts RGB (MSE against the colour photo); ``predicts="ab"`` gives the a*b* output the
other hfcolor colorizers use. Both variants are recipes of the family ``classic_unet``, and a
family names one class, so ``predicts`` is an ``__init__`` argument (kept in config.json, so
``load_model`` rebuilds the right variant) that sets the instance's ``predicts``.

The report gives no working resolution; 256 px is our choice (any multiple of ``2**depth`` works).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import ColorizationModel
from .registry import register, register_family

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


@register_family
class ClassicUNet(ColorizationModel):
    """Seed 001's classic U-Net: L* in, RGB or a*b* out (``out_channels`` 3 or 2); the generator of its cGAN."""

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
        if image_size % 2**depth:
            raise ValueError(f"image_size {image_size} must be a multiple of 2**depth = {2**depth}")
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
        factor = 2**self.depth
        if lightness.shape[-1] % factor or lightness.shape[-2] % factor:
            raise ValueError(
                f"{type(self).__name__} needs height and width divisible by {factor}; got {tuple(lightness.shape[-2:])}"
            )
        skips = []
        x = lightness
        for level, block in enumerate(self.encoder):
            x = block(x if level == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for level in reversed(range(self.depth)):
            x = self.decoder[level](torch.cat([self.up[level](x), skips[level]], dim=1))
        return self.head(x)


_REAL = {"base_channels": 64, "depth": 4, "image_size": 256}
_TINY = {"base_channels": 4, "depth": 3, "image_size": 32}

register(
    "classic_unet.seed001",
    ClassicUNet,
    {**_REAL, "predicts": "rgb"},
    "Ronneberger's U-Net (64 -> 1024 channels, BatchNorm, LeakyReLU) predicting RGB at 256 px, seed 001 (3.2)",
    tiny=_TINY,
)
register(
    "classic_unet.seed001_ab",
    ClassicUNet,
    {**_REAL, "predicts": "ab"},
    "seed 001's U-Net (64 -> 1024 channels) predicting a*b* instead of RGB, at 256 px",
    tiny=_TINY,
)
register(
    "classic_unet.seed001_small",
    ClassicUNet,
    {"base_channels": 16, "depth": 4, "image_size": 64, "predicts": "rgb"},
    "seed 001's U-Net at quarter width (16 -> 256 channels, 2M parameters) and 64 px, RGB out: the compact one hfcolor ships",
    tiny=_TINY,
)
