"""Training objectives for every family: supervised regression and classification, adversarial, diffusion.

A supervised or diffusion objective turns a batch of normalised (L, a*b*) into one loss. The
adversarial objective has two, computed in turn because the generator's loss must see the
discriminator after its update. The trainer (``train_scripts/train.py``) owns the loop, the
optimisers and accelerate.

The GAN options cover the seeds' variants:

* report 000 (2.4-2.6) and report 003 (3.3): BCE on logits, L1 with lambda 100, discriminator loss halved;
* report 001 (3.3): probabilities with the epsilon-buffered log, ``log(p + eps)``, eps = 1e-2, lambda 50;
* report 002 (6): soft labels (real 0.9, fake 0.1) and an L2 reconstruction term.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .color import denormalize_ab, denormalize_lightness, lab_to_rgb
from .models.base import ColorizationModel

RECONSTRUCTION_LOSSES = ("l1", "l2", "smooth_l1")
CLASSIFICATION_LOSSES = ("cross_entropy", "rebalanced_cross_entropy")
ADVERSARIAL_LOSSES = ("bce", "eps_log")


def target_for(model: ColorizationModel, lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """What the model's raw output is compared with: a*b*, or RGB in [-1, 1] for RGB models."""
    if model.predicts == "rgb":
        lab = torch.cat([denormalize_lightness(lightness), denormalize_ab(ab)], dim=1)
        return lab_to_rgb(lab.float()) * 2 - 1
    return ab


def reconstruction_loss(
    prediction: torch.Tensor, target: torch.Tensor, kind: str, smooth_l1_beta: float
) -> torch.Tensor:
    if kind == "l1":
        return F.l1_loss(prediction, target)
    if kind == "l2":
        return F.mse_loss(prediction, target)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(prediction, target, beta=smooth_l1_beta)
    raise ValueError(f"unknown reconstruction loss {kind!r}; choose one of {RECONSTRUCTION_LOSSES}")


def classification_loss(model: ColorizationModel, logits: torch.Tensor, ab: torch.Tensor, kind: str) -> torch.Tensor:
    """Cross-entropy over a*b* bins; the joint grid uses Zhang et al.'s soft targets and rebalancing."""
    ab_units = denormalize_ab(ab.float())
    quantizer = model.quantizer
    if logits.shape[1] == quantizer.num_classes and hasattr(quantizer, "num_bins"):
        # per-channel bins (report 004): a* scores then b* scores, one hard class per channel
        scores = logits.float().unflatten(1, (2, quantizer.num_bins)).movedim(2, 1)  # (B, N, 2, H, W)
        return F.cross_entropy(scores, quantizer.index(ab_units))
    log_probs = logits.float().log_softmax(dim=1)
    per_pixel = -(quantizer.soft_encode(ab_units) * log_probs).sum(dim=1)
    if kind == "rebalanced_cross_entropy":
        per_pixel = per_pixel * model.class_weights.to(per_pixel)[quantizer.index(ab_units)]
    return per_pixel.mean()


@dataclass
class SupervisedObjective:
    """Regression (L1, L2, smooth L1), classification (cross-entropy), or both for a two-headed model.

    ``loss="l2+rebalanced_cross_entropy"`` trains a model whose ``forward(..., return_heads=True)``
    gives an a*b* regression and class logits (possibly at a lower resolution, where the target is
    averaged down): ``reconstruction_weight`` x regression + classification.
    """

    loss: str
    smooth_l1_beta: float = 1.0
    reconstruction_weight: float = 1.0

    def __post_init__(self):
        parts = self.loss.split("+")
        single = len(parts) == 1 and parts[0] in RECONSTRUCTION_LOSSES + CLASSIFICATION_LOSSES
        pair = len(parts) == 2 and parts[0] in RECONSTRUCTION_LOSSES and parts[1] in CLASSIFICATION_LOSSES
        if not (single or pair):
            raise ValueError(
                f"unknown loss {self.loss!r}: one of {RECONSTRUCTION_LOSSES + CLASSIFICATION_LOSSES}, "
                "or REGRESSION+CLASSIFICATION such as 'l2+rebalanced_cross_entropy'"
            )

    def __call__(self, model, lightness, ab, **conditioning) -> torch.Tensor:
        """``conditioning``: further inputs of the model (a precomputed ``embedding``)."""
        if "+" in self.loss:
            regression_kind, classification_kind = self.loss.split("+")
            regression, logits = model(lightness, return_heads=True, **conditioning)
            coarse_ab = F.interpolate(ab, size=logits.shape[-2:], mode="area")
            return self.reconstruction_weight * reconstruction_loss(
                regression, ab, regression_kind, self.smooth_l1_beta
            ) + classification_loss(unwrapped(model), logits, coarse_ab, classification_kind)
        output = model(lightness, **conditioning)
        if self.loss in CLASSIFICATION_LOSSES:
            return classification_loss(unwrapped(model), output, ab, self.loss)
        return reconstruction_loss(output, target_for(unwrapped(model), lightness, ab), self.loss, self.smooth_l1_beta)


@dataclass
class AdversarialObjective:
    """A conditional GAN: the discriminator sees L* with the true or the generated colour.

    ``real_label`` / ``fake_label`` below 1 / above 0 are soft labels (report 002). ``eps_log``
    expects probabilities from the discriminator (its ``sigmoid=True``).
    """

    reconstruction: str = "l1"
    reconstruction_weight: float = 100.0
    adversarial: str = "bce"
    real_label: float = 1.0
    fake_label: float = 0.0
    eps: float = 1e-2
    discriminator_scale: float = 0.5
    smooth_l1_beta: float = 1.0

    def __post_init__(self):
        if self.adversarial not in ADVERSARIAL_LOSSES:
            raise ValueError(f"unknown adversarial loss {self.adversarial!r}; choose one of {ADVERSARIAL_LOSSES}")

    def _score_loss(self, scores: torch.Tensor, label: float) -> torch.Tensor:
        scores = scores.float()
        if self.adversarial == "bce":
            return F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, label))
        # report 001: -[y log(p + eps) + (1 - y) log(1 - p + eps)], the buffer keeping log finite
        return -(label * torch.log(scores + self.eps) + (1 - label) * torch.log(1 - scores + self.eps)).mean()

    def discriminator_loss(self, discriminator, lightness, fake, target) -> torch.Tensor:
        real_loss = self._score_loss(discriminator(torch.cat([lightness, target], dim=1)), self.real_label)
        fake_loss = self._score_loss(discriminator(torch.cat([lightness, fake.detach()], dim=1)), self.fake_label)
        return self.discriminator_scale * (real_loss + fake_loss)

    def generator_loss(self, discriminator, lightness, fake, target) -> torch.Tensor:
        # The generator wants its colours scored as real (label 1, never softened).
        adversarial = self._score_loss(discriminator(torch.cat([lightness, fake], dim=1)), 1.0)
        reconstruction = reconstruction_loss(fake, target, self.reconstruction, self.smooth_l1_beta)
        return adversarial + self.reconstruction_weight * reconstruction


@dataclass
class DiffusionObjective:
    """Noise prediction (epsilon) at a uniformly drawn timestep of the DDPM schedule."""

    def __call__(self, model, lightness, ab) -> torch.Tensor:
        scheduler = unwrapped(model).noise_scheduler
        noise = torch.randn_like(ab)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (ab.shape[0],), device=ab.device)
        noisy = scheduler.add_noise(ab, noise, timesteps)
        return F.mse_loss(model(lightness, noisy, timesteps).float(), noise.float())


def unwrapped(model):
    """The model behind DistributedDataParallel or compile wrappers, for its attributes."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model
