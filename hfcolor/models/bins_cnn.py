"""Report 004's plain CNN colorizers (Agrawal and Sawhney): regression, per-channel bins, joint a*b* bins.

Nine stride-1 5x5 convolutions, each followed by ReLU then BatchNorm (after the report's model [1], Zhang et
al. 2016), then a head: ``bins_cnn`` regresses a*b* in [-1, 1] (L2, smooth L1 or L2 with dropout: the training
recipe, ``seed004_*.yaml``, names the loss); ``bins_cnn_classifier`` scores ``num_bins`` equal bins per channel
over [-100, 100]; ``bins_cnn_joint`` scores joint in-gamut a*b* cells with class rebalancing, the report's
future work (6). The default fully connected head (``head="fc"``) takes ``image_size`` only (64 px; 32 for the
CIFAR-10 baseline) and raises ValueError otherwise (:class:`hfcolor.pipelines.Colorizer` resizes to it);
``head="conv"`` (padded convolutions and a 1x1 class layer, as in [1]) runs at any size.

Where we deviate from the report:

* Widths (32, 64, 128, 256, 256, 256, 256, 128, 64), [1]'s profile halved: Figure 4's are lost from the text.
* Unpadded convolutions (64 px shrink to 28): with stride 1, the report's "only down sampling".
* The FC head factored as positions (28x28 -> 64x64) times channels (1x1 conv): 3.2M weights, not 411M.
* tanh on the regression output, which the report leaves linear: hfcolor's a*b* lives in [-1, 1].
* ``dropout`` 0.6 for the report's units "active with probability 0.4": torch's is the drop probability.
* Bins decode to their centres (``decode="mode"``): the report's per-bin pixel means are not given.
* The CIFAR-10 baseline's widths (32, 64, 64) and kernel 5 are ours: the report gives none.
* Joint bins done as [1] does (soft targets, lambda 0.5, sigma 5, T = 0.38): the report only proposes them.
"""

from __future__ import annotations

import torch
from torch import nn

from ..color import DECODE_MODES, GamutABBins, UniformABBins
from .base import ClassRebalancing, ColorizationModel
from .registry import register

# Lists, not tuples: config.json gives lists back, and a reloaded model's config must equal the original's.
SEED004_WIDTHS = [32, 64, 128, 256, 256, 256, 256, 128, 64]
HEADS = ("fc", "conv")


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
        # Without padding the convolutions are the network's only downsampling (report 004, 4.2.3);
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
        return self.head(self.body(lightness))


def _network(model: ColorizationModel, outputs: int, widths, kernel_size, head, dropout, image_size) -> Seed004CNN:
    """Report 004's CNN for ``model``, which then takes ``image_size`` only if the head is fully connected."""
    model.fixed_size = head == "fc"
    return Seed004CNN(outputs, widths, kernel_size, head, dropout, image_size)


class _ClassScores(ColorizationModel):
    """What the two classifiers share: scores over ``quantizer``'s classes, turned into a*b* as ``decode`` says."""

    predicts = "ab_bins"

    def _build(self, quantizer, decode: str, temperature: float, widths, kernel_size, head, dropout, image_size):
        _check_choice("decode", decode, DECODE_MODES)
        self.quantizer = quantizer
        self.decoding = {"how": decode, "temperature": temperature}
        self.network = _network(self, quantizer.num_classes, widths, kernel_size, head, dropout, image_size)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.network(lightness)


class BinsCNN(ColorizationModel):
    """Report 004's CNN regressing a*b* in [-1, 1] (4.1, 4.2.4, 4.2.7); the training recipe names the loss.

    Parameters:
        widths: output channels of each convolution (the report's nine layers; three for the CIFAR-10 baseline).
        kernel_size: convolution kernel side, odd (5: the report's).
        head: ``"fc"`` (the report's fully connected head: ``image_size`` only) or ``"conv"`` (any size).
        dropout: drop probability after every BatchNorm (0.6: the report's keep probability of 0.4).
        image_size: working resolution in pixels (square; 64, or 32 for CIFAR-10); with ``"fc"`` the only one.
    """

    family = "bins_cnn"
    predicts = "ab"

    def __init__(
        self,
        widths: list[int] = SEED004_WIDTHS,
        kernel_size: int = 5,
        head: str = "fc",
        dropout: float = 0.0,
        image_size: int = 64,
    ):
        super().__init__()
        self.network = _network(self, 2, widths, kernel_size, head, dropout, image_size)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.network(lightness))


class BinsCNNClassifier(_ClassScores):
    """``num_bins`` equal bins per channel over [-100, 100]: logits (B, 2 * num_bins, H, W) (report 004, 4.2.2).

    Parameters:
        num_bins: bins per channel (10, 30 or 50 in the report).
        widths: output channels of each convolution (the report's nine layers).
        kernel_size: convolution kernel side, odd (5: the report's).
        head: ``"fc"`` (the report's fully connected head: ``image_size`` only) or ``"conv"`` (any size).
        dropout: drop probability after every BatchNorm (0: none).
        decode: how scores become a*b*: ``"mode"`` (the likeliest bin's centre), ``"mean"`` or ``"annealed_mean"``.
        temperature: temperature of ``decode="annealed_mean"`` (0.38: Zhang et al.'s).
        image_size: working resolution in pixels (square; 64); with ``"fc"`` the only one.
    """

    family = "bins_cnn_classifier"

    def __init__(
        self,
        num_bins: int = 10,
        widths: list[int] = SEED004_WIDTHS,
        kernel_size: int = 5,
        head: str = "fc",
        dropout: float = 0.0,
        decode: str = "mode",
        temperature: float = 0.38,
        image_size: int = 64,
    ):
        super().__init__()
        self._build(UniformABBins(num_bins), decode, temperature, widths, kernel_size, head, dropout, image_size)


class BinsCNNJoint(ClassRebalancing, _ClassScores):
    """Joint a*b* classes over the in-gamut grid with class rebalancing: logits (B, Q, H, W) (report 004, 6).

    ``class_weights`` (Q,) are all 1 until :meth:`set_class_weights` is given the training set's
    class counts (:class:`~.base.ClassRebalancing`).

    Parameters:
        grid_size: side of the a*b* grid cells, in a*b* units (10: 265 in-gamut classes).
        widths: output channels of each convolution (the report's nine layers).
        kernel_size: convolution kernel side, odd (5: the report's).
        head: ``"fc"`` (the report's fully connected head: ``image_size`` only) or ``"conv"`` (any size).
        dropout: drop probability after every BatchNorm (0: none).
        decode: how scores become a*b*: ``"annealed_mean"`` (Zhang et al.'s), ``"mean"`` or ``"mode"``.
        temperature: temperature of ``decode="annealed_mean"`` (0.38: Zhang et al.'s).
        rebalance_mix: weight of the uniform prior in the class rebalancing (Zhang et al.'s lambda: 0.5).
        rebalance_sigma: Gaussian smoothing of the colour prior, in a*b* units (5).
        image_size: working resolution in pixels (square; 64); with ``"fc"`` the only one.
    """

    family = "bins_cnn_joint"

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
        image_size: int = 64,
    ):
        super().__init__()
        self._build(GamutABBins(grid_size), decode, temperature, widths, kernel_size, head, dropout, image_size)
        self.rebalance_mix, self.rebalance_sigma = rebalance_mix, rebalance_sigma
        self.register_buffer("class_weights", torch.ones(self.quantizer.num_classes))


register(
    "bins_cnn.l2",
    BinsCNN,
    {},
    "report 004's 9-layer CNN at 64 px regressing a*b*, trained with an L2 loss (4.2.4)",
)
register(
    "bins_cnn.smooth_l1",
    BinsCNN,
    {},
    "the network of bins_cnn.l2, trained with a smooth L1 loss instead (4.2.4)",
)
register(
    "bins_cnn.l2_dropout",
    BinsCNN,
    {"dropout": 0.6},
    "report 004's 9-layer CNN at 64 px, L2 loss, dropout after every BatchNorm keeping 40% of units (4.2.7)",
)
register(
    "bins_cnn.cifar_baseline",
    BinsCNN,
    {"widths": [32, 64, 64], "image_size": 32},
    "report 004's baseline: 3 convolutions and a fully connected layer at 32 px (CIFAR-10), L2 loss (4.1)",
)
register(
    "bins_cnn_classifier.ce10",
    BinsCNNClassifier,
    {"num_bins": 10},
    "report 004's 9-layer CNN at 64 px classifying a* and b* into 10 bins each, cross-entropy (4.2.2, 5.4)",
)
register(
    "bins_cnn_classifier.ce30",
    BinsCNNClassifier,
    {"num_bins": 30},
    "bins_cnn_classifier.ce10 with 30 bins per channel (5.4)",
)
register(
    "bins_cnn_classifier.ce50",
    BinsCNNClassifier,
    {"num_bins": 50},
    "bins_cnn_classifier.ce10 with 50 bins per channel (5.4)",
)
register(
    "bins_cnn_joint.rebalanced",
    BinsCNNJoint,
    {},
    "report 004's 9-layer CNN at 64 px over joint in-gamut a*b* classes, class-rebalanced, annealed mean (6, after [1])",
    summary="colour classes instead of regression: livelier, a little less accurate",
)
register(
    "bins_cnn_joint.rebalanced_conv",
    BinsCNNJoint,
    {"head": "conv"},
    "bins_cnn_joint.rebalanced with a fully convolutional head: runs at any image size",
)
