"""The model zoo: importing this package registers every family and recipe."""

from . import (
    bins_cnn,  # noqa: F401  (registers itself)
    classic_unet,  # noqa: F401  (registers itself)
    deep_koalarization,  # noqa: F401  (registers itself)
    diffusion,  # noqa: F401  (registers itself)
    discriminators,  # noqa: F401  (registers itself)
    inception_colorizer,  # noqa: F401  (registers itself)
    pix2pix_unet,  # noqa: F401  (registers itself)
    resnet18_gray,  # noqa: F401  (registers itself)
    resnet18_unet,  # noqa: F401  (registers itself)
)
from .base import CheckpointError, ColorizationModel
from .registry import DEFAULT_MODEL, FAMILIES, RECIPES, Recipe, available_weights, create_model, load_model

__all__ = [
    "DEFAULT_MODEL",
    "FAMILIES",
    "RECIPES",
    "CheckpointError",
    "ColorizationModel",
    "Recipe",
    "available_weights",
    "create_model",
    "load_model",
]
