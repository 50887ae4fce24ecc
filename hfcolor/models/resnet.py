"""ResNet-18 (He et al. 2016) with torchvision's parameter names, and the helper that gives it ImageNet weights.

Shared by ResNet-18-Gray, the ResNet-18 U-Net and Deep Koalarization's classifier. :func:`load_imagenet_weights`
copies torchvision's ImageNet weights from the Hub repo ``timm/resnet18.tv_in1k`` (safetensors); those families
call it from ``fetch_pretrained_parts()``, never while a model is built or loaded. When the Hub is out of reach
or the weights do not fit (``width`` other than 64, a classifier other than 1000 classes), the network keeps its
random initialisation, and the function logs why and returns False.

Where we deviate from torchvision's ``resnet18``:

* ``width`` scales every stage (64 is the real network): compact models and tests reuse it.
* ``num_classes=0`` drops the classifier: ``forward`` then returns the pooled features.
* A 1-channel ``conv1`` gets ImageNet's RGB filters summed: what they compute on a gray image.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

logger = logging.getLogger(__name__)

IMAGENET_REPO = "timm/resnet18.tv_in1k"


class BasicBlock(nn.Module):
    """ResNet's two-convolution residual block; a 1x1 convolution matches the shortcut when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    """ResNet-18 whose ``state_dict`` keys match torchvision's ``resnet18`` (and timm's).

    :meth:`features` returns the stem's and the four stages' outputs, at strides 2, 4, 8, 16 and 32,
    for U-Net skips.

    Parameters:
        in_channels: input channels (3: RGB; 1: L*, which gets ImageNet's ``conv1`` filters summed).
        width: channels of the stem and first stage, doubled by each later one (64: the real network,
            the only width ImageNet weights fit; compact models and tests use less).
        num_classes: outputs of the classifier (1000: ImageNet's); 0 drops it, and ``forward`` returns
            the pooled features.
    """

    def __init__(self, in_channels: int = 3, width: int = 64, num_classes: int = 1000):
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.channels = [width] + widths
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        previous = width
        for index, stage_width in enumerate(widths, start=1):
            stride = 1 if index == 1 else 2
            setattr(
                self,
                f"layer{index}",
                nn.Sequential(BasicBlock(previous, stage_width, stride), BasicBlock(stage_width, stage_width, 1)),
            )
            previous = stage_width
        self.fc = nn.Linear(previous, num_classes) if num_classes else None

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        stem = self.relu(self.bn1(self.conv1(x)))
        outputs = [stem]
        x = self.maxpool(stem)
        for index in range(1, 5):
            x = getattr(self, f"layer{index}")(x)
            outputs.append(x)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.features(x)[-1].mean(dim=(2, 3))
        return pooled if self.fc is None else self.fc(pooled)


def load_imagenet_weights(network: ResNet18, repo_id: str = IMAGENET_REPO) -> bool:
    """Copy ImageNet weights from the Hub into ``network`` (safetensors only).

    A 1-channel first convolution gets the RGB filters summed, which is what they compute on a
    gray image. Returns False, with a log line, when the Hub or the file cannot be reached or the
    network's width is not the real ResNet-18's.
    """
    from huggingface_hub import hf_hub_download
    from safetensors.torch import load_file

    try:
        weights = load_file(hf_hub_download(repo_id, "model.safetensors"))
    except Exception as error:  # noqa: BLE001 - offline, no such repo, no permission: all mean "start from scratch"
        logger.warning(
            "ImageNet weights from %s unavailable (%s); ResNet-18 starts from random init",
            repo_id,
            type(error).__name__,
        )
        return False
    own = network.state_dict()
    if own["conv1.weight"].shape[1] == 1 and weights["conv1.weight"].shape[1] == 3:
        weights["conv1.weight"] = weights["conv1.weight"].sum(dim=1, keepdim=True)
    wanted = {key: value for key, value in weights.items() if key in own}
    mismatched = [key for key, value in wanted.items() if value.shape != own[key].shape]
    if mismatched:
        logger.warning(
            "ImageNet weights from %s do not fit this ResNet-18 (%s ...); keeping random init", repo_id, mismatched[0]
        )
        return False
    network.load_state_dict(wanted, strict=False)  # the classifier may be absent on our side
    logger.info("loaded ImageNet weights from %s", repo_id)
    return True


class ImageNetEncoder:
    """For a model whose ResNet-18 ``encoder`` may start from ImageNet: its ``imagenet_init`` says whether it does."""

    def fetch_pretrained_parts(self) -> None:
        if self.imagenet_init:
            load_imagenet_weights(self.encoder)
