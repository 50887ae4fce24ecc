"""The contract every hfcolor network follows, built on huggingface_hub's ``PyTorchModelHubMixin``.

Why the mixin rather than diffusers' ``ModelMixin``: it records every ``__init__`` argument in
``config.json`` by itself, saves ``model.safetensors``, writes a model card and pushes to the Hub,
with huggingface_hub as its only dependency, so a ``from_pretrained`` user of a CNN does not need
diffusers. hfcolor tightens two defaults: weights load with strict key matching, and only from
safetensors (the mixin would fall back to a pickled ``pytorch_model.bin``).

A colorizer takes the normalised L* channel (B, 1, H, W) in [-1, 1] and declares:

* ``predicts``, what its ``forward`` returns: ``"ab"`` (a*b* in [-1, 1], (B, 2, H, W)), ``"rgb"``
  (RGB in [-1, 1], (B, 3, H, W)) or ``"ab_bins"`` (class scores over ``self.quantizer``'s bins);
* ``conditions``, the named inputs it takes besides L* (a global ``embedding`` of the photo today;
  colour hints or a reference image next). Every condition is optional: a model colorizes from L*
  alone, and a condition given replaces what it would otherwise work out itself;
* ``options``, keyword arguments that change how it colorizes, not what it reads (``vividness``,
  a sampler's ``num_inference_steps``);
* ``stochastic``: whether it samples, so that a seeded ``generator`` is what makes it reproducible.

:meth:`ColorizationModel.predict_ab` turns any prediction into a*b* in [-1, 1], which is all the
colorization pipeline needs. Each network also states ``size_multiple``, the number its input's
height and width must divide by, and the base class checks it on every call.

Nothing here touches the network while a model is built or loaded: parts trained elsewhere
(ImageNet weights) are fetched by :meth:`HubModule.fetch_pretrained_parts`, which
:func:`~hfcolor.models.create_model` calls for a new model and loading never does. A model built on
another saved model (an adapter: :meth:`HubModule.own_state_dict`) loads that one first, by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file
from torch import nn

from ..color import denormalize_ab, normalize_ab, rgb_to_lab

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
    # Height and width of the input must be multiples of this (a model sets it from its depth).
    size_multiple: int = 1

    def __init__(self):
        super().__init__()
        self.register_forward_pre_hook(_check_input_size)

    def set_size_multiple(self, multiple: int, image_size: int | None = None) -> None:
        """Inputs' sides must divide by ``multiple`` (checked on every call), the working ``image_size`` too."""
        if image_size is not None and image_size % multiple:
            raise ValueError(f"image_size {image_size} must be a multiple of {multiple}")
        self.size_multiple = multiple

    def fetch_pretrained_parts(self) -> None:
        """Copy weights trained elsewhere (ImageNet) into a new model; nothing by default.

        Called by :func:`~hfcolor.models.create_model`, never by loading: a saved model holds them.
        """

    def own_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors ``model.safetensors`` holds: all of them, unless the model is built on another saved
        model, whose tensors :meth:`load_base` brings in when it loads (as a PEFT adapter leaves its base's)."""
        return self.state_dict()

    def load_base(self) -> None:
        """Load the saved model this one is built on, before its own tensors; nothing by default."""

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

    def _save_pretrained(self, save_directory: Path) -> None:
        if _holds_every_tensor(self):
            return super()._save_pretrained(save_directory)
        own = self.own_state_dict()
        save_file({key: value.contiguous() for key, value in own.items()}, Path(save_directory) / WEIGHTS_NAME)

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
        weights = _weights_file(model_id, revision, cache_dir, force_download, local_files_only, token)
        # Sized up on the meta device first, which allocates nothing: a config.json that asks for a
        # huge network, or one the weights do not fit, fails here in milliseconds.
        try:
            with torch.device("meta"):
                skeleton = cls(**model_kwargs)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{model_id}: config.json does not describe a {cls.__name__}: {error}") from error
        if strict:
            _check_weights_fit(skeleton, weights, model_id)
        model = cls(**model_kwargs)
        model.load_base()
        try:
            if _holds_every_tensor(model):
                load_model(model, weights, strict=strict, device=map_location)
            else:  # the file holds the model's own tensors only, and strict loading has checked them
                model.load_state_dict(load_file(weights, device=map_location), strict=False)
        except (RuntimeError, SafetensorError, OSError) as error:
            raise CheckpointError(
                f"{model_id}: {WEIGHTS_NAME} cannot be loaded into {cls.__name__}: {error}"
            ) from error
        return model.eval()


def _check_input_size(module: HubModule, inputs: tuple) -> None:
    height, width = inputs[0].shape[-2:]
    multiple = module.size_multiple
    if module.fixed_size and (height, width) != (module.input_size, module.input_size):
        raise ValueError(
            f"{type(module).__name__} has fully connected layers for image_size {module.input_size}; "
            f"got size {height}x{width}"
        )
    if height % multiple or width % multiple:
        raise ValueError(
            f"{type(module).__name__} needs height and width divisible by {multiple}; got {(height, width)}"
        )


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


def _holds_every_tensor(model: HubModule) -> bool:
    """Whether the model's file holds all its tensors (else it is an adapter on a model it loads first)."""
    return model.own_state_dict().keys() == model.state_dict().keys()


def _check_weights_fit(skeleton: nn.Module, weights: str, model_id: str) -> None:
    """The tensors named in the safetensors header must be exactly the model's, shape for shape."""
    expected = {key: tuple(value.shape) for key, value in skeleton.own_state_dict().items()}
    try:
        with safe_open(weights, "pt") as handle:
            found = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{model_id}: {WEIGHTS_NAME} is not a readable safetensors file ({error})") from error
    if found != expected:
        problems = [f"missing {key}" for key in expected.keys() - found.keys()]
        problems += [f"unexpected {key}" for key in found.keys() - expected.keys()]
        problems += [
            f"{key} is {found[key]} in the file, {expected[key]} by config.json"
            for key in expected.keys() & found.keys()
            if found[key] != expected[key]
        ]
        raise CheckpointError(
            f"{model_id}: the weights do not fit {type(skeleton).__name__} with this config: "
            + "; ".join(sorted(problems)[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        )


def read_config(folder_or_file: str | os.PathLike) -> dict:
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: no config.json, so this is not a saved hfcolor model")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: config.json is not valid JSON ({error})") from error
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: config.json must hold an object of settings, not a {type(config).__name__}")
    return config


class ColorizationModel(HubModule):
    """A colorizer: normalised L* (B, 1, H, W) in, what ``predicts`` names out."""

    predicts: ClassVar[str] = "ab"
    # Named inputs of ``forward`` besides L*, each optional (see the module docstring).
    conditions: ClassVar[tuple[str, ...]] = ()
    # Keyword arguments of ``predict_ab`` that change how it colorizes (not what it reads), e.g. ``vividness``.
    options: ClassVar[tuple[str, ...]] = ()
    # Whether it samples: ``predict_ab`` then takes a ``generator`` (one, or one per image).
    stochastic: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.predicts not in PREDICTIONS:
            raise TypeError(f"{cls.__name__}.predicts must be one of {PREDICTIONS}, not {cls.predicts!r}")

    def data_conditions(self) -> tuple[str, ...]:
        """The conditions training may read from a dataset column of the same name instead of computing them."""
        return self.conditions

    def training_conditions(self, lightness: torch.Tensor, ab: torch.Tensor) -> dict[str, torch.Tensor]:
        """Conditions a training batch simulates from its truth (colour hints drawn from ``ab``); none by default."""
        return {}

    def predict_ab(self, lightness: torch.Tensor, **inputs) -> torch.Tensor:
        """Normalised L* (B, 1, H, W) -> normalised a*b* (B, 2, H, W), whatever the model predicts.

        ``inputs`` are the model's named ``conditions`` (batched tensors) and ``options``.
        """
        check_inputs(self, inputs)
        output = self(lightness, **inputs)
        if self.predicts == "ab":
            return output
        if self.predicts == "rgb":
            return normalize_ab(rgb_to_lab(((output.float() + 1) / 2).clamp(0, 1))[:, 1:])
        return normalize_ab(self.quantizer.decode(output.float(), **self.decoding))


def check_inputs(model: ColorizationModel, inputs: dict, kinds: tuple[str, ...] = ("conditions", "options")) -> None:
    """Every name in ``inputs`` must be one of the model's ``kinds`` of input (a sampler's ``generator`` too)."""
    accepted = [name for kind in kinds for name in getattr(model, kind)]
    accepted += ["generator"] if model.stochastic and "options" in kinds else []
    unknown = sorted(set(inputs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{type(model).__name__} has no {' or '.join(kind[:-1] for kind in kinds)} {', '.join(unknown)} "
            f"(its {' and '.join(kinds)}: {', '.join(accepted) or 'none'})"
        )


class ClassRebalancing:
    """Zhang et al.'s class rebalancing for a model with a ``quantizer`` over joint a*b* classes.

    ``class_weights`` (Q,) is a buffer the model registers (all 1 at first), so it is saved and
    loaded with the weights; the trainer counts the training set's classes with
    :meth:`count_classes`, passes the sums to :meth:`set_class_weights`, and weights each pixel's
    loss by the entry of its nearest class. The model sets ``rebalance_mix`` and ``rebalance_sigma``.
    """

    def count_classes(self, ab: torch.Tensor) -> torch.Tensor:
        """Normalised a*b* (B, 2, H, W) -> how many pixels fall in each class (Q,); sum over the training set."""
        nearest = self.quantizer.index(denormalize_ab(ab.detach().float()))
        return torch.bincount(nearest.flatten(), minlength=self.quantizer.num_classes)

    @torch.no_grad()
    def set_class_weights(self, class_counts: torch.Tensor) -> torch.Tensor:
        """Rebalancing weights from the training set's class counts, stored in ``class_weights``."""
        if class_counts.shape != self.class_weights.shape:
            raise ValueError(
                f"need one count per class, {tuple(self.class_weights.shape)}; got {tuple(class_counts.shape)}"
            )
        weights = self.quantizer.rebalancing_weights(class_counts.cpu(), self.rebalance_mix, self.rebalance_sigma)
        return self.class_weights.copy_(weights)
