"""Trainer tests in the style of diffusers' example tests: tiny models, a dataset the test makes, a few steps."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import datasets
import pytest
import torch
import yaml
from conftest import load_script, needs_inception, tiny_config
from PIL import Image
from safetensors.torch import load_file

from hfcolor import load_model
from hfcolor.data import DatasetPhotos
from hfcolor.evaluation import Protocol, evaluate

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "train_scripts" / "configs").glob("*.yaml"))
TRAIN = ROOT / "train_scripts" / "train.py"

train = load_script("train_scripts/train.py")


def tiny(recipe: dict) -> list[str]:
    """Overrides that shrink a recipe's networks to test size, on top of the recipe's own."""
    options = []
    for role in ("model", "discriminator"):
        if recipe.get(role):
            sizes = {**recipe.get(f"{role}_overrides", {}), **tiny_config(recipe[role])}
            options += [f"--{role}_overrides", json.dumps(sizes)]
    return options


def model(name: str) -> list[str]:
    return ["--model", name, *tiny({"model": name})]


def config(path: Path) -> list[str]:
    return ["--config", str(path), *tiny(yaml.safe_load(path.read_text()))]


def base_args(data, output_dir, *extra):
    return [
        "--train_data", str(data),
        "--validation_split", "train",
        "--train_batch_size", "2",
        "--dataloader_num_workers", "0",
        "--num_validation_images", "2",
        "--report_to", "none",
        "--output_dir", str(output_dir),
        *map(str, extra),
    ]  # fmt: skip


@pytest.mark.parametrize("recipe", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_recipe_trains_from_its_config(recipe, photo_folder, tmp_path):
    # Staged recipes start from another run's output; here every stage starts from scratch. A
    # validation after the first step shows that training goes on after one (train mode, autograd).
    args = [*config(recipe), "--init_from", "", "--max_train_steps", "2", "--class_prior_batches", "2"]
    summary = train.main(args + base_args(photo_folder, tmp_path, "--validation_steps", 1))
    assert summary["step"] == 2
    assert all(torch.isfinite(torch.tensor(v)) for v in summary["loss"].values())
    assert (tmp_path / "model" / "model.safetensors").is_file()
    card = (tmp_path / "model" / "README.md").read_text()
    assert recipe.name in card and "## Validation" in card and f"| psnr | {summary['validation']['psnr']:.4f} |" in card
    grids = sorted(path.name for path in (tmp_path / "validation").glob("step-*.png"))
    assert grids == ["step-000001.png", "step-000002.png"]


def test_checkpoints_are_written_and_pruned(photo_folder, tmp_path):
    args = [*model("pix2pix_unet.seed003"), "--loss", "l1", "--max_train_steps", "4"]
    train.main(args + base_args(photo_folder, tmp_path, "--checkpointing_steps", 1, "--checkpoints_total_limit", 2))
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-4"]
    assert (tmp_path / "checkpoint-4" / "model.safetensors").is_file()


def test_resume_matches_an_uninterrupted_run(photo_folder, tmp_path):
    """Six steps in one go == three steps, then resume to six (crossing an epoch boundary of 4 batches)."""
    recipe = [*config(ROOT / "train_scripts/configs/seed003_cgan.yaml"), "--checkpointing_steps", "3"]
    train.main(recipe + ["--max_train_steps", "6"] + base_args(photo_folder, tmp_path / "straight"))
    first_leg = train.main(recipe + ["--max_train_steps", "3"] + base_args(photo_folder, tmp_path / "resumed"))
    summary = train.main(
        recipe
        + ["--max_train_steps", "6", "--resume_from_checkpoint", "latest"]
        + base_args(photo_folder, tmp_path / "resumed")
    )
    assert summary["step"] == 6
    assert summary["seconds"] > first_leg["seconds"]  # the training time of both runs
    straight = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_overfitting_eight_images_drives_the_loss_down(photo_folder, tmp_path):
    # Later options win: all 8 images in every batch.
    args = [*model("pix2pix_unet.seed003"), "--loss", "l1", "--learning_rate", "3e-3"]
    whole_set = ["--train_batch_size", "8"]
    first = train.main(args + ["--max_train_steps", "1"] + base_args(photo_folder, tmp_path / "one") + whole_set)
    last = train.main(args + ["--max_train_steps", "60"] + base_args(photo_folder, tmp_path / "many") + whole_set)
    assert last["loss"]["generator"] < 0.5 * first["loss"]["generator"]


@pytest.mark.parametrize("name", train.LR_SCHEDULES)
def test_learning_rate_schedules_are_diffusers_own(name):
    from diffusers.optimization import get_scheduler

    def rates(scheduler) -> list[float]:
        found = []
        for _ in range(60):
            found.append(scheduler.get_last_lr()[0])
            scheduler.optimizer.step()
            scheduler.step()
        return found

    def optimizer():
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)

    warmup, total, rules = 7, 50, "1:20,0.5:30,0.1"
    theirs = rates(
        get_scheduler(name, optimizer(), num_warmup_steps=warmup, num_training_steps=total, step_rules=rules)
    )
    ours = rates(torch.optim.lr_scheduler.LambdaLR(optimizer(), train.lr_factor(name, warmup, total, rules)))
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert (len(set(ours)) == 1) == (name == "constant")  # the rate really moves, where it should


def test_unknown_schedules_and_malformed_step_rules_are_refused():
    with pytest.raises(SystemExit):
        train.parse_args(["--model", "pix2pix_unet.seed003", "--lr_scheduler", "cosine_with_restarts"])
    with pytest.raises(ValueError, match="expected 'FACTOR:UNTIL_STEP"):
        train.lr_factor("piecewise_constant", 0, 10, "1:many,0.1")


def test_nan_loss_stops_with_a_clear_message(photo_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(
        train.SupervisedObjective, "__call__", lambda self, model, lightness, ab: model(lightness).sum() * float("nan")
    )
    with pytest.raises(SystemExit, match="generator loss became nan"):
        train.main([*model("pix2pix_unet.seed003"), "--max_train_steps", "3"] + base_args(photo_folder, tmp_path))


def test_offline_push_fails_before_training(photo_folder, tmp_path):
    started = time.perf_counter()
    with pytest.raises(SystemExit, match="HF_HUB_OFFLINE is set"):
        train.main(
            [*model("pix2pix_unet.seed003"), "--push_to_hub", "--hub_model_id", "someone/model"]
            + base_args(photo_folder, tmp_path)
        )
    assert time.perf_counter() - started < 10
    assert not list(tmp_path.iterdir())  # not a single step, not even a folder


def test_a_hub_token_is_used_but_never_written(photo_folder, tmp_path, capsys):
    """Nothing a run writes (config, card, TensorBoard, checkpoints, logs) holds a token from the command line."""
    token = "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42"
    train.main(
        [*model("resnet18_gray.seed000"), "--max_train_steps", "2", "--checkpointing_steps", "1"]
        + base_args(photo_folder, tmp_path / "run")
        + ["--report_to", "tensorboard", "--hub_token", token]
    )
    written = [path for path in (tmp_path / "run").rglob("*") if path.is_file()]
    assert any(path.name == "README.md" for path in written) and any("events" in path.name for path in written)
    assert [path for path in written if token.encode() in path.read_bytes()] == []
    out, err = capsys.readouterr()
    assert token not in out + err
    card = (tmp_path / "run" / "model" / "README.md").read_text()
    assert "--hub_token ***" in card


def test_secrets_are_redacted_in_every_spelling_and_refused_in_recipes(tmp_path):
    argv = ["--hub_token", "hf_a", "--hub_token=hf_b", "--model", "x"]
    assert train.redacted(argv) == ["--hub_token", "***", "--hub_token=***", "--model", "x"]
    with pytest.raises(SystemExit):  # no abbreviations: `--hub_tok` would escape the redaction
        train.parse_args([*model("resnet18_gray.seed000"), "--hub_tok", "hf_c"])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model: resnet18_gray.seed000\nhub_token: hf_d\n")
    with pytest.raises(SystemExit):
        train.parse_args(["--config", str(recipe)])


def test_validation_is_the_evaluation_protocol_on_the_exported_model(photo_folder, tmp_path):
    """Validation colorizes through the pipeline: its numbers are what `hfcolor evaluate` gives the saved model.

    At a resolution other than the model's working size, a shortcut that ran the network on the
    validation crops themselves would score other pixels.
    """
    args = [*model("pix2pix_unet.seed003"), "--max_train_steps", "2", "--resolution", "48"]
    summary = train.main(
        args + base_args(photo_folder, tmp_path, "--validation_steps", 2, "--num_validation_images", 3)
    )
    (record,) = [json.loads(line) for line in (tmp_path / "validation" / "metrics.jsonl").read_text().splitlines()]
    assert record.keys() == {"step", "seconds", "psnr", "ssim", "ab_l1", "colorfulness", "colorfulness_true"}
    photos = list(DatasetPhotos(str(photo_folder), "train", limit=3))
    protocol = Protocol(image_size=48, fid_kid=False, num_bins=(10,))
    saved = evaluate([("saved", load_model(tmp_path / "model"))], photos, protocol, device="cpu", progress=False)
    expected = saved.results["saved"].mean()
    assert record["step"] == 2
    assert {key: record[key] for key in summary["validation"]} == summary["validation"]
    assert summary["validation"] == pytest.approx({key: expected[key] for key in summary["validation"]}, rel=1e-9)
    with Image.open(tmp_path / "validation" / "step-000002.png") as grid:  # input | model | truth, a row each
        assert grid.width == 3 * 48 and 3 * 48 < grid.height < 4 * 48


def test_validation_leaves_training_as_it_was(photo_folder, tmp_path):
    """Validating after every step trains the very weights that validating at the end does: validation changes
    neither the weights nor the random numbers training draws (dropout), and it restores training mode."""
    args = [*model("bins_cnn.l2_dropout"), "--loss", "l2", "--max_train_steps", "3"]
    train.main(args + base_args(photo_folder, tmp_path / "often", "--validation_steps", 1))
    train.main(args + base_args(photo_folder, tmp_path / "once", "--validation_steps", 1000))
    assert len((tmp_path / "often" / "validation" / "metrics.jsonl").read_text().splitlines()) == 3
    often = load_file(tmp_path / "often" / "model" / "model.safetensors")
    once = load_file(tmp_path / "once" / "model" / "model.safetensors")
    assert often.keys() == once.keys() and all(torch.equal(often[k], once[k]) for k in often)


def test_a_loader_factory_replaces_the_data(photo_folder, tmp_path):
    """benchmarks/bench_train.py's hook: ``loader_factory(epoch)`` gives each epoch's batches."""
    batches = [torch.full((2, 3, 32, 32), value, dtype=torch.uint8) for value in (10, 200)]
    epochs = []

    def factory(epoch):
        epochs.append(epoch)
        return batches

    summary = train.main(
        [*model("pix2pix_unet.seed003"), "--max_train_steps", "5", *base_args(photo_folder, tmp_path)], factory
    )
    assert epochs == [0, 1, 2] and summary["step"] == 5
    assert summary["batch_checksums"] == [int(batch.sum()) for batch in batches * 3][:5]


def test_batches_give_the_model_its_conditions_by_name():
    rgb, embedding = torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.ones(2, 5)
    assert train.split_batch(rgb) == (rgb, {})
    images, conditions = train.split_batch([rgb, {"embedding": embedding}])  # collated (rgb, {column: value})
    assert images is rgb and conditions.keys() == {"embedding"} and conditions["embedding"] is embedding


def run_script(*args, **kwargs):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


class OutputReader(threading.Thread):
    """Collects a child's output as it comes, so a test can wait for a step instead of guessing with sleep."""

    def __init__(self, process: subprocess.Popen):
        super().__init__(daemon=True)
        self.process, self.text = process, ""
        self.start()

    def run(self):
        while character := self.process.stdout.read(1):
            self.text += character

    def wait_for_step(self, step: int, timeout: float = 120) -> None:
        """Until the progress bar shows ``step`` done: setup (which a stop signal may end at once) is over."""
        deadline = time.time() + timeout
        while max(map(int, re.findall(r"(\d+)/\d+ \[", self.text)), default=0) < step:
            assert time.time() < deadline and self.process.poll() is None, self.text
            time.sleep(0.1)

    def finish(self, timeout: float = 120) -> str:
        self.process.wait(timeout)
        self.join(timeout)
        return self.text


def test_sigterm_writes_a_checkpoint_then_resume_continues(photo_folder, tmp_path):
    args = [*model("pix2pix_unet.seed003"), "--max_train_steps", "100000", "--checkpointing_steps", "100000"]
    process = run_script(TRAIN, *args, *base_args(photo_folder, tmp_path))
    reader = OutputReader(process)
    reader.wait_for_step(2)
    process.send_signal(signal.SIGTERM)
    output = reader.finish()
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "stopped by signal" in output
    (checkpoint,) = tmp_path.glob("checkpoint-*")
    step = int(checkpoint.name.split("-")[1])
    assert step > 0
    summary = train.main(
        model("pix2pix_unet.seed003")
        + ["--max_train_steps", str(step + 1), "--resume_from_checkpoint", "latest"]
        + base_args(photo_folder, tmp_path)
    )
    assert summary["step"] == step + 1


def test_sigterm_to_the_process_group_with_loader_workers_still_checkpoints(photo_folder, tmp_path):
    """What timeout, systemd, Slurm and Kubernetes send: every process of the group gets SIGTERM at once."""
    args = [*model("resnet18_gray.seed000"), "--max_train_steps", "100000", "--checkpointing_steps", "100000"]
    extra = ["--dataloader_num_workers", "1"]
    process = run_script(TRAIN, *args, *base_args(photo_folder, tmp_path, *extra), start_new_session=True)
    reader = OutputReader(process)
    reader.wait_for_step(2)  # past the first steps, so the loader's worker is running
    os.killpg(process.pid, signal.SIGTERM)
    output = reader.finish()
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "stopped by signal" in output and list(tmp_path.glob("checkpoint-*"))


def test_resume_passes_over_a_damaged_checkpoint_and_stray_folders(photo_folder, tmp_path, capsys):
    args = [*model("resnet18_gray.seed000"), "--checkpointing_steps", "1", *base_args(photo_folder, tmp_path)]
    train.main([*args, "--max_train_steps", "2"])
    (tmp_path / "checkpoint-old").mkdir()
    (tmp_path / "checkpoint-16-backup").mkdir()
    (weights,) = (tmp_path / "checkpoint-2").glob("*.safetensors")
    weights.write_bytes(weights.read_bytes()[:100])  # truncated, as by a full disk
    with pytest.raises(SystemExit, match=r"checkpoint-2 cannot be loaded .*it holds .*safetensors"):
        train.main([*args, "--max_train_steps", "3", "--resume_from_checkpoint", str(tmp_path / "checkpoint-2")])
    capsys.readouterr()
    summary = train.main([*args, "--max_train_steps", "3", "--resume_from_checkpoint", "latest"])
    assert summary["step"] == 3
    out = capsys.readouterr().out
    assert "checkpoint-2 cannot be loaded" in out and "resuming from" in out and "resumed from" in out
    assert "checkpoint-1 at step 1" in out
    assert (tmp_path / "checkpoint-old").is_dir() and (tmp_path / "checkpoint-16-backup").is_dir()  # not pruned
    assert [p.name for p in train.checkpoints(tmp_path)] == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]


def test_data_that_cannot_form_a_batch_stops_in_seconds_saying_why(photos, tmp_path):
    corrupt, few = tmp_path / "corrupt", tmp_path / "few"
    corrupt.mkdir()
    few.mkdir()
    for index in range(30):
        (corrupt / f"{index}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    for index, photo in enumerate(photos[:3]):
        photo.save(few / f"{index}.png")
    command = [*model("resnet18_gray.seed000"), "--max_train_steps", "5"]
    started = time.perf_counter()
    with pytest.raises(SystemExit, match=r"holds 3 readable image\(s\) and 0 unreadable .* needs 4 per process"):
        train.main(command + base_args(few, tmp_path / "run1", "--train_batch_size", "4"))
    with pytest.raises(SystemExit, match=r"no readable validation images .*30 unreadable"):
        train.main(command + base_args(corrupt, tmp_path / "run2"))
    with pytest.raises(SystemExit, match=r"holds 0 readable image\(s\) and 30 unreadable"):
        train.main(command + base_args(corrupt, tmp_path / "run3", "--validation_data", str(few)))
    assert time.perf_counter() - started < 60


def test_two_cpu_processes_see_different_data(photo_folder, tmp_path):
    launch = [
        "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", TRAIN,
    ]  # fmt: skip
    process = run_script(
        *launch, *model("pix2pix_unet.seed003"), "--max_train_steps", "2", *base_args(photo_folder, tmp_path)
    )
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    summaries = [json.loads((tmp_path / f"summary-rank{rank}.json").read_text()) for rank in range(2)]
    assert [s["rank"] for s in summaries] == [0, 1]
    assert summaries[0]["batch_checksums"] and summaries[0]["batch_checksums"] != summaries[1]["batch_checksums"]


def test_time_limit_stops_early_and_still_exports(photo_folder, tmp_path):
    args = [*model("pix2pix_unet.seed003"), "--max_train_steps", "50", "--max_train_minutes", "1e-9"]
    summary = train.main(args + base_args(photo_folder, tmp_path, "--validation_steps", "1"))
    assert summary["step"] == 1 and summary["hardware"].endswith("-thread CPU")
    assert (tmp_path / "model" / "model.safetensors").is_file()
    (record,) = [json.loads(line) for line in (tmp_path / "validation" / "metrics.jsonl").read_text().splitlines()]
    assert record["step"] == 1 and record["seconds"] > 0 and "psnr" in record


@needs_inception
def test_deep_koalarization_trains_on_precomputed_embeddings(photo_folder, tmp_path, capsys):
    name = "deep_koalarization.seed001_inception_small"
    embedded = tmp_path / "embedded"
    load_script("train_scripts/shrink_dataset.py").main(
        [str(photo_folder), str(embedded), "--splits", "train", "--side", "48", "--embed_for", name]
    )
    args = [*model(name), "--loss", "l2", "--max_train_steps", "2"]
    train.main(args + base_args(photo_folder, tmp_path / "plain"))
    assert "holds no precomputed embedding column" in capsys.readouterr().out
    summary = train.main(args + base_args(embedded, tmp_path / "precomputed"))
    assert summary["step"] == 2 and "holds no precomputed" not in capsys.readouterr().out
    # The column really reaches the model: embeddings of the wrong width stop the run.
    wrong = datasets.load_dataset(str(embedded), split="train").map(lambda record: {"embedding": [0.0] * 16})
    wrong.to_parquet(str(tmp_path / "wrong" / "data" / "train-00000-of-00001.parquet"))
    with pytest.raises(ValueError, match=r"must be \(batch, 2048\)"):
        train.main(args + base_args(tmp_path / "wrong", tmp_path / "wrong_run"))
