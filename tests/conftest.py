"""Test setup: no network, small data made on the fly or shipped by scikit-image."""

import os

# Read at import time by huggingface_hub and datasets: set before anything imports them, so no
# test waits ~23 s on Hub retries.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skimage_data  # noqa: E402


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    """A real colour photo (scikit-image's astronaut, 512x512), shrunk for speed."""
    return Image.fromarray(skimage_data.astronaut()).resize((96, 80))


@pytest.fixture(scope="session")
def photos() -> list[Image.Image]:
    samples = [skimage_data.astronaut(), skimage_data.coffee(), skimage_data.chelsea(), skimage_data.rocket()]
    return [Image.fromarray(s).resize((72, 64)) for s in samples]


@pytest.fixture()
def random_rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
