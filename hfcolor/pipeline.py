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

from .color import AB_SCALE, fit_to_gamut, lab_to_rgb, normalize_lightness
from .image_io import DEFAULT_MAX_PIXELS, ImageSource, image_lightness, load_image
from .models import DEFAULT_MODEL, ColorizationModel, load_model
from .models.base import check_options

UPSAMPLING = ("bilinear", "bicubic")
# Merging at full resolution runs in horizontal stripes so a 4000x3000 photo stays well under 1 GB.
_STRIPE_ROWS = 512


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

    @torch.inference_mode()
    def colorize_images(self, images: Iterable[Image.Image]) -> list[Image.Image]:
        """Colorize already-loaded RGB PIL images as one batch."""
        lightness = [image_lightness(image) for image in images]
        with self._autocast():
            ab = self.model.predict_ab(model_input(lightness, self.model.input_size).to(self.device), **self.options)
        ab = ab.float().cpu()
        return [merge(lum, chroma, self.upsampling) for lum, chroma in zip(lightness, ab)]

    def _autocast(self):
        if self.dtype in (torch.float16, torch.bfloat16):
            return torch.autocast(self.device.type, dtype=self.dtype)
        return contextlib.nullcontext()


def model_input(lightness: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    """Full-resolution L* maps (1, H, W) -> the normalised (B, 1, size, size) batch a model takes."""
    small = [F.interpolate(lum[None], size=(size, size), mode="bilinear", antialias=True)[0] for lum in lightness]
    return normalize_lightness(torch.stack(small))


def merge(lightness: torch.Tensor, ab: torch.Tensor, upsampling: str = "bicubic") -> Image.Image:
    """Full-resolution L* (1, H, W) in [0, 100] + normalised low-resolution a*b* (2, h, w) -> RGB image."""
    height, width = lightness.shape[-2:]
    ab = ab[None].float()
    rgb = torch.empty(height, width, 3, dtype=torch.uint8)
    for top in range(0, height, _STRIPE_ROWS):
        rows = min(_STRIPE_ROWS, height - top)
        stripe = _resize_rows(ab, height, width, top, rows, upsampling).clamp(-1, 1) * AB_SCALE
        lab = torch.cat([lightness[:, top : top + rows], stripe[0]], dim=0)
        rgb[top : top + rows] = (lab_to_rgb(fit_to_gamut(lab)) * 255).round_().to(torch.uint8).permute(1, 2, 0)
    return Image.fromarray(rgb.numpy(), mode="RGB")


def _resize_rows(ab: torch.Tensor, height: int, width: int, top: int, rows: int, mode: str) -> torch.Tensor:
    """Rows [top, top + rows) of ``ab`` resized to (height, width), without building the whole image.

    Stripes join seamlessly because every row is sampled where the whole-image resize would sample it.
    """
    # With align_corners=False, output pixel i samples the input at normalised coordinate
    # (i + 0.5) / size * 2 - 1 whatever the input size, exactly as F.interpolate does.
    grid_y = (torch.arange(top, top + rows, dtype=torch.float32) + 0.5) / height * 2 - 1
    grid_x = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 - 1
    grid = torch.stack(torch.meshgrid(grid_y, grid_x, indexing="ij")[::-1], dim=-1)[None]
    return F.grid_sample(ab, grid, mode=mode, padding_mode="border", align_corners=False)


def colorize(images, model: str = DEFAULT_MODEL, vividness: float | None = None, **kwargs):
    """Shortcut: ``hfcolor.colorize("photo.jpg")``, with the flagship unless ``model`` names another."""
    return Colorizer.from_pretrained(model, vividness=vividness)(images, **kwargs)
