"""One call from photos to colour, for every model: ``Colorizer.from_pretrained(name)(images)``.

The model sees L* resized to its working resolution; its predicted a*b* is upsampled back to the
photo's size and merged with the photo's own full-resolution L*, so the result keeps every detail
and the exact lightness of the input (chroma is fitted into the sRGB gamut rather than clipped,
which would shift lightness).

The CLI, the Space, evaluation and the trainer's validation all colorize through this class, so a
model's options (``vividness``, a sampler's ``num_inference_steps``), its named conditions and a
sampling model's ``samples`` and ``seed`` reach it the same way from every front end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from .. import photo_color
from ..color import AB_SCALE, normalize_lightness
from ..hardware import default_threads, warn_if_bfloat16_is_emulated
from ..hints import Hints, spread_hints
from ..image_io import DEFAULT_MAX_PIXELS, ImageSource, image_lightness, load_image
from ..models import DEFAULT_MODEL, ColorizationModel, load_model
from ..models.base import check_inputs

UPSAMPLING = tuple(photo_color.UPSAMPLING)
# What from_pretrained passes on to the loader; every other keyword is a model option.
LOADING_ARGUMENTS = ("revision", "cache_dir", "token", "local_files_only", "force_download")


class Colorizer:
    """Colorize photos with any hfcolor model.

    >>> colorizer = Colorizer.from_pretrained("inception_colorizer.base")
    >>> colorizer("grandma.jpg").save("grandma_colour.png")

    Parameters:
        model: any colorizer (see ``hfcolor models``).
        device: where the model runs (default: the GPU if there is one).
        dtype: ``torch.bfloat16`` or ``torch.float16`` run the model under autocast; None keeps float32.
        upsampling: how the model's a*b* is brought to the photo's size, ``"bicubic"`` or ``"bilinear"``.
        max_pixels: larger photos are refused (decompression bombs); None accepts any size.
        options: the model's own options as defaults for every call, e.g. ``vividness`` (0-1, for
            models that offer it, such as the default ``inception_colorizer.base``: from the most
            accurate guess at 0 to the most colourful at 1) or ``num_inference_steps`` (samplers).
    """

    def __init__(
        self,
        model: ColorizationModel,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        upsampling: str = "bicubic",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        **options,
    ):
        if upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, not {upsampling!r}")
        if dtype not in (None, torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be float32, float16 or bfloat16, not {dtype}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if dtype is torch.float16 and self.device.type == "cpu":
            raise ValueError("float16 needs a GPU; use bfloat16 or float32 on the CPU")
        warn_if_bfloat16_is_emulated(self.device, dtype)
        self.options = {name: value for name, value in options.items() if value is not None}
        check_inputs(model, self.options, ("options",))
        self.model = model.to(self.device).eval()
        self.dtype, self.upsampling, self.max_pixels = dtype, upsampling, max_pixels

    @classmethod
    def from_pretrained(cls, name_or_path: str, device=None, dtype=None, **kwargs) -> Colorizer:
        """A folder, a shipped model name (see ``hfcolor models``) or a Hub id; other keywords as in ``__init__``."""
        loading = {name: kwargs.pop(name) for name in LOADING_ARGUMENTS if name in kwargs}
        return cls(load_model(name_or_path, **loading), device=device, dtype=dtype, **kwargs)

    def __call__(
        self,
        images: ImageSource | Sequence[ImageSource],
        batch_size: int = 8,
        progress: bool = False,
        *,
        samples: int = 1,
        seed: int | None = None,
        hints: Hints | Sequence[Hints | None] | None = None,
        **options,
    ) -> Image.Image | list[Image.Image] | list[list[Image.Image]]:
        """Colorize one image (returns one PIL image) or a list (returns a list, same order).

        Inputs may be paths, bytes, file objects, PIL images or uint8 arrays; colour photos are
        reduced to their L* first. Outputs have exactly the input's (upright) size. A sampling
        model gives ``samples`` colorizations of each photo (then a list per photo); with ``seed``,
        sample k of every photo draws its noise from ``seed + k``, so it keeps its colours whatever
        the number of samples. ``hints``: a :class:`~hfcolor.hints.Hints` per photo (or None), in its own
        pixels, for any model (see :meth:`predict`). ``options`` override the colorizer's for this call.
        """
        single = not isinstance(images, (list, tuple))
        batch = [images] if single else list(images)
        if hints is not None:
            hints = [hints] if single or isinstance(hints, Hints) else list(hints)
            if len(hints) != len(batch):
                raise ValueError(f"one Hints (or None) per photo: got {len(hints)} for {len(batch)} photos")
        results: list = []
        with tqdm(total=len(batch), desc="colorizing", unit="img", disable=not progress) as bar:
            for start in range(0, len(batch), batch_size):
                chunk = [
                    load_image(source, self.max_pixels, keep_gray=True) for source in batch[start : start + batch_size]
                ]
                chunk_hints = None if hints is None else hints[start : start + batch_size]
                colorized = self.colorize_images(chunk, samples=samples, seed=seed, hints=chunk_hints, **options)
                if samples > 1:
                    colorized = [colorized[i : i + samples] for i in range(0, len(colorized), samples)]
                results.extend(colorized)
                bar.update(len(chunk))
        return results[0] if single else results

    colorize = __call__

    def colorize_images(self, images: Iterable[Image.Image], **kwargs) -> list[Image.Image]:
        """Colorize already-loaded PIL images (RGB or gray) as one batch; keywords as in :meth:`predict`."""
        return [merge(lum, chroma, self.upsampling) for lum, chroma in self.predict(images, **kwargs)]

    @torch.inference_mode()
    def predict(
        self,
        images: Iterable[Image.Image],
        conditions: Mapping[str, torch.Tensor] | None = None,
        samples: int = 1,
        seed: int | None = None,
        hints: Sequence[Hints | None] | None = None,
        hint_maps: tuple[torch.Tensor, torch.Tensor] | None = None,
        **options,
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Everything but the merge, as one batch: each image's full-resolution L* (1, H, W) and the
        model's normalised a*b* (2, h, w), for :func:`merge` (which the CLI runs on another thread).

        ``conditions`` are the model's named inputs besides L*, batched in the order of ``images``.
        ``hints`` (a :class:`~hfcolor.hints.Hints` or None per image), or ``hint_maps`` (``hints`` and
        ``hint_mask`` at the model's working size, batched) steer any model: a model that takes hints
        reads them; for any other, :func:`~hfcolor.hints.spread_hints` carries each hint's correction
        over the region it falls on. With ``samples`` > 1 (sampling models only) each image comes back that
        many times in a row.
        """
        images = list(images)
        conditions = dict(conditions or {})
        if hints is not None:
            hint_maps = self.hint_maps(images, hints)
        if hint_maps is not None and "hints" in self.model.conditions:
            conditions.update(hints=hint_maps[0], hint_mask=hint_maps[1])
        check_inputs(self.model, conditions, ("conditions",))
        options = {**self.options, **{name: value for name, value in options.items() if value is not None}}
        check_inputs(self.model, options, ("options",))
        if samples < 1 or (samples > 1 and not self.model.stochastic):
            raise ValueError(f"samples must be 1 for a model that does not sample, and at least 1; got {samples}")
        lightness = [image_lightness(image) for image in images]
        batch = model_input(lightness, self.model.input_size).to(self.device)
        inputs = {name: value.to(self.device) for name, value in conditions.items()}
        if samples > 1:
            batch = batch.repeat_interleave(samples, dim=0)
            inputs = {name: value.repeat_interleave(samples, dim=0) for name, value in inputs.items()}
        if seed is not None and self.model.stochastic:
            # On the CPU whatever the device, so that a seed gives the same colours everywhere.
            inputs["generator"] = [torch.Generator().manual_seed(seed + k % samples) for k in range(len(batch))]
        with self._autocast():
            ab = self.model.predict_ab(batch, **inputs, **options).float().cpu()
        if hint_maps is not None and "hints" not in self.model.conditions:
            ab = spread_hints(ab, batch.cpu(), *(maps.repeat_interleave(samples, dim=0) for maps in hint_maps))
        return list(zip((lum for lum in lightness for _ in range(samples)), ab))

    def hint_maps(
        self, images: Sequence[Image.Image], hints: Sequence[Hints | None]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each photo's hints (in its own pixels) as ``hints`` and ``hint_mask`` at the model's working size."""
        size = self.model.input_size
        maps = [(h or Hints()).maps(image.size, size) for image, h in zip(images, hints, strict=True)]
        return torch.stack([ab for ab, _ in maps]), torch.stack([mask for _, mask in maps])

    def _autocast(self):
        if self.dtype in (torch.float16, torch.bfloat16):
            return torch.autocast(self.device.type, dtype=self.dtype)
        return contextlib.nullcontext()


def model_input(lightness: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    """Full-resolution L* maps (1, H, W) -> the normalised (B, 1, size, size) batch a model takes."""
    small = [F.interpolate(lum[None], size=(size, size), mode="bilinear", antialias=True)[0] for lum in lightness]
    return normalize_lightness(torch.stack(small))


def merge(
    lightness: torch.Tensor, ab: torch.Tensor, upsampling: str = "bicubic", threads: int | None = None
) -> Image.Image:
    """Full-resolution L* (1, H, W) in [0, 100] + normalised low-resolution a*b* (2, h, w) -> RGB image.

    ``threads``: how many stripes are merged at once (default :func:`~hfcolor.hardware.default_threads`).
    """
    return Image.fromarray(merge_pixels(lightness, ab, upsampling, threads), mode="RGB")


def merge_pixels(
    lightness: torch.Tensor, ab: torch.Tensor, upsampling: str = "bicubic", threads: int | None = None
) -> np.ndarray:
    """:func:`merge`, as uint8 RGB pixels (H, W, 3)."""
    chroma = (ab.float() * AB_SCALE).permute(1, 2, 0).numpy(force=True)
    return photo_color.merge(lightness[0].numpy(force=True), chroma, upsampling, threads or default_threads())


def gray_preview(image: Image.Image) -> Image.Image:
    """The photo as every model sees it: its own L* with no colour, through the same merge."""
    return merge(image_lightness(image), torch.zeros(2, 1, 1))


def colorize(images, model: str = DEFAULT_MODEL, vividness: float | None = None, **kwargs):
    """Shortcut: ``hfcolor.colorize("photo.jpg")``, with the flagship unless ``model`` names another."""
    return Colorizer.from_pretrained(model, vividness=vividness)(images, **kwargs)
