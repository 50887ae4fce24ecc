"""Opening and saving the images people actually have, with clear errors for the ones we can't use.

Everything that comes in leaves as an upright 8-bit RGB ``PIL.Image``: EXIF rotation applied,
transparency composited on white, CMYK / palette / 16-bit / gray converted. Anything unusable
raises :class:`ImageReadError`, which names the file and says what is wrong.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .hardware import default_threads
from .photo_color import photo_lightness

# A 4000x3000 phone photo is 12 MP; 8000x8000 (64 MP) leaves room for scans while refusing the
# decompression bombs that claim gigapixels in a few kilobytes.
DEFAULT_MAX_PIXELS = 64_000_000
# File names taken for images when a folder is read (the CLI, push_dataset, benchmarks).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
# zlib level 1 writes a colorized photo 3.5-4x faster than PIL's default 6, for a file 1-20% larger
# (benchmarks/bench_colour.py); OpenCV's encoder is no faster at the same level.
PNG_COMPRESS_LEVEL = 1
_ORIENTATION = 0x0112  # the EXIF tag

# Pillow builds each image from 16 MB blocks and by default hands them back to the system when the
# image is freed; fresh memory then faults in 4 KB at a time, so making a 12 MP image took 30 ms
# where kept blocks take 3 (every photo the CLI reads or writes). Keep up to 8 blocks (128 MB)
# unless the user chose a number (PILLOW_BLOCKS_MAX).
if "PILLOW_BLOCKS_MAX" not in os.environ:
    Image.core.set_blocks_max(8)

ImageSource = str | os.PathLike | bytes | BinaryIO | Image.Image | np.ndarray


class ImageReadError(ValueError):
    """An input that cannot be used as a photo; the message names the file and the problem."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
        self.source, self.problem = source, problem


def describe(source: ImageSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    return getattr(source, "name", None) or f"<{type(source).__name__}>"


def load_image(
    source: ImageSource, max_pixels: int | None = DEFAULT_MAX_PIXELS, keep_gray: bool = False
) -> Image.Image:
    """Open a path, bytes, file object, PIL image or uint8 array as an upright 8-bit RGB image.

    Raises :class:`ImageReadError` for missing, empty, truncated, corrupt, non-image or oversized
    inputs (more than ``max_pixels``; ``None`` disables the limit). With ``keep_gray``, gray photos
    come back as 8-bit gray (mode L) instead: all that colorizing needs, and a third of the memory.
    """
    if not isinstance(source, (Image.Image, np.ndarray, bytes, bytearray, str, os.PathLike)) and not hasattr(
        source, "read"
    ):
        raise TypeError(
            f"cannot read an image from {type(source).__name__}: pass a path, bytes, a file object, "
            "a PIL image or a uint8 array"
        )
    name = describe(source)
    if isinstance(source, Image.Image):
        image = _check_size(source, name, max_pixels)
    elif isinstance(source, np.ndarray):
        image = _check_size(_from_array(source, name), name, max_pixels)
    else:
        image = open_image(source, max_pixels)
    try:
        image.seek(0)  # GIF, TIFF and WebP animations: the first frame
    except (AttributeError, EOFError):
        pass
    opened = None if isinstance(source, (Image.Image, np.ndarray)) else image  # a file this call opened
    result = None
    try:
        image.load()
        if image.getexif().get(_ORIENTATION, 1) != 1:  # exif_transpose would copy an upright photo too
            image = ImageOps.exif_transpose(image)
        result = _to_rgb(image, keep_gray)
        return result
    except (OSError, SyntaxError, ValueError) as error:  # PIL reports truncation and bad data as these
        raise ImageReadError(name, f"the image data is truncated or corrupt ({error})") from error
    finally:
        if opened is not None and opened is not result:
            opened.close()  # PIL keeps an animation's file open, or a file it failed to read; the result is a copy


def open_image(
    source: str | os.PathLike | bytes | BinaryIO, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """A path, bytes or file object opened as PIL opens it: the header read, no pixel decoded yet.

    Raises :class:`ImageReadError` as :func:`load_image` does, the size limit included, so that an
    oversized file is refused before its pixels take any memory.
    """
    name = describe(source)
    image = _open(source, name)
    try:
        return _check_size(image, name, max_pixels)
    except ImageReadError:
        image.close()  # the file, when PIL opened it
        raise


def _check_size(image: Image.Image, name: str, max_pixels: int | None) -> Image.Image:
    width, height = image.size
    if width == 0 or height == 0:
        raise ImageReadError(name, f"the image has zero size ({width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageReadError(
            name, f"the image is {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,}"
        )
    return image


def _open(source, name: str) -> Image.Image:
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageReadError(name, "no such file")
        if path.is_dir():
            raise ImageReadError(name, "is a folder, not an image file")
        if path.stat().st_size == 0:
            raise ImageReadError(name, "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # PIL's own bomb check would warn or fail with its limit; ours is applied above.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                return Image.open(source)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except UnidentifiedImageError as error:
        raise ImageReadError(name, "not an image, or an image format that cannot be read") from error
    except OSError as error:
        raise ImageReadError(name, f"the image data is truncated or corrupt ({error})") from error


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    if array.dtype != np.uint8:
        raise ImageReadError(name, f"arrays must be uint8 (H, W) or (H, W, 3|4); got {array.dtype}")
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        return Image.fromarray(array)
    raise ImageReadError(name, f"arrays must be (H, W) or (H, W, 3|4); got shape {array.shape}")


def _to_rgb(image: Image.Image, keep_gray: bool = False) -> Image.Image:
    mode = image.mode
    if mode == "RGB" or (mode == "L" and keep_gray):
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        return _to_rgb(image)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode.startswith("I") or mode == "F":
        # 16-bit and 32-bit gray: scale to 8 bits instead of letting PIL clip at 255.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        if mode == "F":
            top = 1.0 if values.max() <= 1.0 else top
        gray = Image.fromarray(np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8))
        return gray if keep_gray else gray.convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float32 tensor (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0


def image_lightness(image: Image.Image) -> torch.Tensor:
    """The gray L* channel the models take, (1, H, W) float32 in [0, 100], of an RGB or gray (L) image."""
    if image.mode not in ("RGB", "L"):
        raise ValueError(f"expected an RGB or gray (L) image, not mode {image.mode} (load_image converts any)")
    return torch.from_numpy(photo_lightness(np.asarray(image, dtype=np.uint8), default_threads()))[None]


def save_image(image: Image.Image, path: str | os.PathLike, jpeg_quality: int = 95) -> Path:
    """Write PNG or JPEG (by suffix). Pixels are already upright, so no orientation tag is written.

    Atomic: the image goes to a temporary file beside ``path``, renamed over it once complete, so an
    interrupted write never leaves a half-written image (nor damages one already there).
    """
    path = Path(path)
    image_format = SAVE_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise ValueError(f"{path}: cannot save as {path.suffix or 'no suffix'!r}; use one of {sorted(SAVE_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    options = (
        {"quality": jpeg_quality, "subsampling": 0}
        if image_format == "JPEG"
        else {"compress_level": PNG_COMPRESS_LEVEL}
    )
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        (image if image.mode == "RGB" else image.convert("RGB")).save(
            partial, format=image_format, **options
        )  # no copy
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
