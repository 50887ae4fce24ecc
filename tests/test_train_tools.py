"""The scripts around the trainer: train_zoo (many recipes side by side) and ship_weights (into the package)."""

import argparse
import json
import shutil
import sys

import pytest
import torch
import yaml
from conftest import ROOT, load_script, needs_inception, tiny_config, tiny_model
from PIL import Image
from safetensors import safe_open

from hfcolor import Colorizer, create_model, load_model
from hfcolor.data import load_images
from hfcolor.image_io import image_lightness, load_image
from hfcolor.pipelines import model_input


def tiny_job(**extra) -> dict:
    """A zoo job of a few steps; a job naming a recipe builds its model at test size."""
    return {
        "model_overrides": tiny_config(extra.get("model", "")) or {},
        "train_data": "{data}",
        "validation_split": "train",
        "train_batch_size": 2,
        "dataloader_num_workers": 0,
        "num_validation_images": 2,
        "report_to": "none",
        "max_train_steps": 2,
        **extra,
    }


def test_zoo_trains_jobs_chains_stages_and_collects_weights(photo_folder, tmp_path, capsys):
    plan = {
        "pix2pix_unet.seed003": tiny_job(model="pix2pix_unet.seed003", loss="l1"),
        "pix2pix_unet.seed003_gan": tiny_job(
            config="train_scripts/configs/seed003_cgan.yaml",
            init_from="pix2pix_unet.seed003",
            discriminator_overrides=tiny_config("patchgan.seed003"),
            cpu=True,
        ),
        "broken": tiny_job(model="no_such.model"),
        "after_broken": tiny_job(model="pix2pix_unet.seed003", init_from="broken"),
        "x-shared": {"model": "no_such.model"},  # options for YAML anchors, not a job
    }
    (tmp_path / "zoo.yaml").write_text(yaml.safe_dump(plan))
    out = tmp_path / "zoo"
    code = load_script("train_scripts/train_zoo.py").main(
        [str(tmp_path / "zoo.yaml"), "--data", str(photo_folder), "--out", str(out), "--threads", "1"]
    )
    table = capsys.readouterr().out
    assert code == 1  # "broken" failed, and its dependent never started
    assert "not a registered recipe" in (out / "logs" / "broken.log").read_text()
    assert "| broken | 2 |" in table and "| after_broken | -1 | dependency failed" in table
    assert "| pix2pix_unet.seed003 | 0 | 2 |" in table and "| pix2pix_unet.seed003_gan | 0 | 2 |" in table
    assert sorted(p.name for p in (out / "weights").iterdir()) == ["pix2pix_unet.seed003", "pix2pix_unet.seed003_gan"]
    assert "x-shared" not in table and not (out / "logs" / "x-shared.log").exists()
    # The second stage really started from the first stage's model.
    command = (out / "logs" / "pix2pix_unet.seed003_gan.log").read_text().splitlines()[0]
    assert f"--init_from {out / 'runs' / 'pix2pix_unet.seed003' / 'model'}" in command
    assert f"--discriminator_overrides {json.dumps(tiny_config('patchgan.seed003'))}" in command  # dicts as JSON
    assert "--cpu" in command.split() and "--cpu True" not in command  # switches as bare flags
    Colorizer(load_model(out / "weights" / "pix2pix_unet.seed003"))


ZOO = load_script("train_scripts/train_zoo.py")
ZOO_PLAN = ZOO.load_plan(ZOO.ROOT / "train_scripts" / "zoo.yaml")


@pytest.mark.parametrize("name", sorted(ZOO_PLAN))
def test_zoo_plan_job_is_a_valid_trainer_command(name, tmp_path):
    """The plan a GPU lease runs: every job must parse before the lease, not fail minutes into it."""
    settings = argparse.Namespace(minutes=5.5, data="DATA")
    command = ZOO.trainer_command(ZOO_PLAN[name], tmp_path, name, ZOO_PLAN, settings)
    args = load_script("train_scripts/train.py").parse_args(command[2:])  # exits on an unknown option or recipe
    assert args.train_data and all(source.startswith("DATA/") for source in args.train_data)
    init_from = ZOO_PLAN[name].get("init_from")
    assert not init_from or init_from in ZOO_PLAN or (ZOO.ROOT / init_from / "config.json").is_file()
    tiny_model(args.model, **args.model_overrides)  # the overrides are real config keys


@pytest.fixture()
def shipping(tmp_path, monkeypatch):
    """ship_weights writing into a folder of the test's own, found by name like the package's."""
    ship_weights = load_script("train_scripts/ship_weights.py")
    monkeypatch.setattr(ship_weights, "SHIPPED_WEIGHTS", tmp_path / "shipped")
    monkeypatch.setenv("HFCOLOR_WEIGHTS_DIR", str(tmp_path / "shipped"))
    return ship_weights


def train_one_step(run, photo_folder, *options: str):
    """A trainer run of pix2pix_unet.seed004_small at its real size (or as ``options`` change it), one step at 64 px."""
    load_script("train_scripts/train.py").main(
        ["--model", "pix2pix_unet.seed004_small", "--loss", "l1", "--max_train_steps", "1", "--resolution", "64"]
        + ["--train_data", str(photo_folder), "--validation_split", "train", "--train_batch_size", "2"]
        + ["--dataloader_num_workers", "0", "--num_validation_images", "2", "--report_to", "none"]
        + ["--output_dir", str(run), *options]
    )
    return run


def test_ship_weights_writes_fp16_model_and_card_that_evaluation_reproduces(shipping, photo_folder, tmp_path):
    run = train_one_step(tmp_path / "run", photo_folder)
    code = shipping.main(
        [str(run), "pix2pix_unet.seed004_small", "--data", str(photo_folder), "--split", "train"]
        + ["--notes", "- Muted colours.", "--before", "a CPU run of the same recipe."]
    )
    assert code == 0
    folder = tmp_path / "shipped" / "pix2pix_unet.seed004_small"
    with safe_open(folder / "model.safetensors", "pt") as weights:
        assert {str(weights.get_slice(key).get_dtype()) for key in weights.keys()} <= {"F16", "I64"}  # noqa: SIM118 (safe_open is not iterable)
    Colorizer.from_pretrained("pix2pix_unet.seed004_small")  # by name, like a user
    card = (folder / "README.md").read_text()
    summary = json.loads((run / "summary-rank0.json").read_text())
    assert summary["hardware"] in card and "- Muted colours." in card and "trained in fp32" in card
    assert "- Before this run: a CPU run of the same recipe." in card
    assert f"![{shipping.COMPARISON_CAPTION}](comparison.jpg)" in card  # not the evaluation data: its terms forbid it
    assert "| `gray` |" in card and "| `pix2pix_unet.seed004_small` |" in card and "against the gray baseline" in card
    assert (folder / "comparison.jpg").stat().st_size > 1_000


def test_refresh_cards_rescores_a_shipped_card_and_says_what_changed(shipping, photo_folder, tmp_path, monkeypatch):
    run = train_one_step(tmp_path / "run", photo_folder)
    ship = [str(run), "pix2pix_unet.seed004_small", "--data", str(photo_folder), "--split", "train", "--notes", "-"]
    assert shipping.main(ship) == 0
    card = tmp_path / "shipped" / "pix2pix_unet.seed004_small" / "README.md"
    shipped = card.read_text()
    row = next(line for line in shipped.splitlines() if line.startswith("| `pix2pix_unet.seed004_small` |"))
    cells = row.split(" | ")
    tampered = " | ".join([*cells[:2], "99.99", *cells[3:]])  # the PSNR column
    card.write_text(shipped.replace(row, tampered))

    monkeypatch.syspath_prepend(str(ROOT / "train_scripts"))
    monkeypatch.setitem(sys.modules, "ship_weights", shipping)  # the copy that writes into tmp_path
    refresh_cards = load_script("train_scripts/refresh_cards.py")
    changes = refresh_cards.refresh("pix2pix_unet.seed004_small", str(photo_folder), str(photo_folder.parent))
    assert changes == [f"- {tampered}\n+ {row}"]
    refreshed = card.read_text()
    assert row in refreshed and str(photo_folder) not in refreshed and f"DATA/{photo_folder.name}" in refreshed
    assert refreshed.count("`DATA` stands for") == 1 and "(comparison.jpg)\n\n## Known failure modes" in refreshed


def test_ship_weights_refuses_a_run_of_another_recipe(shipping, photo_folder, tmp_path, capsys):
    small = json.dumps(tiny_config("pix2pix_unet.seed004_small"))
    run = train_one_step(tmp_path / "run", photo_folder, "--model_overrides", small)
    code = shipping.main([str(run), "pix2pix_unet.seed004_small", "--data", str(photo_folder), "--notes", "-"])
    assert code == 2 and "not a model of recipe" in capsys.readouterr().err
    assert not (tmp_path / "shipped" / "pix2pix_unet.seed004_small").exists()


def test_shrink_dataset_downscales_train_and_leaves_out_unreadable_images(photo_folder, tmp_path, capsys):
    source = tmp_path / "source"
    shutil.copytree(photo_folder, source)
    (source / "8.png").write_bytes(b"not a png")
    out = tmp_path / "small"
    assert (
        load_script("train_scripts/shrink_dataset.py").main(
            [str(source), str(out), "--splits", "train", "--side", "24"]
        )
        == 0
    )
    assert "left out" in capsys.readouterr().err
    images = load_images(str(out), "train")
    assert len(images) == 8
    assert all(min(load_image(record["bytes"]).size) == 24 for record in images["image"])


@needs_inception
def test_shrink_dataset_adds_the_embedding_the_pipeline_would_compute(photo_folder, tmp_path, capsys):
    shrink = load_script("train_scripts/shrink_dataset.py")
    out = tmp_path / "embedded"
    name = "deep_koalarization.seed001_inception_small"
    assert shrink.main([str(photo_folder), str(out), "--splits", "train", "--side", "48", "--embed_for", name]) == 0
    images = load_images(str(out), "train", columns=["embedding"])
    assert images.column_names == ["image", "embedding"] and len(images) == 8
    model = create_model(name).eval()
    for record in (images[0], images[5]):
        photo = load_image(record["image"]["bytes"])  # the 48-px copy that training crops from
        expected = model.image_embedding(model_input([image_lightness(photo)], model.input_size))[0]
        assert torch.allclose(torch.tensor(record["embedding"]), expected, atol=1e-3)
    assert load_images(str(out), "train").column_names == ["image"]  # only on request
    with pytest.raises(SystemExit):
        shrink.main([str(photo_folder), str(tmp_path / "no"), "--embed_for", "pix2pix_unet.seed003"])
    assert "no frozen classifier" in capsys.readouterr().err


def _fake_run(folder, records, seconds=None):
    (folder / "validation").mkdir(parents=True)
    lines = (json.dumps({"ssim": 0.9, "ab_l1": 10.0, "colorfulness_true": 40.0, **r}) for r in records)
    (folder / "validation" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if seconds is not None:
        (folder / "summary-rank0.json").write_text(json.dumps({"step": 2, "seconds": seconds}))
    return folder


def test_plot_curves_chains_stages_on_one_clock_and_draws_them(tmp_path, capsys):
    curves = load_script("train_scripts/plot_curves.py")
    pretrain = _fake_run(
        tmp_path / "l1",
        [
            {"step": 1, "seconds": 30, "psnr": 23.0, "colorfulness": 10},
            {"step": 2, "seconds": 60, "psnr": 24.0, "colorfulness": 12},
        ],
        seconds=66,
    )
    gan = _fake_run(tmp_path / "gan", [{"step": 1, "seconds": 54, "psnr": 22.0, "colorfulness": 30}])
    curve = curves.load_curve("staged", [pretrain, gan])
    # The second stage's clock starts where the first one's summary says it ended (66 s), not at 0.
    assert curve.minutes == [0.5, 1.0, 2.0] and curve.stage_starts == [1.1]
    assert curve.psnr == [23.0, 24.0, 22.0] and curve.truth_colorfulness == 40.0
    out = tmp_path / "curves.png"
    assert curves.main(["--run", f"staged={pretrain},{gan}", "--run", f"a=b={gan}", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "staged: 3 points over 2.0 min, last PSNR 22.00 dB" in printed and "a=b: 1 points" in printed
    with Image.open(out) as picture:
        assert picture.format == "PNG" and picture.width > 600
    assert curves.main(["--run", f"missing={tmp_path / 'nowhere'}", "--out", str(tmp_path / "x.png")]) == 2
    assert "nowhere: no validation/metrics.jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        curves.main(["--run", str(gan), "--out", str(out)])
    assert "expected LABEL=RUN_DIR" in capsys.readouterr().err
