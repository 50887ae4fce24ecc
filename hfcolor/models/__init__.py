"""The model zoo: importing this package imports every module in it, and each family module registers its recipes."""

import importlib
import pkgutil

from .base import CheckpointError, ColorizationModel
from .registry import DEFAULT_MODEL, FAMILIES, RECIPES, Recipe, available_weights, create_model, load_model

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

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
