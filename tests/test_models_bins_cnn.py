import pytest
import torch
from conftest import tiny_model
from torch import nn

import hfcolor
from hfcolor.color import AB_SCALE
from hfcolor.models import create_model
from hfcolor.models.bins_cnn import BinsCNN, BinsCNNJoint

NARROW_NINE = [2] * 9


def lightness(batch: int, height: int, width: int | None = None) -> torch.Tensor:
    return torch.rand(batch, 1, height, width or height, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("name", ["bins_cnn.l2", "bins_cnn_classifier.ce10"])
def test_real_config_is_nine_unpadded_5x5_stride_1_convolutions_each_followed_by_relu_and_batchnorm(name):
    body = list(create_model(name).network.body)
    convs = [i for i, layer in enumerate(body) if isinstance(layer, nn.Conv2d)]
    assert len(convs) == 9
    for i in convs:
        assert body[i].kernel_size == (5, 5) and body[i].stride == (1, 1) and body[i].padding == (0, 0)
        assert isinstance(body[i + 1], nn.ReLU) and isinstance(body[i + 2], nn.BatchNorm2d)


def test_real_fully_connected_head_maps_the_28px_features_to_64px():
    positions = create_model("bins_cnn.l2").network.head.positions
    assert (positions.in_features, positions.out_features) == (28 * 28, 64 * 64)


def test_fully_connected_head_output_at_64px_and_refusal_of_other_sizes():
    model = BinsCNN(widths=NARROW_NINE, image_size=64)
    assert model(lightness(2, 64)).shape == (2, 2, 64, 64)
    with pytest.raises(ValueError, match="image_size"):
        model(lightness(2, 48))


def test_conv_head_keeps_any_input_size():
    model = tiny_model("bins_cnn_joint.rebalanced_conv")
    assert model(lightness(1, 24, 40)).shape == (1, model.quantizer.num_classes, 24, 40)


def test_dropout_recipe_drops_after_every_batchnorm_and_baseline_has_three_convolutions():
    body = list(tiny_model("bins_cnn.l2_dropout").network.body)
    dropouts = [layer for layer in body if isinstance(layer, nn.Dropout)]
    assert len(dropouts) == 3 and all(d.p == 0.6 for d in dropouts)
    assert all(isinstance(body[body.index(d) - 1], nn.BatchNorm2d) for d in dropouts)
    baseline = create_model("bins_cnn.cifar_baseline")
    assert baseline.input_size == 32
    assert sum(isinstance(layer, nn.Conv2d) for layer in baseline.network.body) == 3


def test_unknown_decoding_is_refused_and_the_loss_is_the_recipes_not_the_networks():
    with pytest.raises(TypeError, match="loss"):
        BinsCNN(loss="l1")  # the trainer's recipe names the loss (one place), the network does not
    with pytest.raises(ValueError, match="decode"):
        tiny_model("bins_cnn_classifier.ce10", decode="median")


@pytest.mark.parametrize("num_bins", [10, 30, 50])
def test_classifier_logits_and_decoded_ab(num_bins):
    model = tiny_model(f"bins_cnn_classifier.ce{num_bins}").eval()
    with torch.no_grad():
        assert model(lightness(2, 32)).shape == (2, 2 * num_bins, 32, 32)
        ab = model.predict_ab(lightness(2, 32))
    assert ab.shape == (2, 2, 32, 32)
    assert ab.abs().max() <= 100 / AB_SCALE


def test_joint_rebalancing_weights_have_expected_value_1_and_survive_save_and_load(tmp_path):
    model = tiny_model("bins_cnn_joint.rebalanced").eval()
    assert torch.equal(model.class_weights, torch.ones(model.quantizer.num_classes))
    greyish = torch.randn(4, 2, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.1
    counts = model.count_classes(greyish)
    assert counts.sum() == 4 * 16 * 16
    weights = model.set_class_weights(counts)

    centers = model.quantizer.centers
    prior = counts.double() / counts.sum()
    smoothed = torch.exp(-(torch.cdist(centers, centers) ** 2) / (2 * model.rebalance_sigma**2)) @ prior
    smoothed = smoothed / smoothed.sum()
    assert (smoothed * weights.double()).sum().item() == pytest.approx(1.0, abs=1e-5)
    assert weights.max() > 2 * weights.min()  # rare colours now weigh more than the common greys

    model.save_pretrained(tmp_path)
    loaded = hfcolor.load_model(tmp_path)
    assert isinstance(loaded, BinsCNNJoint)
    assert torch.equal(loaded.class_weights, weights)
    with torch.no_grad():
        assert torch.equal(loaded(lightness(2, 32)), model(lightness(2, 32)))


def test_annealed_mean_at_very_low_temperature_is_the_mode():
    torch.manual_seed(0)
    annealed = tiny_model("bins_cnn_joint.rebalanced_conv", temperature=1e-5).eval()
    # A freshly initialised network is unsure: scaling its class scores up avoids near ties between
    # the two best classes, where the mode itself is ill-defined.
    with torch.no_grad():
        annealed.network.head.weight.mul_(100)
        annealed.network.head.bias.mul_(100)
    mode = tiny_model("bins_cnn_joint.rebalanced_conv", decode="mode").eval()
    mode.load_state_dict(annealed.state_dict())
    with torch.no_grad():
        assert torch.allclose(annealed.predict_ab(lightness(1, 8)), mode.predict_ab(lightness(1, 8)), atol=1e-4)
