"""Every training objective on hand-made tensors: the numbers each loss must give, and its errors."""

import pytest
import torch
from conftest import tiny_model

from hfcolor.objectives import (
    AdversarialObjective,
    DiffusionObjective,
    SupervisedObjective,
    classification_loss,
    reconstruction_loss,
    target_for,
)


class Constant(torch.nn.Module):
    """A 'model' whose output is fixed, so a loss can be computed by hand."""

    predicts = "ab"

    def __init__(self, output):
        super().__init__()
        self.output = output

    def forward(self, lightness):
        return self.output


def test_reconstruction_losses_by_hand():
    prediction, target = torch.tensor([0.0, 0.5, 2.0]), torch.tensor([0.0, 0.0, 0.0])
    assert reconstruction_loss(prediction, target, "l1", 1.0).item() == pytest.approx(2.5 / 3)
    assert reconstruction_loss(prediction, target, "l2", 1.0).item() == pytest.approx(4.25 / 3)
    # smooth L1: 0.5 x^2 / beta below beta, |x| - beta / 2 above
    assert reconstruction_loss(prediction, target, "smooth_l1", 1.0).item() == pytest.approx((0.125 + 1.5) / 3)
    with pytest.raises(ValueError, match="unknown reconstruction loss"):
        reconstruction_loss(prediction, target, "l3", 1.0)


def test_supervised_regression_compares_the_output_with_ab():
    ab = torch.zeros(1, 2, 4, 4)
    model = Constant(torch.full((1, 2, 4, 4), 0.5))
    assert SupervisedObjective("l2")(model, torch.zeros(1, 1, 4, 4), ab).item() == pytest.approx(0.25)
    assert SupervisedObjective("l1")(model, torch.zeros(1, 1, 4, 4), ab).item() == pytest.approx(0.5)


def test_rgb_models_are_compared_in_rgb():
    lightness, ab = torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2, 2)  # L* = 50, gray
    assert torch.equal(target_for(Constant(None), lightness, ab), ab)  # an "ab" model: a*b* itself
    rgb_model = tiny_model("classic_unet.seed001")
    rgb_target = target_for(rgb_model, lightness, ab)
    assert rgb_target.shape == (1, 3, 2, 2)
    assert torch.allclose(rgb_target[:, 0], rgb_target[:, 1], atol=1e-5)  # neutral gray: R = G = B


def test_classification_puts_low_loss_on_the_true_colour_and_rebalancing_weights_it():
    model = tiny_model("bins_cnn_joint.rebalanced")
    ab = torch.zeros(1, 2, 2, 2)  # gray pixels
    gray_class = model.quantizer.index(torch.zeros(1, 2, 1, 1)).item()
    confident = torch.full((1, model.quantizer.num_classes, 2, 2), -10.0)
    confident[:, gray_class] = 10.0
    wrong = torch.roll(confident, shifts=40, dims=1)
    right_loss = classification_loss(model, confident, ab, "cross_entropy")
    assert right_loss < classification_loss(model, wrong, ab, "cross_entropy")
    with torch.no_grad():
        model.class_weights.fill_(3.0)
    rebalanced = classification_loss(model, confident, ab, "rebalanced_cross_entropy")
    assert rebalanced.item() == pytest.approx(3 * right_loss.item(), rel=1e-5)


def test_two_headed_losses_are_checked_when_the_objective_is_made():
    SupervisedObjective("smooth_l1+cross_entropy")
    for bad in ("l2+l1", "cross_entropy+l2", "l2+rebalanced_cross_entropy+l1", "huber"):
        with pytest.raises(ValueError, match="unknown loss"):
            SupervisedObjective(bad)


@pytest.mark.parametrize("kind", ["bce", "eps_log"])
def test_adversarial_losses_by_hand(kind):
    objective = AdversarialObjective(reconstruction="l1", reconstruction_weight=10.0, adversarial=kind)
    lightness, target = torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2, 2)
    fake = torch.full((1, 2, 2, 2), 0.1)
    score = 0.0 if kind == "bce" else 0.5  # logit 0 / probability 0.5: the discriminator cannot tell
    discriminator = Constant(torch.full((1, 1, 1, 1), score))
    half = torch.log(torch.tensor(2.0)).item() if kind == "bce" else -torch.log(torch.tensor(0.51)).item()
    assert objective.discriminator_loss(discriminator, lightness, fake, target).item() == pytest.approx(
        0.5 * 2 * half, rel=1e-4
    )
    assert objective.generator_loss(discriminator, lightness, fake, target).item() == pytest.approx(
        half + 10 * 0.1, rel=1e-4
    )
    with pytest.raises(ValueError, match="unknown adversarial loss"):
        AdversarialObjective(adversarial="hinge")


def test_diffusion_objective_is_the_noise_prediction_error():
    torch.manual_seed(0)
    model = tiny_model("diffusion.small")
    lightness, ab = torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 2, 16, 16) * 0.4 - 0.2
    loss = DiffusionObjective()(model, lightness, ab)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_a_model_that_predicts_the_noise_exactly_has_zero_diffusion_loss(monkeypatch):
    model = tiny_model("diffusion.small")
    recorded = {}

    def randn_like(tensor):
        recorded["noise"] = torch.ones_like(tensor)
        return recorded["noise"]

    monkeypatch.setattr(torch, "randn_like", randn_like)
    monkeypatch.setattr(model, "forward", lambda lightness, noisy, timesteps: recorded["noise"])
    lightness, ab = torch.zeros(1, 1, 8, 8), torch.zeros(1, 2, 8, 8)
    assert DiffusionObjective()(model, lightness, ab).item() == 0.0
