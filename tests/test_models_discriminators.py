"""Family-specific checks for the cGAN discriminators: PatchGAN, the conv and the MLP discriminator."""

import pytest
import torch
from conftest import tiny_model

from hfcolor.models import create_model
from hfcolor.models.discriminators import ConvDiscriminator, MLPDiscriminator, PatchGAN


def test_patchgan_seed_config_gives_30x30_scores_at_256_px():
    model = create_model("patchgan.seed003").eval()
    with torch.no_grad():
        scores = model(torch.zeros(1, 3, 256, 256))
    assert scores.shape == (1, 1, 30, 30)
    assert isinstance(model, PatchGAN) and not model.fixed_size


@pytest.mark.parametrize(
    "name, in_channels, size",
    [("patchgan.seed004", 3, 32), ("mlp_discriminator.seed001", 4, 32), ("conv_discriminator.seed000", 3, 32)],
)
def test_discriminator_gradients_reach_the_colour_input(name, in_channels, size):
    model = tiny_model(name)
    assert model.in_channels == in_channels
    color = torch.randn(2, in_channels - 1, size, size, requires_grad=True)
    scores = model(torch.cat([torch.randn(2, 1, size, size), color], dim=1))
    scores.sum().backward()
    assert color.grad is not None and color.grad.abs().sum() > 0


def test_scalar_discriminators_give_one_score_per_image():
    seed000 = create_model("conv_discriminator.seed000").eval()
    assert isinstance(seed000, ConvDiscriminator) and seed000.input_size == 128
    with torch.no_grad():
        assert seed000(torch.zeros(3, 3, 128, 128)).shape == (3, 1)
    seed001 = tiny_model("mlp_discriminator.seed001")
    assert isinstance(seed001, MLPDiscriminator)
    assert seed001(torch.zeros(3, 4, 32, 32)).shape == (3, 1)


def test_seed001_mlp_has_15_hidden_units_over_the_one_channel_map():
    model = create_model("mlp_discriminator.seed001")
    first, last = [m for m in model.mlp if isinstance(m, torch.nn.Linear)]
    assert (first.in_features, first.out_features, last.out_features) == ((256 // 16) ** 2, 15, 1)
    assert model.convs[-1].in_channels == 512 and model.convs[-1].out_channels == 1


@pytest.mark.parametrize("name", ["patchgan.seed003", "mlp_discriminator.seed001", "conv_discriminator.seed000"])
def test_sigmoid_option_turns_logits_into_probabilities(name):
    logits_model = tiny_model(name).eval()
    probability_model = tiny_model(name, sigmoid=True).eval()
    probability_model.load_state_dict(logits_model.state_dict())
    inputs = logits_model.example_inputs(batch_size=2)
    with torch.no_grad():
        logits, probabilities = logits_model(*inputs), probability_model(*inputs)
    assert torch.allclose(probabilities, torch.sigmoid(logits))
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_discriminators_reject_the_wrong_channel_count():
    model = tiny_model("mlp_discriminator.seed001")
    with pytest.raises(ValueError, match="4 channels"):
        model(torch.zeros(1, 3, 32, 32))
