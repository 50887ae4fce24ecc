"""hint_colorizer: the flagship steered by colour hints; the hints' path from the API, CLI and evaluation."""

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import load_script, needs_inception, tiny_config, tiny_model
from PIL import Image
from safetensors.torch import load_file

from hfcolor import Colorizer, Hints, load_model
from hfcolor.cli import main as cli
from hfcolor.evaluation import Protocol, evaluate
from hfcolor.hints import spread_hints
from hfcolor.models.base import CheckpointError
from hfcolor.models.hint_colorizer import HintColorizer

pytestmark = needs_inception
SIZE = tiny_config("hint_colorizer.base")["image_size"]


def hinted(model: HintColorizer) -> HintColorizer:
    """``model`` with hint layers that are not zero (a new one's are), as training leaves them."""
    torch.manual_seed(1)
    for layer in model.hint_layers:
        torch.nn.init.normal_(layer.weight, std=0.5)
    return model.eval()


def one_hint(row: int, column: int, ab=(0.6, 0.4), batch_size: int = 1) -> dict[str, torch.Tensor]:
    hints, mask = torch.zeros(batch_size, 2, SIZE, SIZE), torch.zeros(batch_size, 1, SIZE, SIZE)
    hints[:, :, row, column], mask[:, 0, row, column] = torch.tensor(ab).view(1, 2), 1
    return {"hints": hints, "hint_mask": mask}


def test_a_new_hint_model_starts_as_exactly_the_flagship_it_copies(tmp_path):
    torch.manual_seed(0)
    flagship = tiny_model("inception_colorizer.base").eval()
    flagship.save_pretrained(tmp_path / "flagship")
    model = tiny_model("hint_colorizer.base", start_from=str(tmp_path / "flagship"))
    model.fetch_pretrained_parts()
    model.eval()
    lightness = flagship.example_inputs(batch_size=2)[0]
    with torch.no_grad():
        expected = flagship(lightness)
        assert torch.equal(model(lightness), expected)
        hint = one_hint(5, 5, batch_size=2)  # its hint layers start at zero: only the spreading acts
        assert torch.equal(
            model(lightness, **hint), spread_hints(expected, lightness, hint["hints"], hint["hint_mask"])
        )
    other = tiny_config("inception_colorizer.base") | {"decoder_channels": [8, 8, 16]}
    tiny_model("inception_colorizer.base", **other).save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match="is not an inception_colorizer of this config"):
        tiny_model("hint_colorizer.base", start_from=str(tmp_path / "other")).fetch_pretrained_parts()


def test_a_hint_model_on_a_frozen_flagship_saves_its_hint_layers_alone_and_loads_them_on_it(tmp_path):
    torch.manual_seed(0)
    tiny_model("inception_colorizer.base").eval().save_pretrained(tmp_path / "flagship")
    model = tiny_model("hint_colorizer.base", start_from=str(tmp_path / "flagship"))
    model.fetch_pretrained_parts()
    hinted(model).save_pretrained(tmp_path / "hint")
    assert set(load_file(tmp_path / "hint" / "model.safetensors")) == {
        f"hint_layers.{index}.weight" for index in range(len(model.hint_layers))
    }
    lightness, hint = model.example_inputs(batch_size=2)[0], one_hint(4, 6, batch_size=2)
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "hint")(lightness, **hint), model(lightness, **hint))
    # Still strict: a file that also holds the flagship's tensors is not this adapter's.
    whole = tiny_model("hint_colorizer.base", start_from=str(tmp_path / "flagship"), freeze_flagship=False)
    whole.save_pretrained(tmp_path / "whole")
    shutil.copytree(tmp_path / "hint", tmp_path / "tampered")
    shutil.copy(tmp_path / "whole" / "model.safetensors", tmp_path / "tampered" / "model.safetensors")
    with pytest.raises(CheckpointError, match="unexpected ab_head.bias"):
        load_model(tmp_path / "tampered")
    shutil.rmtree(tmp_path / "flagship")  # an adapter without its flagship cannot load, and says why
    with pytest.raises(CheckpointError, match="flagship"):
        load_model(tmp_path / "hint")


@pytest.mark.parametrize("freeze", [True, False])
def test_training_a_frozen_flagship_moves_only_the_hint_layers(freeze):
    torch.manual_seed(0)
    model = tiny_model("hint_colorizer.base", freeze_flagship=freeze)
    lightness = model.example_inputs(batch_size=2)[0]
    with torch.no_grad():
        before = model.eval()(lightness)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    assert (len(trainable) == len(model.hint_layers)) == freeze
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    for _ in range(2):
        regression, logits = model.train()(lightness, **one_hint(3, 3), return_heads=True)
        (regression.square().mean() + logits.square().mean()).backward()
        optimizer.step()
    with torch.no_grad():
        after = model.eval()(lightness)
    assert torch.equal(after, before) == freeze  # with no hint, exactly the flagship, BatchNorm statistics too


def test_a_hint_changes_the_colours_and_no_hint_is_the_same_as_a_blank_mask():
    model = hinted(tiny_model("hint_colorizer.base"))
    lightness = model.example_inputs()[0]
    blank = {"hints": torch.zeros(1, 2, SIZE, SIZE), "hint_mask": torch.zeros(1, 1, SIZE, SIZE)}
    with torch.no_grad():
        alone = model(lightness)
        assert torch.equal(model(lightness, **blank), alone)
        steered = model(lightness, **one_hint(SIZE // 2, SIZE // 2))
    assert (steered - alone).abs().max() > 1e-3
    with pytest.raises(ValueError, match="go together"):
        model(lightness, hints=blank["hints"])


@pytest.mark.parametrize(("no_hint_share", "expect_blank"), [(1.0, 8), (0.0, 0)])
def test_training_simulates_hints_and_leaves_the_asked_share_of_photos_without(no_hint_share, expect_blank):
    model = tiny_model("hint_colorizer.base", no_hint_share=no_hint_share)
    ab = torch.rand(8, 2, SIZE, SIZE) * 2 - 1
    conditions = model.training_conditions(torch.zeros(8, 1, SIZE, SIZE), ab)
    assert conditions["hints"].shape == ab.shape and conditions["hint_mask"].shape == (8, 1, SIZE, SIZE)
    assert int((conditions["hint_mask"].flatten(1).sum(1) == 0).sum()) == expect_blank


def test_colorizer_takes_points_and_strokes_in_the_photos_pixels(photo):
    colorizer = Colorizer(hinted(tiny_model("hint_colorizer.base")))
    alone = np.asarray(colorizer(photo))
    pointed = np.asarray(colorizer(photo, hints=Hints(points=[(40, 30, "#d02020")])))
    strokes = Image.new("RGBA", photo.size, (0, 0, 0, 0))
    strokes.paste(Image.new("RGBA", (30, 20), (20, 200, 40, 255)), (5, 5))
    stroked = colorizer([photo, photo], hints=[Hints(strokes=strokes), None])
    assert pointed.shape == alone.shape and not np.array_equal(pointed, alone)
    assert not np.array_equal(np.asarray(stroked[0]), alone) and np.array_equal(np.asarray(stroked[1]), alone)
    with pytest.raises(ValueError, match="one Hints"):
        colorizer([photo, photo], hints=[None])


def test_cli_colorizes_one_photo_with_a_hints_file_and_refuses_misuse(tmp_path, photo, capsys):
    hinted(tiny_model("hint_colorizer.base")).save_pretrained(tmp_path / "model")
    tiny_model("inception_colorizer.base").save_pretrained(tmp_path / "flagship")
    photo.save(tmp_path / "a.png")
    photo.save(tmp_path / "b.png")
    (tmp_path / "hints.json").write_text(json.dumps([{"x": 40, "y": 30, "colour": "#d02020"}]))
    hints = ["--hints", str(tmp_path / "hints.json")]

    def colorize(model: str, out: str, *extra: str) -> int:
        return cli(
            ["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / out), "-m", str(tmp_path / model), *extra]
        )

    assert colorize("model", "out", *hints) == 0
    assert Image.open(tmp_path / "out" / "a.png").size == photo.size
    assert colorize("flagship", "steered", *hints) == 0 and colorize("flagship", "plain") == 0
    steered, plain = (np.asarray(Image.open(tmp_path / out / "a.png")) for out in ("steered", "plain"))
    assert not np.array_equal(steered, plain)  # a model that takes no hints is steered too
    both = ["colorize", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "out2")]
    assert cli([*both, *hints, "-m", str(tmp_path / "model")]) == 2
    assert "--hints are for one photo" in capsys.readouterr().err
    Image.new("LA", (photo.width * 2, photo.height * 2)).save(tmp_path / "huge.png")
    pixels = str(photo.width * photo.height)
    assert colorize("flagship", "out3", "--hints", str(tmp_path / "huge.png"), "--max-pixels", pixels) == 2
    assert f"over the limit of {int(pixels):,}" in capsys.readouterr().err


def test_evaluation_scores_each_number_of_simulated_hints_as_its_own_row(photos, tmp_path, capsys):
    model = hinted(tiny_model("hint_colorizer.base"))
    protocol = Protocol(image_size=64, fid_kid=False)
    evaluation = evaluate([("m", model)], photos[:4], protocol, progress=False, hints=[0, 20])
    rows = evaluation.to_dict()["models"]
    assert {"m (0 hints)", "m (20 hints)"} <= set(rows)
    assert rows["m (0 hints)"]["scores"]["psnr"] != rows["m (20 hints)"]["scores"]["psnr"]
    again = evaluate([("m", model)], photos[:4], protocol, progress=False, hints=[20]).to_dict()["models"]
    assert again["m (20 hints)"]["scores"] == rows["m (20 hints)"]["scores"]  # the same hints every run
    evaluation.save(tmp_path / "eval")
    hint_curve = load_script("benchmarks/hint_curve.py")
    assert hint_curve.main([str(tmp_path / "eval" / "results.json"), "--out", str(tmp_path / "curve.png")]) == 0
    table = capsys.readouterr().out
    assert "| 0 | " in table and "| 20 | " in table and "gray, no hints:" in table
    assert (tmp_path / "curve.png").stat().st_size > 5_000
