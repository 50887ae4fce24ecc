"""Conditional denoising diffusion on a*b* given L*, after Palette (Saharia et al. 2022), built on diffusers.

hfcolor's addition, from no report. A diffusers ``UNet2DModel`` reads noisy a*b* and clean L* as 3 channels and
predicts the added noise; ``forward`` is one such prediction (the class docstring shows a training step), and
``predict_ab`` samples by DDIM in ``num_inference_steps`` steps, so the model is ``stochastic``: a seeded
``generator`` makes a colorization reproducible, other seeds give other plausible ones.
:class:`hfcolor.pipelines.Colorizer` runs it like any model (``samples``, ``seed``, ``num_inference_steps``);
:class:`hfcolor.pipelines.DiffusionColorizationPipeline` is its diffusers pipeline. Input sides must be
multiples of ``2**(len(block_out_channels) - 1)``. diffusers is an optional extra (``hfcolor[diffusion]``),
imported on first use.

Where we deviate from the paper:

* Only a*b* is generated, given L*: L* passes through exactly, as in every hfcolor model.
* 64 px and a small three-level UNet instead of Palette's 256 px one: trains in minutes, samples on a CPU.
* Discrete timesteps on a cosine schedule, not Palette's continuous noise level: what diffusers provides.
* DDIM in 25 steps by default, far fewer than Palette's sampling chain: 25 UNet calls per colorization.
* The predicted clean a*b* is clipped to [-1, 1] at each step (``clip_sample``): normalised a*b* lies there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch

from .base import ColorizationModel, check_inputs
from .registry import register

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
TIMESTEP_SPACINGS = ("linspace", "leading", "trailing")


def _diffusers():
    try:
        import diffusers
    except ImportError as error:
        raise ImportError("the diffusion models need diffusers: pip install 'hfcolor[diffusion]'") from error
    return diffusers


class DiffusionColorizer(ColorizationModel):
    """A diffusers UNet denoising a*b* given L*; ``forward`` is one noise prediction, ``predict_ab`` samples.

    One training step (what the ``diffusion`` objective does)::

        t = torch.randint(0, model.noise_scheduler.config.num_train_timesteps, (batch,))
        noise = torch.randn_like(ab)
        loss = F.mse_loss(model(lightness, model.noise_scheduler.add_noise(ab, noise, t), t), noise)

    Parameters:
        image_size: working resolution in pixels (square), a multiple of ``2**(len(block_out_channels) - 1)``.
        block_out_channels: UNet widths, one per level, fine to coarse.
        layers_per_block: ResNet layers in each UNet block.
        attention_levels: one flag per level: self-attention in that level's blocks.
        mid_block_attention: self-attention in the UNet's middle block.
        attention_head_dim: channels per attention head.
        norm_num_groups: GroupNorm groups; must divide every width in ``block_out_channels``.
        dropout: drop probability in the UNet's ResNet blocks (0.1 in the recipes).
        num_train_timesteps: noise levels of the training schedule (1000).
        beta_schedule: ``"squaredcos_cap_v2"`` (cosine), ``"linear"`` or ``"scaled_linear"``.
        beta_start: first beta of the linear schedules (the cosine one ignores it).
        beta_end: last beta of the linear schedules (the cosine one ignores it).
        timestep_spacing: how sampling spreads its steps: ``"trailing"``, ``"leading"`` or ``"linspace"``.
        num_inference_steps: default DDIM steps per sample, 1 to ``num_train_timesteps``; calls may override it.
    """

    family = "diffusion"
    predicts = "ab"
    options = ("num_inference_steps",)
    stochastic = True

    def __init__(
        self,
        image_size: int = 64,
        block_out_channels: Sequence[int] = (64, 128, 256),
        layers_per_block: int = 2,
        attention_levels: Sequence[bool] = (False, False, True),
        mid_block_attention: bool = True,
        attention_head_dim: int = 32,
        norm_num_groups: int = 32,
        dropout: float = 0.0,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "squaredcos_cap_v2",
        beta_start: float = 0.0001,
        beta_end: float = 0.02,
        timestep_spacing: str = "trailing",
        num_inference_steps: int = 25,
    ):
        super().__init__()
        if len(attention_levels) != len(block_out_channels):
            raise ValueError(
                f"attention_levels needs one flag per level of block_out_channels ({len(block_out_channels)}); "
                f"got {len(attention_levels)}"
            )
        self.set_size_multiple(_size_multiple(block_out_channels), image_size)
        if beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {BETA_SCHEDULES}, not {beta_schedule!r}")
        if timestep_spacing not in TIMESTEP_SPACINGS:
            raise ValueError(f"timestep_spacing must be one of {TIMESTEP_SPACINGS}, not {timestep_spacing!r}")
        if not 1 <= num_inference_steps <= num_train_timesteps:
            raise ValueError(f"num_inference_steps must be in [1, {num_train_timesteps}], not {num_inference_steps}")
        diffusers = _diffusers()
        self.num_inference_steps = num_inference_steps
        self.unet = diffusers.UNet2DModel(
            sample_size=image_size,
            in_channels=3,
            out_channels=2,
            block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block,
            down_block_types=tuple("AttnDownBlock2D" if attend else "DownBlock2D" for attend in attention_levels),
            up_block_types=tuple("AttnUpBlock2D" if attend else "UpBlock2D" for attend in reversed(attention_levels)),
            add_attention=mid_block_attention,
            attention_head_dim=attention_head_dim,
            norm_num_groups=norm_num_groups,
            dropout=dropout,
        )
        self.noise_scheduler = diffusers.DDPMScheduler(
            num_train_timesteps=num_train_timesteps,
            beta_schedule=beta_schedule,
            beta_start=beta_start,
            beta_end=beta_end,
            timestep_spacing=timestep_spacing,
            prediction_type="epsilon",
            # a*b* normalised by AB_SCALE stays inside [-1, 1], so the predicted clean a*b* may be clipped there.
            clip_sample=True,
        )

    def forward(self, lightness: torch.Tensor, noisy_ab: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """Normalised L* (B, 1, H, W), noisy a*b* (B, 2, H, W), timesteps (B,) -> predicted noise (B, 2, H, W).

        L* comes first, as in every colorizer, so ``example_inputs()[0]`` is what :meth:`predict_ab` takes.
        """
        return denoise(self.unet, noisy_ab, lightness, timesteps)

    def example_inputs(self, batch_size: int = 1, size: int | None = None) -> tuple[torch.Tensor, ...]:
        size = size or self.input_size
        lightness = torch.rand(batch_size, 1, size, size) * 2 - 1
        noisy_ab = torch.randn(batch_size, 2, size, size)
        return lightness, noisy_ab, torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (batch_size,))

    def sampling_scheduler(self):
        """A fresh DDIM scheduler on the training noise schedule (a new one per call: sampling mutates it)."""
        return _diffusers().DDIMScheduler.from_config(self.noise_scheduler.config)

    def predict_ab(self, lightness: torch.Tensor, **inputs) -> torch.Tensor:
        """Sample a*b* for normalised L* by DDIM from noise in ``num_inference_steps`` (default: the config's).

        ``generator``, one or one per image, makes it reproducible: the same seed gives the same a*b*.
        """
        check_inputs(self, inputs)
        steps = inputs.get("num_inference_steps") or self.num_inference_steps
        return sample_ab(self.unet, self.sampling_scheduler(), lightness, steps, inputs.get("generator"))


def _size_multiple(block_out_channels: Sequence[int]) -> int:
    return 2 ** (len(block_out_channels) - 1)


def denoise(unet, noisy_ab: torch.Tensor, lightness: torch.Tensor, timesteps) -> torch.Tensor:
    """The UNet's noise prediction with L* as condition; the one place that fixes the channel order."""
    # L* and noisy a*b* in swapped places would still stack to 3 channels and train silently wrong.
    if lightness.shape[-3] != 1 or noisy_ab.shape[-3] != 2:
        raise ValueError(
            f"expected L* with 1 channel and noisy a*b* with 2; got {lightness.shape[-3]} and {noisy_ab.shape[-3]}"
        )
    factor = _size_multiple(unet.config.block_out_channels)
    if noisy_ab.shape[-1] % factor or noisy_ab.shape[-2] % factor:
        raise ValueError(f"the diffusion UNet needs sides divisible by {factor}; got {tuple(noisy_ab.shape[-2:])}")
    return unet(torch.cat([noisy_ab, lightness.to(noisy_ab.dtype)], dim=1), timesteps).sample


def sample_ab(
    unet,
    scheduler,
    lightness: torch.Tensor,
    num_inference_steps: int,
    generator: torch.Generator | list[torch.Generator] | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> torch.Tensor:
    """Normalised L* (B, 1, H, W) -> a*b* (B, 2, H, W) sampled from noise with any diffusers scheduler."""
    from diffusers.utils.torch_utils import randn_tensor

    shape = (lightness.shape[0], 2, *lightness.shape[-2:])
    ab = randn_tensor(shape, generator=generator, device=lightness.device, dtype=lightness.dtype)
    ab = ab * scheduler.init_noise_sigma
    scheduler.set_timesteps(num_inference_steps)
    timesteps = scheduler.timesteps
    for t in progress(timesteps) if progress else timesteps:
        noise = denoise(unet, scheduler.scale_model_input(ab, t), lightness, t)
        ab = scheduler.step(noise, t, ab, generator=generator).prev_sample
    return ab


register(
    "diffusion.base",
    DiffusionColorizer,
    {"dropout": 0.1},
    "conditional DDPM on a*b* given L* at 64 px (diffusers UNet2DModel, cosine schedule), sampled with 25 DDIM steps",
)
register(
    "diffusion.small",
    DiffusionColorizer,
    {"dropout": 0.1, "block_out_channels": [32, 64, 128], "attention_head_dim": 16, "norm_num_groups": 16},
    "diffusion.base at half width (4M parameters), small enough to ship inside the package",
    summary="several different colorizations of one photo; undertrained, often garish",
)
