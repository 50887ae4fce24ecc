"""Seed 004's plain CNN colorizers: regression, per-channel bins, and joint a*b* bins (Agrawal & Sawhney).

Sections of seed 004 this file follows, and what it chooses where the report is vague:

* 4.2.3 (architecture): 9 convolutions of kernel 5 and stride 1, each followed by ReLU then
  BatchNorm (that order, as in the report and its model [1], Zhang et al. 2016), then a fully
  connected layer whose output is reshaped to 64x64x2. Figure 4's channel widths and resolutions did
  not survive in the report's text; it says "the only down sampling is done through the
  convolutional layers themselves", which with stride 1 means unpadded convolutions: each trims
  4 px, so 64 px shrink to 60, 56, ..., 28. The widths follow [1]'s profile (widening from 64 to
  512, narrowing to 256 before the class layer) at half width, (32, 64, 128, 256, 256, 256, 256,
  128, 64), our choice for the report's "computational constraints".
* The fully connected head: a dense layer from 28x28x64 to 64x64x2 would hold 411M weights, and
  4.1G to a 10-bin classifier's 64x64x20. We factor it into a layer over positions (28x28 ->
  64x64, shared by all channels: every output pixel still sees the whole image, which is what the
  report's FC layer is for) and a 1x1 convolution that mixes the channels into the outputs:
  3.2M weights at 64 px, whatever the number of classes. It works at ``image_size`` only; other
  sizes raise ValueError (the pipeline resizes to ``image_size``).
* ``head="conv"``: zero-padded convolutions keep the resolution and a 1x1 convolution gives the
  outputs, like [1]'s class layer; the network then runs at any size.
* 4.2.4 and 4.2.7 (regression): L2, smooth L1, or L2 with dropout after every BatchNorm. The loss
  belongs to the trainer and is recorded in ``loss``. The report keeps a unit "active with some
  probability p (0.4 in our case)": a keep probability, so the drop probability (torch's
  convention, ``dropout``) is 0.6. The report's output layer is linear; hfcolor's contract wants
  a*b* in [-1, 1], so a tanh bounds it.
* 4.2.2 and 5.4 (classification): N equal bins per channel over [-100, 100] (N = 10, 30, 50),
  cross-entropy, then the most likely bin turned back into its value (``decode="mode"``, the bin's
  centre; the report used the mean of the pixels that fell in the bin, which it does not give).
* 4.1 (baseline): "3 layers of CNN followed by a Fully Connected layer" on 32x32 CIFAR-10 with L2,
  ReLU and BatchNorm: the same network with three convolutions, so a recipe of this family. Its
  widths are not given; we chose (32, 64, 64) and kernel 5.
* 6 (future work, "bin the A, B value together as a pair"), done as in [1]: classes over the
  in-gamut a*b* grid of 10 (``GamutABBins``), soft-encoded targets, a loss weighted per pixel by
  ``class_weights`` of its nearest class (inverse of the Gaussian-smoothed colour prior mixed with
  a uniform one, lambda = 0.5, sigma = 5, expected weight 1), and the annealed mean with T = 0.38.
"""

from __future__ import annotations

import torch
from torch import nn

from ..color import DECODE_MODES, GamutABBins, UniformABBins
from .base import ClassRebalancing, ColorizationModel
from .registry import register, register_family

# Lists, not tuples: config.json gives lists back, and a reloaded model's config must equal the original's.
SEED004_WIDTHS = [32, 64, 128, 256, 256, 256, 256, 128, 64]
HEADS = ("fc", "conv")
REGRESSION_LOSSES = ("l2", "smooth_l1")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, not {value!r}")


class SpatialFullyConnected(nn.Module):
    """A fully connected layer factored as (positions -> positions) x (channels -> channels)."""

    def __init__(self, in_channels: int, in_size: int, out_channels: int, out_size: int):
        super().__init__()
        self.out_size = out_size
        self.positions = nn.Linear(in_size * in_size, out_size * out_size)
        self.channels = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        moved = self.positions(features.flatten(2))
        return self.channels(moved.unflatten(2, (self.out_size, self.out_size)))


class Seed004CNN(nn.Module):
    """Stride-1 convolutions, each followed by ReLU, BatchNorm and optional dropout, then a head."""

    def __init__(
        self, out_channels: int, widths: list[int], kernel_size: int, head: str, dropout: float, image_size: int
    ):
        super().__init__()
        _check_choice("head", head, HEADS)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, not {kernel_size}")
        self.head_kind, self.image_size = head, image_size
        # Without padding the convolutions are the network's only downsampling (seed 004, 4.2.3);
        # the conv head has no FC layer to restore the resolution, so it keeps it instead.
        padding = 0 if head == "fc" else kernel_size // 2
        layers, in_width = [], 1
        for width in widths:
            layers += [nn.Conv2d(in_width, width, kernel_size, 1, padding), nn.ReLU(), nn.BatchNorm2d(width)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            in_width = width
        self.body = nn.Sequential(*layers)
        if head == "conv":
            self.head = nn.Conv2d(in_width, out_channels, 1)
            return
        feature_size = image_size - len(widths) * (kernel_size - 1)
        if feature_size < 1:
            raise ValueError(
                f"{len(widths)} unpadded convolutions of kernel {kernel_size} need image_size > "
                f"{len(widths) * (kernel_size - 1)}; got {image_size}"
            )
        self.head = SpatialFullyConnected(in_width, feature_size, out_channels, image_size)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        if self.head_kind == "fc" and tuple(lightness.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"a fully connected head works at its image_size only, {self.image_size}x{self.image_size}; "
                f"got {tuple(lightness.shape[-2:])} (resize the input, or use head='conv')"
            )
        return self.head(self.body(lightness))


@register_family
class BinsCNN(ColorizationModel):
    """Regression: a*b* in [-1, 1] (seed 004, 4.1 and 4.2)."""

    family = "bins_cnn"
    predicts = "ab"

    def __init__(
        self,
        widths: list[int] = SEED004_WIDTHS,
        kernel_size: int = 5,
        head: str = "fc",
        dropout: float = 0.0,
        loss: str = "l2",
        image_size: int = 64,
    ):
        super().__init__()
        _check_choice("loss", loss, REGRESSION_LOSSES)
        self.network = Seed004CNN(2, widths, kernel_size, head, dropout, image_size)
        self.fixed_size = head == "fc"

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.network(lightness))


@register_family
class BinsCNNClassifier(ColorizationModel):
    """``num_bins`` equal bins per channel over [-100, 100]: logits (B, 2 * num_bins, H, W) (seed 004, 4.2.2)."""

    family = "bins_cnn_classifier"
    predicts = "ab_bins"

    def __init__(
        self,
        num_bins: int = 10,
        widths: list[int] = SEED004_WIDTHS,
        kernel_size: int = 5,
        head: str = "fc",
        dropout: float = 0.0,
        decode: str = "mode",
        temperature: float = 0.38,
        loss: str = "cross_entropy",
        image_size: int = 64,
    ):
        super().__init__()
        _check_choice("loss", loss, ("cross_entropy",))
        _check_choice("decode", decode, DECODE_MODES)
        self.quantizer = UniformABBins(num_bins)
        self.decoding = {"how": decode, "temperature": temperature}
        self.network = Seed004CNN(self.quantizer.num_classes, widths, kernel_size, head, dropout, image_size)
        self.fixed_size = head == "fc"

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.network(lightness)


@register_family
class BinsCNNJoint(ClassRebalancing, ColorizationModel):
    """Joint a*b* classes over the in-gamut grid with class rebalancing: logits (B, Q, H, W) (seed 004, 6).

    ``class_weights`` (Q,) are all 1 until :meth:`set_class_weights` is given the training set's
    class counts (:class:`~.base.ClassRebalancing`).
    """

    family = "bins_cnn_joint"
    predicts = "ab_bins"

    def __init__(
        self,
        grid_size: float = 10.0,
        widths: list[int] = SEED004_WIDTHS,
        kernel_size: int = 5,
        head: str = "fc",
        dropout: float = 0.0,
        decode: str = "annealed_mean",
        temperature: float = 0.38,
        rebalance_mix: float = 0.5,
        rebalance_sigma: float = 5.0,
        loss: str = "rebalanced_cross_entropy",
        image_size: int = 64,
    ):
        super().__init__()
        _check_choice("loss", loss, ("rebalanced_cross_entropy", "cross_entropy"))
        _check_choice("decode", decode, DECODE_MODES)
        self.quantizer = GamutABBins(grid_size)
        self.decoding = {"how": decode, "temperature": temperature}
        self.rebalance_mix, self.rebalance_sigma = rebalance_mix, rebalance_sigma
        self.register_buffer("class_weights", torch.ones(self.quantizer.num_classes))
        self.network = Seed004CNN(self.quantizer.num_classes, widths, kernel_size, head, dropout, image_size)
        self.fixed_size = head == "fc"

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.network(lightness)


_TINY = {"widths": [4, 8, 4], "image_size": 32}

register(
    "bins_cnn.l2",
    BinsCNN,
    {"loss": "l2"},
    "seed 004's 9-layer CNN at 64 px regressing a*b* with an L2 loss (4.2.4)",
    tiny=_TINY,
)
register(
    "bins_cnn.smooth_l1",
    BinsCNN,
    {"loss": "smooth_l1"},
    "seed 004's 9-layer CNN at 64 px regressing a*b* with a smooth L1 loss (4.2.4)",
    tiny=_TINY,
)
register(
    "bins_cnn.l2_dropout",
    BinsCNN,
    {"loss": "l2", "dropout": 0.6},
    "seed 004's 9-layer CNN at 64 px, L2 loss, dropout after every BatchNorm keeping 40% of units (4.2.7)",
    tiny=_TINY,
)
register(
    "bins_cnn.cifar_baseline",
    BinsCNN,
    {"widths": [32, 64, 64], "loss": "l2", "image_size": 32},
    "seed 004's baseline: 3 convolutions and a fully connected layer at 32 px (CIFAR-10), L2 loss (4.1)",
    tiny=_TINY,
)
for _bins in (10, 30, 50):
    register(
        f"bins_cnn_classifier.ce{_bins}",
        BinsCNNClassifier,
        {"num_bins": _bins},
        f"seed 004's 9-layer CNN at 64 px classifying a* and b* into {_bins} bins each, cross-entropy (4.2.2, 5.4)",
        tiny=_TINY,
    )
register(
    "bins_cnn_joint.rebalanced",
    BinsCNNJoint,
    {},
    "seed 004's 9-layer CNN at 64 px over joint in-gamut a*b* classes, class-rebalanced, annealed mean (6, after [1])",
    tiny=_TINY,
)
register(
    "bins_cnn_joint.rebalanced_conv",
    BinsCNNJoint,
    {"head": "conv"},
    "bins_cnn_joint.rebalanced with a fully convolutional head: runs at any image size",
    tiny=_TINY,
)
