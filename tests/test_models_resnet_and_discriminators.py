"""ResNet-18-Gray, the ResNet-18 U-Net and the cGAN discriminators: what is particular to each family."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import logging

import huggingface_hub
import pytest
import torch
from safetensors.torch import save_file

from hfcolor.models import create_model
from hfcolor.models.discriminators import ConvDiscriminator, MLPDiscriminator, PatchGAN
from hfcolor.models.resnet import ResNet18
from hfcolor.models.resnet18_unet import PixelShuffleUpsample

# A few torchvision ``resnet18`` state-dict keys, downsampling shortcuts and BatchNorm buffers included.
TORCHVISION_KEYS = [
    "conv1.weight",
    "bn1.running_mean",
    "layer1.0.conv1.weight",
    "layer2.0.downsample.0.weight",
    "layer2.0.downsample.1.running_var",
    "layer3.1.bn1.num_batches_tracked",
    "layer4.1.bn2.running_var",
]
TORCHVISION_KEY_COUNT_WITHOUT_FC = 120


@pytest.fixture()
def fake_imagenet_checkpoint(tmp_path, monkeypatch):
    """An RGB ResNet-18 checkpoint with the classifier, served by a patched ``hf_hub_download``."""
    torch.manual_seed(7)
    weights = {key: value.contiguous() for key, value in ResNet18(in_channels=3).state_dict().items()}
    for key, value in weights.items():
        if value.is_floating_point():
            weights[key] = torch.randn_like(value)  # unlike any fresh init, BatchNorm buffers included
    path = tmp_path / "model.safetensors"
    save_file(weights, str(path))
    requested = []

    def download(repo_id, filename, **kwargs):
        requested.append((repo_id, filename))
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    return weights, requested


# -- ResNet-18 U-Net ---------------------------------------------------------------------------


def test_unet_encoder_keys_are_torchvision_resnet18_keys():
    keys = set(create_model("resnet18_unet.seed003", tiny=True).state_dict())
    encoder_keys = {key.removeprefix("encoder.") for key in keys if key.startswith("encoder.")}
    assert {f"encoder.{key}" for key in TORCHVISION_KEYS} <= keys
    assert len(encoder_keys) == TORCHVISION_KEY_COUNT_WITHOUT_FC
    assert not any(key.startswith("fc.") for key in encoder_keys)


def test_unet_imagenet_init_copies_every_encoder_weight(fake_imagenet_checkpoint):
    weights, requested = fake_imagenet_checkpoint
    model = create_model("resnet18_unet.seed003", imagenet_init=True)
    assert requested == [("timm/resnet18.tv_in1k", "model.safetensors")]
    encoder = model.encoder.state_dict()
    # A gray image seen by the RGB filters: the three input channels summed.
    assert torch.equal(encoder["conv1.weight"], weights["conv1.weight"].sum(dim=1, keepdim=True))
    for key in encoder.keys() - {"conv1.weight"}:
        assert torch.equal(encoder[key], weights[key]), key


def test_imagenet_init_offline_keeps_random_weights_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        model = create_model("resnet18_unet.seed003", tiny=True, imagenet_init=True)
    assert "random init" in caplog.text
    assert torch.isfinite(model.eval()(torch.zeros(1, 1, 32, 32))).all()


def test_unet_pixel_shuffle_upsampling_starts_as_nearest_neighbour():
    upsample = PixelShuffleUpsample(6, 4)
    output = upsample(torch.randn(1, 6, 5, 5))
    assert output.shape == (1, 4, 10, 10)
    top_left = output[..., ::2, ::2]
    for dy, dx in [(0, 1), (1, 0), (1, 1)]:
        assert torch.allclose(output[..., dy::2, dx::2], top_left)


def test_unet_rejects_sizes_not_divisible_by_32():
    model = create_model("resnet18_unet.seed003", tiny=True)
    with pytest.raises(ValueError, match="divisible by 32"):
        model(torch.zeros(1, 1, 48, 48))
    with pytest.raises(ValueError, match="multiple of 32"):
        create_model("resnet18_unet.seed003", tiny=True, image_size=80)


# -- ResNet-18-Gray ----------------------------------------------------------------------------


def test_resnet18_gray_keeps_only_the_first_two_stages_with_torchvision_keys():
    model = create_model("resnet18_gray.seed000", tiny=True)
    keys = set(model.state_dict())
    assert {"encoder.conv1.weight", "encoder.layer2.0.downsample.0.weight", "encoder.layer2.1.bn2.running_var"} <= keys
    assert not any(key.startswith(("encoder.layer3.", "encoder.layer4.", "encoder.fc.")) for key in keys)
    assert model.encoder.conv1.in_channels == 1
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder.modules())


def test_resnet18_gray_imagenet_init_copies_the_kept_stages(fake_imagenet_checkpoint):
    weights, _ = fake_imagenet_checkpoint
    encoder = create_model("resnet18_gray.seed000", imagenet_init=True).encoder.state_dict()
    assert torch.equal(encoder["conv1.weight"], weights["conv1.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(encoder["layer2.1.bn2.running_var"], weights["layer2.1.bn2.running_var"])
    assert torch.equal(encoder["layer1.0.conv2.weight"], weights["layer1.0.conv2.weight"])


@pytest.mark.parametrize("stages, factor", [(1, 4), (2, 8), (4, 32)])
def test_resnet18_gray_encoder_depth_sets_the_size_multiple(stages, factor):
    model = create_model("resnet18_gray.seed000", tiny=True, encoder_stages=stages, image_size=32)
    assert model(torch.zeros(1, 1, 2 * factor, factor)).shape == (1, 2, 2 * factor, factor)
    with pytest.raises(ValueError, match=f"divisible by {factor}"):
        model(torch.zeros(1, 1, factor + factor // 2, factor))


# -- discriminators ----------------------------------------------------------------------------


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
    model = create_model(name, tiny=True)
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
    seed001 = create_model("mlp_discriminator.seed001", tiny=True)
    assert isinstance(seed001, MLPDiscriminator)
    assert seed001(torch.zeros(3, 4, 32, 32)).shape == (3, 1)


def test_seed001_mlp_has_15_hidden_units_over_the_one_channel_map():
    model = create_model("mlp_discriminator.seed001")
    first, last = [m for m in model.mlp if isinstance(m, torch.nn.Linear)]
    assert (first.in_features, first.out_features, last.out_features) == ((256 // 16) ** 2, 15, 1)
    assert model.convs[-1].in_channels == 512 and model.convs[-1].out_channels == 1


@pytest.mark.parametrize("name", ["patchgan.seed003", "mlp_discriminator.seed001", "conv_discriminator.seed000"])
def test_sigmoid_option_turns_logits_into_probabilities(name):
    logits_model = create_model(name, tiny=True).eval()
    probability_model = create_model(name, tiny=True, sigmoid=True).eval()
    probability_model.load_state_dict(logits_model.state_dict())
    inputs = logits_model.example_inputs(batch_size=2)
    with torch.no_grad():
        logits, probabilities = logits_model(*inputs), probability_model(*inputs)
    assert torch.allclose(probabilities, torch.sigmoid(logits))
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_discriminators_reject_the_wrong_channel_count():
    model = create_model("mlp_discriminator.seed001", tiny=True)
    with pytest.raises(ValueError, match="4 channels"):
        model(torch.zeros(1, 3, 32, 32))
