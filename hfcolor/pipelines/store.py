"""Models offered by name to a server (the Space), each loaded once on first use and kept.

A name may be found on the Hub (``<org>/<name>``) and in local weights; the Hub is tried first. A
model that fails to load keeps its error, so a broken one costs one attempt, not one per request.
"""

from __future__ import annotations

import contextlib
import functools
import html
import threading
from pathlib import Path

from ..models import DEFAULT_MODEL, RECIPES, CheckpointError, available_weights, load_model
from ..models.base import read_config
from ..models.registry import saved_family
from .colorization import Colorizer


class ModelLoadError(RuntimeError):
    pass


class ModelStore:
    """The models offered, each loaded on first use (Hub id first, then local weights) and kept, a failure too."""

    def __init__(self, folders: dict[str, Path], hub_ids: dict[str, str], missing: list[str]):
        # The flagship first: it is the one pre-selected.
        self.names = sorted(set(folders) | set(hub_ids), key=lambda name: (name != DEFAULT_MODEL, name))
        self.folders, self.hub_ids, self.missing = folders, hub_ids, missing
        self._loaded: dict[str, tuple[Colorizer, str] | ModelLoadError] = {}
        self._families: dict[str, type] = {}
        self._locks = {name: threading.Lock() for name in self.names}

    @property
    def recommended(self) -> str | None:
        """The model to use when none is chosen: the default model if offered (it comes first), else the first."""
        return self.names[0] if self.names else None

    @classmethod
    def discover(cls, models: list[str] | None = None, weights_dir=None, hub_org: str = "") -> ModelStore:
        """Offer ``models`` (default: every colorizer with saved weights, shipped or in ``weights_dir``)."""
        weights = available_weights()
        if weights_dir is not None:
            weights.update({p.parent.name: p.parent for p in Path(weights_dir).glob("*/config.json")})
        models = [n for n in weights if n not in RECIPES or RECIPES[n].is_colorizer] if models is None else models
        hub_ids = {name: f"{hub_org}/{name}" for name in models} if hub_org else {}
        folders = {name: weights[name] for name in models if name in weights}
        colorizers = {name for name, recipe in RECIPES.items() if recipe.is_colorizer}
        return cls(folders, hub_ids, sorted((colorizers | set(models)) - set(folders) - set(hub_ids)))

    def get(self, name: str) -> tuple[Colorizer, str]:
        """(colorizer, where its weights came from); raises :class:`ModelLoadError`, the same one every time."""
        with self._locks[name]:
            entry = self._loaded[name] = self._loaded.get(name) or self._load(name)
        if isinstance(entry, ModelLoadError):
            raise entry
        return entry

    def load_all(self) -> None:
        for name in self.names:
            with contextlib.suppress(ModelLoadError):  # recorded; the page shows it
                self.get(name)

    def _load(self, name: str) -> tuple[Colorizer, str] | ModelLoadError:
        sources = [(self.hub_ids[name], f"Hub {self.hub_ids[name]}")] if name in self.hub_ids else []
        problems = []
        for source, label in sources + ([(self.folders[name], "local weights")] if name in self.folders else []):
            try:  # offline, a Hub id fails in seconds (hfcolor checks reachability once) unless it is cached
                return Colorizer(load_model(source), max_pixels=None), label
            except Exception as error:  # noqa: BLE001  (a model failing to load must leave the others working)
                problems.append(f"{label}: {error}")
        return ModelLoadError("; ".join(problems))

    def family(self, name: str) -> type | None:
        """The class of model ``name`` is, known before it loads from its saved config or recipe (None: unknown)."""
        if isinstance(entry := self._loaded.get(name), tuple):
            return type(entry[0].model)
        if name not in self._families:  # read once: the page asks on every change of the chosen models
            try:  # a Hub-only model of no registered name is known once loaded
                self._families[name] = (
                    saved_family(self.folders[name]) if name in self.folders else RECIPES[name].family
                )
            except (KeyError, CheckpointError):
                return None
        return self._families[name]

    def samples(self, name: str) -> bool:
        """Whether ``name`` samples (takes samples, steps and a seed)."""
        return getattr(self.family(name), "stochastic", False)

    def options(self, name: str) -> tuple[str, ...]:
        """The options ``name`` takes beside the photo (such as ``vividness``)."""
        return getattr(self.family(name), "options", ())

    def for_hints(self, name: str) -> str:
        """The model to run on a photo with colour hints: an offered model that takes them and is built on
        ``name`` (its saved config's ``start_from``), else ``name`` itself (hints then spread over its colours)."""
        return self._hint_models.get(name, name)

    @property
    def comparable(self) -> list[str]:
        """The models worth comparing: all offered but those built for hints on another offered one (with no
        hint, such a model gives that one's colours exactly)."""
        return [name for name in self.names if name not in self._hint_models.values()]

    @functools.cached_property
    def _hint_models(self) -> dict[str, str]:
        """{offered model: the offered hint model built on it}, read once from the saved configs."""
        found = {}
        for name in self.names:
            if "hints" in getattr(self.family(name), "conditions", ()) and name in self.folders:
                base = read_config(self.folders[name]).get("start_from")
                if base in self.names and base != name:
                    found.setdefault(base, name)
        return found

    def summary(self, name: str) -> str:
        """The registry's line on what ``name`` is good for and its weakness ("" for a model it does not know)."""
        return RECIPES[name].summary if name in RECIPES else ""

    def status(self, name: str) -> str:
        if isinstance(entry := self._loaded.get(name), ModelLoadError):
            return f"failed to load: {str(entry).splitlines()[0]}"
        return f"loaded from {entry[1]}" if entry else "not loaded yet"

    def status_markdown(self) -> str:
        lines = [
            f"- `{name}`: {html.escape(self.status(name))}"
            + (f" — {html.escape(s)}" if (s := self.summary(name)) else "")
            for name in self.names
        ]
        lines += [] if self.names else ["- none: no model has trained weights yet"]
        if self.missing:
            lines.append(f"\n**Not found** (no trained weights): {', '.join(f'`{n}`' for n in self.missing)}")
        return "**Models**\n\n" + "\n".join(lines)
