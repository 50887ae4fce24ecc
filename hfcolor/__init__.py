"""hfcolor: automatic photo colorization on the Hugging Face stack."""

import os
import sys

if "torch" not in sys.modules:  # OpenMP reads it once, when torch loads (see hfcolor.hardware)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .hints import Hints
from .image_io import ImageReadError, load_image, save_image
from .models import DEFAULT_MODEL, CheckpointError, ColorizationModel, create_model, load_model
from .pipelines import Colorizer, colorize

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "CheckpointError",
    "ColorizationModel",
    "Colorizer",
    "Hints",
    "ImageReadError",
    "colorize",
    "create_model",
    "load_image",
    "load_model",
    "save_image",
]
