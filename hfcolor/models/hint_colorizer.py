"""The flagship with colour hints: a person's clicks or strokes steer its colours (beyond every report).

After Zhang et al., "Real-Time User-Guided Image Colorization with Learned Deep Priors" (SIGGRAPH
2017): the network takes L* plus a sparse map of a*b* hints and their mask, and is trained with hints
simulated from the truth, so that it learns to spread a hint over the object it falls on. Here the
network is hfcolor's flagship (:class:`~.inception_colorizer.InceptionColorizer`), and the hints join
its decoder at every scale it fuses (the encoder sees the gray photo only).

Where we deviate from Zhang et al.:

* The hints are added to the decoder's features (masked-average pooled to each scale, through a 3x3
  convolution that starts at zero) instead of entering the first layer: the ImageNet encoder stays
  frozen, and a new model starts as exactly the flagship it is copied from (``start_from``).
* Its output goes through :func:`hfcolor.hints.spread_hints` (each hint's correction spread over the
  cells of similar lightness), and it trains through that step (loss ``l2`` on the result), so the
  network learns what the spreading cannot do; Zhang et al.'s network spreads the hints alone.
* With the flagship frozen (``freeze_flagship``), a saved model holds its hint layers only and loads
  the flagship from ``start_from`` first, as a PEFT adapter loads its base model.
* No global colour histogram input.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..hints import simulate_hints, spread_hints
from .inception_colorizer import InceptionColorizer
from .registry import load_model, register

MAX_TRAINING_HINTS = 100


class HintColorizer(InceptionColorizer):
    """:class:`~.inception_colorizer.InceptionColorizer` that also takes ``hints`` (B, 2, H, W) and ``hint_mask``
    (B, 1, H, W) at its working size (see :mod:`hfcolor.hints`); with none, it colorizes from L* alone.

    Parameters:
        image_size: working resolution in pixels (square); at least 75, the encoder's minimum.
        encoder_layers: InceptionV3 layers read as the pyramid, fine to coarse.
        decoder_channels: width of the decoder at each pyramid scale, fine to coarse (one per layer).
        lightness_channels: widths of the full-resolution L* branch at strides 1, 2 and 4.
        grid_size: a*b* cell size of the classification head's classes.
        temperature: annealed-mean temperature of the classification head.
        vividness: default blend between the regression (0) and the classification head (1).
        rebalance_mix: weight of the uniform prior in the class rebalancing.
        rebalance_sigma: Gaussian smoothing of the colour prior, in a*b* units.
        start_from: the trained flagship a new model copies (its network; the hint layers start at zero);
            with ``freeze_flagship``, also the one a saved model loads first, its file holding the hint
            layers only. "" for none: the model stands alone.
        no_hint_share: in training, the share of photos given no hint at all (so that it still colorizes alone;
            with the flagship frozen it does anyway, and such photos teach it nothing).
        mean_hints: in training, the mean number of hints of the others (geometric, at most 100).
        max_hint_patch: in training, each simulated hint is a square of 1 to this many cells.
        freeze_flagship: train the hint layers only; the rest (BatchNorm statistics too) stays the flagship's,
            so that with no hint it colorizes exactly as the flagship does.
    """

    family = "hint_colorizer"
    conditions: ClassVar[tuple[str, ...]] = ("hints", "hint_mask")

    def __init__(
        self,
        image_size: int = 224,
        encoder_layers: list[str] = ["mixed_2", "mixed_7", "mixed_10"],  # noqa: B006 (a list: config.json's type)
        decoder_channels: list[int] = [96, 128, 192],  # noqa: B006
        lightness_channels: list[int] = [8, 8, 16],  # noqa: B006
        grid_size: float = 10.0,
        temperature: float = 0.38,
        vividness: float = 0.5,
        rebalance_mix: float = 0.5,
        rebalance_sigma: float = 5.0,
        start_from: str = "inception_colorizer.base",
        no_hint_share: float = 0.0,
        mean_hints: float = 8.0,
        max_hint_patch: int = 5,
        freeze_flagship: bool = True,
    ):
        super().__init__(
            image_size=image_size,
            encoder_layers=encoder_layers,
            decoder_channels=decoder_channels,
            lightness_channels=lightness_channels,
            grid_size=grid_size,
            temperature=temperature,
            vividness=vividness,
            rebalance_mix=rebalance_mix,
            rebalance_sigma=rebalance_sigma,
        )
        if not 0 <= no_hint_share <= 1 or not mean_hints >= 1 or not max_hint_patch >= 1:
            raise ValueError("no_hint_share is a share (0-1), mean_hints at least 1, max_hint_patch at least 1")
        self.start_from = start_from
        self.no_hint_share, self.mean_hints, self.max_hint_patch = no_hint_share, mean_hints, max_hint_patch
        # (hinted a*b*, hint density) -> each stage's features; zero at first, so the model starts as the flagship.
        self.hint_layers = nn.ModuleList(nn.Conv2d(3, width, 3, padding=1, bias=False) for width in self.stage_widths())
        for layer in self.hint_layers:
            nn.init.zeros_(layer.weight)
        self.freeze_flagship = freeze_flagship
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name.startswith("hint_layers.") or not freeze_flagship)

    def train(self, mode: bool = True) -> HintColorizer:
        super().train(mode)
        if self.freeze_flagship:  # the flagship's BatchNorm statistics must not move either
            for name, module in self.named_children():
                if name != "hint_layers":
                    module.eval()
        return self

    def fetch_pretrained_parts(self) -> None:
        if self.start_from:
            self._copy_flagship()

    def own_state_dict(self) -> dict[str, torch.Tensor]:
        """Built on a frozen flagship (``start_from``, ``freeze_flagship``), the hint layers alone (24 kB in
        fp16): loading takes the rest from ``start_from``, so a saved hint model is an adapter on it."""
        state = super().own_state_dict()
        if not self._is_adapter():
            return state
        return {key: value for key, value in state.items() if key.startswith("hint_layers.")}

    def load_base(self) -> None:
        if self._is_adapter():
            self._copy_flagship()

    def _is_adapter(self) -> bool:
        return bool(self.start_from) and self.freeze_flagship

    def _copy_flagship(self) -> None:
        source = load_model(self.start_from)
        # The flagship's config must be this model's, key for key (the hint settings are this model's own).
        if not isinstance(source, InceptionColorizer) or any(self.config.get(k) != v for k, v in source.config.items()):
            raise ValueError(f"start_from {self.start_from!r} is not an inception_colorizer of this config")
        missing, unexpected = self.load_state_dict(source.state_dict(), strict=False)
        if unexpected or any(not key.startswith("hint_layers.") for key in missing):
            raise ValueError(f"start_from {self.start_from!r}: unexpected {unexpected}, missing {missing}")

    def forward(
        self,
        lightness: torch.Tensor,
        hints: torch.Tensor | None = None,
        hint_mask: torch.Tensor | None = None,
        vividness: float | None = None,
        return_heads: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Normalised L* (B, 1, H, W) and optional hints at the same size -> a*b* in [-1, 1] (as the flagship)."""
        if (hints is None) != (hint_mask is None):
            raise ValueError("hints and hint_mask go together")
        if hints is None:  # no hint: the same layers on zeros, so training and inference take one path
            hints, hint_mask = (
                lightness.new_zeros(len(lightness), 2, *lightness.shape[-2:]),
                lightness.new_zeros(len(lightness), 1, *lightness.shape[-2:]),
            )
        if hints.shape[-2:] != lightness.shape[-2:] or hint_mask.shape[-2:] != lightness.shape[-2:]:
            raise ValueError(
                f"hints must be at the L* size {tuple(lightness.shape[-2:])}; got {tuple(hints.shape[-2:])}"
            )
        hint_input = torch.cat([hints * hint_mask, hint_mask], dim=1).to(lightness.dtype)

        def guide(stage: int, features: torch.Tensor) -> torch.Tensor:
            return self.hint_layers[stage](_pooled(hint_input, features.shape[-2:]))

        colours = self.blend(self.heads(lightness, guide), vividness, return_heads)
        # The model's own colours, then each hint's correction spread over its region: the model learns
        # through that step, so it adds what the spreading cannot.
        return colours if return_heads else spread_hints(colours, lightness, hints, hint_mask)

    def data_conditions(self) -> tuple[str, ...]:
        """None: hints are drawn afresh from every training photo's truth, never read from the data."""
        return ()

    def training_conditions(self, lightness: torch.Tensor, ab: torch.Tensor) -> dict[str, torch.Tensor]:
        counts = torch.distributions.Geometric(probs=torch.tensor(1 / self.mean_hints)).sample((len(ab),)) + 1
        counts[torch.rand(len(ab)) < self.no_hint_share] = 0
        hints, mask = simulate_hints(ab, counts.clamp(max=MAX_TRAINING_HINTS).int().tolist(), None, self.max_hint_patch)
        return {"hints": hints, "hint_mask": mask}


def _pooled(hint_input: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(hinted a*b*, mask) at ``size``: the mean hinted colour of each cell, and the share of it hinted."""
    if tuple(hint_input.shape[-2:]) == tuple(size):
        return hint_input
    pooled = F.adaptive_avg_pool2d(hint_input, size)
    density = pooled[:, 2:]
    return torch.cat([pooled[:, :2] / density.clamp(min=1e-6), density], dim=1)


register(
    "hint_colorizer.base",
    HintColorizer,
    {},
    "the flagship steered by colour hints (Zhang et al. 2017's user-guided colorization): starts as "
    "inception_colorizer.base, hints simulated from the truth join its decoder at every scale",
    summary="for colour hints: the default model exactly without them, and the best with them",
)
