"""The cGAN discriminators of reports 000, 001, 003 and 004 (report 002's recipe borrows report 000's).

``forward`` takes L* and a colour concatenated on channels, in [-1, 1] (``in_channels`` 3 for L* + a*b*, reports
000, 003 and 004; 4 for L* + RGB, report 001), and returns logits, or with ``sigmoid=True`` the probabilities
report 001's loss, log(p + 0.01), needs. ``patchgan`` is pix2pix's 70x70 PatchGAN (Isola et al. 2017; reports
003 and 004), fully convolutional, one score per patch (30x30 at 256 px, 6x6 at 64 px). ``mlp_discriminator``
(report 001, 3.3) and ``conv_discriminator`` (report 000, 2.3) give one score per image through fully connected
layers, so they take ``image_size`` only.

Where we deviate from the reports:

* Logits by default, for ``BCEWithLogitsLoss``: the reports' sigmoid and log loss in one stable step.
* LeakyReLU slope 0.2, pix2pix's, wherever a report gives none.
* ``mlp_discriminator``: 4x4 stride-2 convolutions (128, 256, 512, then 1), pix2pix's: the report gives no sizes.
* ``conv_discriminator``: pix2pix-style 4x4 stride-2 Conv-BN-ReLU blocks, then a linear layer: its figure is lost.
* No BatchNorm on ``conv_discriminator``'s first block: it would normalise away the input's statistics.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from .base import HubModule
from .registry import register

LEAKY_SLOPE = 0.2  # pix2pix's, used wherever a report says LeakyReLU without a slope


class Discriminator(HubModule):
    """L* and a colour (B, in_channels, H, W) in [-1, 1] in, logits (or probabilities with ``sigmoid``) out.

    Parameters:
        in_channels: L* plus the colour's channels: 3 (a*b*) or 4 (RGB).
        image_size: working resolution in pixels (square).
        sigmoid: return probabilities instead of logits.
    """

    def __init__(self, in_channels: int, image_size: int, sigmoid: bool):
        super().__init__()
        self.in_channels, self.image_size, self.sigmoid = in_channels, image_size, sigmoid

    def forward(self, lightness_and_color: torch.Tensor) -> torch.Tensor:
        channels = lightness_and_color.shape[-3]
        if channels != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} takes L* and colour as {self.in_channels} channels; got {channels}"
            )
        scores = self.score(lightness_and_color)
        return torch.sigmoid(scores) if self.sigmoid else scores

    def score(self, lightness_and_color: torch.Tensor) -> torch.Tensor:
        """The logits, before the optional sigmoid: each family's network."""
        raise NotImplementedError


def _conv_block(in_channels: int, out_channels: int, stride: int, norm: bool, activation: nn.Module) -> list[nn.Module]:
    """4x4 convolution (pix2pix's), optional BatchNorm (which makes a conv bias redundant), activation."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, stride, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(out_channels))
    return layers + [activation]


class PatchGAN(Discriminator):
    """pix2pix's PatchGAN (Isola et al. 2017, ``NLayerDiscriminator``), scores (B, 1, h, w).

    ``num_layers`` stride-2 convolutions (widths ``base_channels * (1, 2, 4, 8, 8...)``, BatchNorm
    from the second on, LeakyReLU 0.2), one stride-1 convolution, then a stride-1 convolution to one
    channel. Fully convolutional: any input size works.

    Parameters:
        in_channels: L* plus the colour's channels: 3 (L* + a*b*, reports 003 and 004) or 4 (L* + RGB).
        base_channels: width of the first convolution (64: pix2pix's ``ndf``).
        num_layers: stride-2 convolutions; 3 gives the 70x70 receptive field (30x30 scores at 256 px).
        image_size: working resolution in pixels (square); it sets ``input_size`` only, not the network.
        sigmoid: return probabilities instead of logits.
    """

    family = "patchgan"

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 64,
        num_layers: int = 3,
        image_size: int = 256,
        sigmoid: bool = False,
    ):
        super().__init__(in_channels, image_size, sigmoid)
        widths = [base_channels * min(2**i, 8) for i in range(num_layers + 1)]
        layers = _conv_block(in_channels, widths[0], 2, norm=False, activation=nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        for previous, width in itertools.pairwise(widths[:-1]):
            layers += _conv_block(previous, width, 2, norm=True, activation=nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        layers += _conv_block(widths[-2], widths[-1], 1, norm=True, activation=nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 1))
        self.layers = nn.Sequential(*layers)

    def score(self, lightness_and_color: torch.Tensor) -> torch.Tensor:
        return self.layers(lightness_and_color)


class MLPDiscriminator(Discriminator):
    """Report 001's discriminator (3.3): convolutions to a one-channel map, then an MLP to one score (B, 1).

    The report: three convolutions each followed by BatchNorm and LeakyReLU, a last convolution from
    512 channels to one, and an MLP with 15 hidden units and one output, then a sigmoid. It gives no
    kernels, strides, first widths or image size; chosen here, pix2pix-style: 4x4 stride-2
    convolutions of widths ``base_channels * (1, 2, 4)`` (128, 256, 512), the last one also 4x4
    stride 2, so the MLP sees the (image_size / 16)^2 map, and LeakyReLU 0.2 between the MLP layers.

    Parameters:
        in_channels: L* plus the colour's channels: 4 (L* + RGB, the report's) or 3 (L* + a*b*).
        base_channels: width of the first convolution, doubled twice (128: the report's 512 at the third).
        hidden_size: hidden units of the MLP (15: the report's).
        image_size: the only input size it takes (square), a multiple of 16.
        sigmoid: return probabilities instead of logits (report 001's loss needs them).
    """

    family = "mlp_discriminator"
    fixed_size = True

    def __init__(
        self,
        in_channels: int = 4,
        base_channels: int = 128,
        hidden_size: int = 15,
        image_size: int = 256,
        sigmoid: bool = False,
    ):
        super().__init__(in_channels, image_size, sigmoid)
        self.set_size_multiple(16, image_size)  # four stride-2 convolutions
        widths = [in_channels, base_channels, 2 * base_channels, 4 * base_channels]
        layers: list[nn.Module] = []
        for previous, width in itertools.pairwise(widths):
            layers += _conv_block(previous, width, 2, norm=True, activation=nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        layers.append(nn.Conv2d(widths[-1], 1, 4, 2, 1))
        self.convs = nn.Sequential(*layers)
        self.mlp = nn.Sequential(
            nn.Flatten(),
            nn.Linear((image_size // 16) ** 2, hidden_size),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            nn.Linear(hidden_size, 1),
        )

    def score(self, lightness_and_color: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.convs(lightness_and_color))


class ConvDiscriminator(Discriminator):
    """Report 000's discriminator (2.3): Conv-BatchNorm-ReLU blocks down to a small map, then one score (B, 1).

    The report: "modules of the form Conv2d-BatchNorm-ReLu", L* and a*b* in at 128 px, "the output is
    a scalar"; its figure is not in the text. Chosen here after the pix2pix encoder it builds on (and
    DCGAN's discriminator): ``num_downs`` 4x4 stride-2 blocks of widths ``base_channels * (1, 2, 4,
    8, 8...)``, no BatchNorm on the first (which would normalise away the input's statistics), ReLU
    as the report says; then a linear layer from the last (image_size / 2**num_downs)^2 map, 4x4 at
    128 px, to the score.

    Parameters:
        in_channels: L* plus the colour's channels: 3 (L* + a*b*, the report's) or 4 (L* + RGB).
        base_channels: width of the first block (64).
        num_downs: 4x4 stride-2 blocks; the linear layer reads the (image_size / 2**num_downs)^2 map.
        max_width_multiplier: widths stop growing at ``base_channels`` times this (8).
        image_size: the only input size it takes (square; 128: the report's), a multiple of ``2**num_downs``.
        sigmoid: return probabilities instead of logits.
    """

    family = "conv_discriminator"
    fixed_size = True

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 64,
        num_downs: int = 5,
        max_width_multiplier: int = 8,
        image_size: int = 128,
        sigmoid: bool = False,
    ):
        super().__init__(in_channels, image_size, sigmoid)
        self.set_size_multiple(2**num_downs, image_size)
        widths = [in_channels] + [base_channels * min(2**i, max_width_multiplier) for i in range(num_downs)]
        layers: list[nn.Module] = []
        for index, (previous, width) in enumerate(itertools.pairwise(widths)):
            layers += _conv_block(previous, width, 2, norm=index > 0, activation=nn.ReLU(inplace=True))
        grid = image_size // 2**num_downs
        self.layers = nn.Sequential(*layers, nn.Flatten(), nn.Linear(widths[-1] * grid**2, 1))

    def score(self, lightness_and_color: torch.Tensor) -> torch.Tensor:
        return self.layers(lightness_and_color)


register(
    "patchgan.seed003",
    PatchGAN,
    {"in_channels": 3, "base_channels": 64, "num_layers": 3, "image_size": 256},
    "pix2pix 70x70 PatchGAN on L*a*b* at 256 px (30x30 scores), report 003's discriminator (3.2)",
)
register(
    "patchgan.seed004",
    PatchGAN,
    {"in_channels": 3, "base_channels": 64, "num_layers": 3, "image_size": 64},
    "pix2pix 70x70 PatchGAN on L*a*b* at report 004's 64 px (6x6 scores; the 30x30 its Appendix 1 quotes is at 256 px)",
)
register(
    "mlp_discriminator.seed001",
    MLPDiscriminator,
    {"in_channels": 4, "base_channels": 128, "hidden_size": 15, "image_size": 256},
    "report 001's discriminator (3.3): L* + RGB, three conv-BN-LeakyReLU layers, 512->1 conv, MLP with 15 hidden units",
)
register(
    "conv_discriminator.seed000",
    ConvDiscriminator,
    {"in_channels": 3, "base_channels": 64, "num_downs": 5, "image_size": 128},
    "report 000's Conv-BatchNorm-ReLU discriminator on L*a*b* at 128 px, one score per image (2.3)",
)
