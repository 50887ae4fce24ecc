"""One call from photos to colour: ``Colorizer.from_pretrained(name)(images)``.

The model sees L* resized to its working resolution; its predicted a*b* is upsampled back to the
photo's size and merged with the photo's own full-resolution L*, so the result keeps every detail
and the exact lightness of the input (chroma is fitted into the sRGB gamut rather than clipped,
which would shift lightness).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from . import photo_color
from .color import AB_SCALE, normalize_lightness
from .hardware import default_threads, warn_if_bfloat16_is_emulated
from .image_io import DEFAULT_MAX_PIXELS, ImageSource, image_lightness, load_image
from .models import DEFAULT_MODEL, ColorizationModel, load_model
from .models.base import check_options

UPSAMPLING = tuple(photo_color.UPSAMPLING)


class Colorizer:
    """Colorize photos with any hfcolor model.

    >>> colorizer = Colorizer.from_pretrained("inception_colorizer.base")
    >>> colorizer("grandma.jpg").save("grandma_colour.png")

    ``vividness`` (0-1, for models that offer it, such as the default ``inception_colorizer.base``)
    moves the colours from the most accurate guess (0) to the most colourful one (1); ``None`` keeps
    the model's own default.
    """

    def __init__(
        self,
        model: ColorizationModel,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        upsampling: str = "bicubic",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        vividness: float | None = None,
    ):
        if upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, not {upsampling!r}")
        if dtype not in (None, torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be float32, float16 or bfloat16, not {dtype}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if dtype is torch.float16 and self.device.type == "cpu":
            raise ValueError("float16 needs a GPU; use bfloat16 or float32 on the CPU")
        warn_if_bfloat16_is_emulated(self.device, dtype)
        self.options = {} if vividness is None else {"vividness": vividness}
        check_options(model, self.options)
        self.model = model.to(self.device).eval()
        self.dtype, self.upsampling, self.max_pixels = dtype, upsampling, max_pixels

    @classmethod
    def from_pretrained(cls, name_or_path: str, device=None, dtype=None, **kwargs) -> Colorizer:
        """A folder, a shipped model name (see ``hfcolor models``) or a Hub id."""
        options = {k: kwargs.pop(k) for k in ("upsampling", "max_pixels", "vividness") if k in kwargs}
        return cls(load_model(name_or_path, **kwargs), device=device, dtype=dtype, **options)

    def __call__(
        self, images: ImageSource | Sequence[ImageSource], batch_size: int = 8, progress: bool = False
    ) -> Image.Image | list[Image.Image]:
        """Colorize one image (returns one PIL image) or a list (returns a list, same order).

        Inputs may be paths, bytes, file objects, PIL images or uint8 arrays; colour photos are
        reduced to their L* first. Outputs have exactly the input's (upright) size.
        """
        single = not isinstance(images, (list, tuple))
        batch = [images] if single else list(images)
        results: list[Image.Image] = []
        with tqdm(total=len(batch), desc="colorizing", unit="img", disable=not progress) as bar:
            for start in range(0, len(batch), batch_size):
                chunk = [load_image(source, self.max_pixels) for source in batch[start : start + batch_size]]
                results.extend(self.colorize_images(chunk))
                bar.update(len(chunk))
        return results[0] if single else results

    colorize = __call__

    def colorize_images(self, images: Iterable[Image.Image]) -> list[Image.Image]:
        """Colorize already-loaded RGB PIL images as one batch."""
        return [merge(lum, chroma, self.upsampling) for lum, chroma in self.predict(images)]

    @torch.inference_mode()
    def predict(self, images: Iterable[Image.Image]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Everything but the merge, as one batch: each image's full-resolution L* (1, H, W) and the
        model's normalised a*b* (2, h, w), for :func:`merge` (which the CLI runs on another thread)."""
        lightness = [image_lightness(image) for image in images]
        with self._autocast():
            ab = self.model.predict_ab(model_input(lightness, self.model.input_size).to(self.device), **self.options)
        return list(zip(lightness, ab.float().cpu()))

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
    chroma = (ab.float() * AB_SCALE).permute(1, 2, 0).numpy(force=True)
    rgb = photo_color.merge(lightness[0].numpy(force=True), chroma, upsampling, threads or default_threads())
    return Image.fromarray(rgb, mode="RGB")


def colorize(images, model: str = DEFAULT_MODEL, vividness: float | None = None, **kwargs):
    """Shortcut: ``hfcolor.colorize("photo.jpg")``, with the flagship unless ``model`` names another."""
    return Colorizer.from_pretrained(model, vividness=vividness)(images, **kwargs)
