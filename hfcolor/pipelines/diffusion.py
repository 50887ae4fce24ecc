"""A diffusers pipeline for the ``diffusion`` family: photos in, several colorizations per photo out.

It holds the two diffusers modules, ``unet`` and ``scheduler``, so it saves, loads and offloads like
any diffusers pipeline. :class:`~.colorization.Colorizer` runs the same models with the same
sampling (``samples``, ``seed``, ``num_inference_steps``); this class is for diffusers users.

>>> pipe = DiffusionColorizationPipeline.from_colorizer(load_model("path/to/diffusion-model"))
>>> pipe(photo, num_images_per_prompt=4, generator=torch.Generator().manual_seed(0)).images
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from diffusers import DiffusionPipeline, SchedulerMixin, UNet2DModel
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput

from ..image_io import DEFAULT_MAX_PIXELS, ImageSource, image_lightness, image_to_tensor, load_image
from ..models.diffusion import DiffusionColorizer, sample_ab
from .colorization import merge, model_input

OUTPUT_TYPES = ("pil", "np", "pt")


class DiffusionColorizationPipeline(DiffusionPipeline):
    """Colorize photos with a ``diffusion`` model; each seed gives one plausible colorization.

    The model works at ``unet.config.sample_size``; its a*b* is upsampled and merged with each
    photo's full-resolution L*, so outputs keep the input's size and exact lightness.
    """

    model_cpu_offload_seq = "unet"

    def __init__(self, unet: UNet2DModel, scheduler: SchedulerMixin):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    @classmethod
    def from_colorizer(cls, model: DiffusionColorizer) -> DiffusionColorizationPipeline:
        """A pipeline sharing ``model``'s UNet, sampling with DDIM on its training noise schedule."""
        return cls(unet=model.unet, scheduler=model.sampling_scheduler())

    @torch.no_grad()
    def __call__(
        self,
        image: ImageSource | Sequence[ImageSource],
        num_inference_steps: int = 25,
        generator: torch.Generator | list[torch.Generator] | None = None,
        num_images_per_prompt: int = 1,
        output_type: str = "pil",
        return_dict: bool = True,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
    ) -> ImagePipelineOutput | tuple:
        """Colorize one photo or a list: ``num_images_per_prompt`` samples each, photo by photo.

        ``image`` is anything :func:`hfcolor.load_image` opens (path, bytes, PIL image, uint8 array).
        ``generator`` is one ``torch.Generator`` or a list with one per output image. ``.images`` is
        a list of PIL images (``"pil"``), float (H, W, 3) arrays in [0, 1] (``"np"``) or (3, H, W)
        tensors in [0, 1] (``"pt"``), each at its photo's size; a list because photos may differ in size.
        """
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, not {output_type!r}")
        if num_images_per_prompt < 1:
            raise ValueError(f"num_images_per_prompt must be at least 1, not {num_images_per_prompt}")
        sources = list(image) if isinstance(image, (list, tuple)) else [image]
        lightness = [image_lightness(load_image(source, max_pixels, keep_gray=True)) for source in sources]
        if isinstance(generator, list) and len(generator) != len(lightness) * num_images_per_prompt:
            raise ValueError(
                f"got {len(generator)} generators for {len(lightness)} images x {num_images_per_prompt} per image"
            )
        small = model_input(lightness, self.unet.config.sample_size).repeat_interleave(num_images_per_prompt, dim=0)
        small = small.to(self._execution_device, self.unet.dtype)
        ab = sample_ab(self.unet, self.scheduler, small, num_inference_steps, generator, progress=self.progress_bar)
        self.maybe_free_model_hooks()
        ab = ab.float().cpu()
        images = [merge(lightness[i // num_images_per_prompt], chroma) for i, chroma in enumerate(ab)]
        if output_type == "np":
            images = [np.asarray(picture, dtype=np.float32) / 255 for picture in images]
        elif output_type == "pt":
            images = [image_to_tensor(picture) for picture in images]
        return ImagePipelineOutput(images=images) if return_dict else (images,)
