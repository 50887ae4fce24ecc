"""Named models, timm-style: ``family.recipe`` -> a model class and the config it is built with (often a report's).

Colorizers and the GAN discriminators share the registry; ``Recipe.is_colorizer`` tells them apart.

Each model file ends with one :func:`register` call per recipe; the first one registers the family.
:func:`load_model` resolves any name a user types: a local folder, a registered recipe with
weights shipped in the package (or in ``HFCOLOR_WEIGHTS_DIR``), or a Hub model id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

from ..hub import hub_unreachable_reason
from .base import CheckpointError, ColorizationModel, HubModule, read_config

FAMILIES: dict[str, type[HubModule]] = {}
RECIPES: dict[str, Recipe] = {}

# What colorizes wherever a user does not choose a model (hfcolor.colorize, the CLI, the Space).
DEFAULT_MODEL = "inception_colorizer.base"
# Weights the project ships live beside the package, one folder per recipe name.
SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "pretrained"


@dataclass(frozen=True)
class Recipe:
    name: str
    family: type[HubModule]
    config: dict
    description: str
    summary: str = ""  # for users choosing a model: what it is good at and its weakness (shipped models)

    @property
    def is_colorizer(self) -> bool:
        return issubclass(self.family, ColorizationModel)


def register(name: str, family: type[HubModule], config: dict, description: str, summary: str = "") -> None:
    """Name a recipe ``<family>.<recipe>``: the family class and the ``__init__`` arguments it is built with.

    ``description`` says what it is; ``summary``, for a model that ships, what a user would pick it for.
    """
    if not family.family:
        raise TypeError(f"{family.__name__} needs a class attribute `family`")
    if FAMILIES.setdefault(family.family, family) is not family:
        raise ValueError(f"family {family.family!r} belongs to {FAMILIES[family.family].__name__} already")
    if not name.startswith(family.family + "."):
        raise ValueError(f"recipe {name!r} must be named '{family.family}.<recipe>'")
    if name in RECIPES:
        raise ValueError(f"recipe {name!r} is registered twice")
    RECIPES[name] = Recipe(name, family, dict(config), description, summary)


def create_model(name: str, pretrained_parts: bool = True, **overrides) -> HubModule:
    """A new model of a registered recipe; ``overrides`` change its config.

    With ``pretrained_parts`` the parts a recipe starts from weights trained elsewhere (ImageNet)
    fetch them now (see :meth:`HubModule.fetch_pretrained_parts`); otherwise they start random.
    """
    if name not in RECIPES:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(sorted(RECIPES))}")
    recipe = RECIPES[name]
    model = recipe.family(**{**recipe.config, **overrides})
    if pretrained_parts:
        model.fetch_pretrained_parts()
    return model


def weights_dirs() -> list[Path]:
    extra = os.environ.get("HFCOLOR_WEIGHTS_DIR")
    return ([Path(extra)] if extra else []) + [SHIPPED_WEIGHTS]


def shipped_weights(name: str) -> Path | None:
    for folder in weights_dirs():
        if (folder / name / "config.json").is_file():
            return folder / name
    return None


def available_weights() -> dict[str, Path]:
    found = {}
    for folder in reversed(weights_dirs()):
        if folder.is_dir():
            found.update({p.parent.name: p.parent for p in folder.glob("*/config.json")})
    return dict(sorted(found.items()))


def load_model(name_or_path: str | os.PathLike, **kwargs) -> HubModule:
    """Load trained weights from a folder, a shipped recipe name, or a Hub id (``user/repo``)."""
    source = str(name_or_path)
    folder = Path(source) if Path(source).is_dir() else shipped_weights(source)
    if folder is not None:
        return saved_family(folder).from_pretrained(str(folder), **kwargs)
    if source in RECIPES:
        raise CheckpointError(
            f"{source}: no trained weights found (looked in {', '.join(map(str, weights_dirs()))}); "
            f"train one with train_scripts/train.py or pass a folder or Hub id"
        )
    if Path(source).exists() or source.count("/") != 1:
        raise CheckpointError(f"{source}: not a model folder, a registered model name or a Hub id 'user/repo'")
    offline = hub_unreachable_reason()
    if offline and "local_files_only" not in kwargs:
        kwargs["local_files_only"] = True  # the Hub cache still works, and a miss fails at once, not after retries
    hub_kwargs = {k: kwargs[k] for k in ("revision", "cache_dir", "token", "local_files_only") if k in kwargs}
    try:
        config = read_config(hf_hub_download(source, "config.json", **hub_kwargs))
        return _family_of(config, source).from_pretrained(source, **kwargs)
    except LocalEntryNotFoundError as error:
        raise CheckpointError(
            f"{source}: not in the local Hub cache, and the Hub cannot be used ({offline or error})"
        ) from error
    except RepositoryNotFoundError as error:
        raise CheckpointError(f"{source}: no such model repository on the Hub (or it is private: log in)") from error


def saved_family(folder: str | os.PathLike) -> type[HubModule]:
    """The class of the model saved in ``folder``, from its config.json alone (nothing is loaded)."""
    return _family_of(read_config(folder), folder)


def _family_of(config: dict, where) -> type[HubModule]:
    family = config.get("family")
    if not isinstance(family, str) or family not in FAMILIES:
        raise CheckpointError(f"{where}: config.json names family {family!r}, known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[family]
