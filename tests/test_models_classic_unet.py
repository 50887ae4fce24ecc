"""Family-specific checks for the classic U-Net (report 001, 3.2)."""

import json

import pytest
import torch
from conftest import lightness, tiny_model

from hfcolor.color import rgb_to_model_space
from hfcolor.models import create_model, load_model
from hfcolor.models.classic_unet import ClassicUNet


def test_classic_unet_reaches_1024_channels_at_real_size():
    rgb, ab = create_model("classic_unet.seed001"), create_model("classic_unet.seed001_ab")
    assert [level[0].out_channels for level in rgb.encoder] == [64, 128, 256, 512, 1024]
    assert [up.out_channels for up in rgb.up] == [64, 128, 256, 512]
    assert (rgb.predicts, rgb.head[0].out_channels) == ("rgb", 3)
    assert (ab.predicts, ab.head[0].out_channels) == ("ab", 2)
    assert rgb.input_size == ab.input_size == 256


@pytest.mark.parametrize(
    "name, predicts, channels", [("classic_unet.seed001", "rgb", 3), ("classic_unet.seed001_ab", "ab", 2)]
)
def test_classic_unet_predicts_rgb_or_ab_and_predict_ab_gives_ab(name, predicts, channels):
    model = tiny_model(name).eval()
    x = lightness()
    with torch.no_grad():
        output, ab = model(x), model.predict_ab(x)
    assert model.predicts == predicts and output.shape == (2, channels, 32, 32)
    assert output.abs().max() <= 1
    expected_ab = output if predicts == "ab" else rgb_to_model_space((output + 1) / 2)[1]
    assert ab.shape == (2, 2, 32, 32) and torch.allclose(ab, expected_ab)


def test_classic_unet_rgb_variant_reloads_as_rgb(tmp_path):
    model = tiny_model("classic_unet.seed001").eval()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["predicts"] == "rgb"
    assert "Predicts: rgb" in (tmp_path / "README.md").read_text()
    reloaded = load_model(tmp_path)
    assert type(reloaded) is ClassicUNet and reloaded.predicts == "rgb"
    x = lightness()
    with torch.no_grad():
        assert torch.equal(model(x), reloaded(x))


def test_classic_unet_rejects_unknown_outputs_and_sizes():
    with pytest.raises(ValueError, match="predicts"):
        ClassicUNet(predicts="lab")
    with pytest.raises(ValueError, match="divisible by 8"):
        tiny_model("classic_unet.seed001_ab")(lightness(size=36))
