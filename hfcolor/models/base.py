"""The contract every hfcolor colorizer follows, built on huggingface_hub's ``PyTorchModelHubMixin``.

Why the mixin rather than diffusers' ``ModelMixin``: it records every ``__init__`` argument in
``config.json`` by itself, saves ``model.safetensors``, writes a model card and pushes to the Hub,
with huggingface_hub as its only dependency, so a ``from_pretrained`` user of a CNN does not need
diffusers. hfcolor tightens two defaults: weights load with strict key matching, and only from
safetensors (the mixin would fall back to a pickled ``pytorch_model.bin``).

A model takes the normalised L* channel (B, 1, H, W) in [-1, 1] and declares in ``predicts`` what
its ``forward`` returns:

* ``"ab"``: a*b* in [-1, 1] (B, 2, H, W);
* ``"rgb"``: RGB in [-1, 1] (B, 3, H, W);
* ``"ab_bins"``: class scores over ``self.quantizer``'s a*b* bins.

:meth:`ColorizationModel.predict_ab` turns any of these into a*b* in [-1, 1], which is all the
colorize pipeline needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from safetensors.torch import load_model
from torch import nn

from ..color import normalize_ab, rgb_to_lab

PREDICTIONS = ("ab", "rgb", "ab_bins")
WEIGHTS_NAME = "model.safetensors"

MODEL_CARD = """---
{{ card_data }}
---

# {{ model_name | default("hfcolor colorizer", true) }}

An automatic photo colorizer from [hfcolor]({{ repo_url | default("https://github.com/hfcolor/hfcolor", true) }}):
it takes the lightness (L\\*) of a photo and predicts its colour (a\\*b\\*).

- Family: `{{ family }}`
- Predicts: {{ predicts }}
- Working resolution: {{ image_size }} px

```python
from hfcolor import Colorizer

colorizer = Colorizer.from_pretrained("{{ repo_id | default("path/to/this/folder", true) }}")
colorizer("old_photo.jpg").save("colorized.png")
```

{{ details | default("", true) }}
"""


class CheckpointError(ValueError):
    """Weights that do not belong to this model (wrong family, config or file)."""


class HubModule(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="hfcolor",
    tags=["image-colorization", "hfcolor"],
    pipeline_tag="image-to-image",
    license="mit",
    repo_url="https://github.com/hfcolor/hfcolor",
    model_card_template=MODEL_CARD,
):
    """Any hfcolor network that is saved, loaded and pushed: colorizers and discriminators alike."""

    family: ClassVar[str] = ""
    # Networks with a fully connected layer over the image take only ``input_size``.
    fixed_size: ClassVar[bool] = False

    @property
    def config(self) -> dict:
        """The ``__init__`` arguments, exactly as ``config.json`` stores them."""
        return dict(self._hub_mixin_config or {})

    @property
    def input_size(self) -> int:
        """The square resolution the network works at."""
        return int(self.config.get("image_size", 256))

    def example_inputs(self, batch_size: int = 1, size: int | None = None) -> tuple[torch.Tensor, ...]:
        """Random arguments for ``forward`` at ``size`` (default ``input_size``): for tests and benchmarks."""
        size = size or self.input_size
        return (torch.rand(batch_size, int(self.config.get("in_channels", 1)), size, size) * 2 - 1,)

    # -- saving and loading ------------------------------------------------------------------

    def save_pretrained(self, save_directory, *, config: dict | None = None, **kwargs):
        config = {**(config or self.config), "family": self.family}
        kwargs["model_card_kwargs"] = {
            "model_name": Path(str(save_directory)).name,
            **kwargs.get("model_card_kwargs", {}),
        }
        return super().save_pretrained(save_directory, config=config, **kwargs)

    def generate_model_card(self, *args, **kwargs):
        """The mixin's card, with what every hfcolor card states about its model."""
        kwargs = {
            "family": self.family,
            "predicts": getattr(self, "predicts", "real/fake scores (a discriminator)"),
            "image_size": self.input_size,
            **kwargs,
        }
        return super().generate_model_card(*args, **kwargs)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision,
        cache_dir,
        force_download: bool,
        local_files_only: bool,
        token,
        map_location: str = "cpu",
        strict: bool = True,
        config: dict | None = None,
        **model_kwargs,
    ):
        saved_family = (config or {}).get("family")
        if saved_family and saved_family != cls.family:
            raise CheckpointError(f"{model_id}: holds a {saved_family!r} model, not {cls.family!r}")
        model = cls(**model_kwargs)
        weights = _weights_file(model_id, revision, cache_dir, force_download, local_files_only, token)
        try:
            load_model(model, weights, strict=strict, device=map_location)
        except RuntimeError as error:
            raise CheckpointError(
                f"{model_id}: the weights do not match {cls.__name__} with this config:\n{error}"
            ) from error
        return model.eval()


def _weights_file(model_id, revision, cache_dir, force_download, local_files_only, token) -> str:
    """Only safetensors: hfcolor never unpickles downloaded files."""
    if os.path.isdir(model_id):
        path = Path(model_id) / WEIGHTS_NAME
        if not path.is_file():
            raise CheckpointError(f"{model_id}: no {WEIGHTS_NAME} in this folder (hfcolor loads safetensors only)")
        return str(path)
    return hf_hub_download(
        model_id,
        WEIGHTS_NAME,
        revision=revision,
        cache_dir=cache_dir,
        force_download=force_download,
        local_files_only=local_files_only,
        token=token,
    )


def read_config(folder_or_file: str | os.PathLike) -> dict:
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: no config.json, so this is not a saved hfcolor model")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: config.json is not valid JSON ({error})") from error


class ColorizationModel(HubModule):
    """A colorizer: normalised L* (B, 1, H, W) in, what ``predicts`` names out."""

    predicts: ClassVar[str] = "ab"
    # Whether ``forward(lightness, embedding=...)`` takes a precomputed global embedding of each photo.
    takes_embedding: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.predicts not in PREDICTIONS:
            raise TypeError(f"{cls.__name__}.predicts must be one of {PREDICTIONS}, not {cls.predicts!r}")

    def predict_ab(self, lightness: torch.Tensor) -> torch.Tensor:
        """Normalised L* (B, 1, H, W) -> normalised a*b* (B, 2, H, W), whatever the model predicts."""
        output = self(lightness)
        if self.predicts == "ab":
            return output
        if self.predicts == "rgb":
            return normalize_ab(rgb_to_lab(((output.float() + 1) / 2).clamp(0, 1))[:, 1:])
        return normalize_ab(self.quantizer.decode(output.float(), **self.decoding))
