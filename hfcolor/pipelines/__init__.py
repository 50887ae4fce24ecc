"""Pipelines: photos in, colour photos out.

* :class:`Colorizer` runs every hfcolor model, and is what the CLI, the Space, evaluation and
  training validation call.
* :class:`DiffusionColorizationPipeline` is the same task as a diffusers ``DiffusionPipeline``
  for the ``diffusion`` family (save, load and offload it like any diffusers pipeline); it needs
  the optional diffusers, so it is imported on first use.
"""

from .colorization import Colorizer, colorize, gray_preview, merge, model_input

__all__ = ["Colorizer", "DiffusionColorizationPipeline", "colorize", "gray_preview", "merge", "model_input"]


def __getattr__(name: str):
    if name == "DiffusionColorizationPipeline":
        from .diffusion import DiffusionColorizationPipeline

        return DiffusionColorizationPipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
