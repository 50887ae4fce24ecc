"""Damaged or hostile model folders: each fails fast as a CheckpointError naming the problem (the CLI: exit 2)."""

import json
import struct
import time

import pytest
import torch
from conftest import tiny_model

from hfcolor import CheckpointError, load_model
from hfcolor.cli import main as cli


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "model"
    tiny_model("resnet18_gray.seed000").save_pretrained(folder)
    return folder


def edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def test_truncated_weights(saved):
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-200])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_model(saved)


def test_a_header_that_claims_exabytes(saved):
    header = json.dumps({"stem.weight": {"dtype": "F16", "shape": [2**31, 2**31], "data_offsets": [0, 2**62]}})
    (saved / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 64)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_model(saved)


def test_config_that_is_not_an_object(saved):
    (saved / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(CheckpointError, match="must hold an object of settings, not a list"):
        load_model(saved)


@pytest.mark.parametrize("family", [["resnet18_gray"], {"name": "resnet18_gray"}, None, "no_such_family"])
def test_config_naming_no_known_family(saved, family):
    edit_config(saved, family=family)  # a list or an object must not escape as a TypeError
    with pytest.raises(CheckpointError, match="config.json names family"):
        load_model(saved)


def test_config_with_a_wrong_type(saved):
    edit_config(saved, width="abc")
    with pytest.raises(CheckpointError, match="config.json does not describe a ResNet18Gray"):
        load_model(saved)


def test_config_asking_for_a_huge_network_fails_before_allocating_it(saved):
    edit_config(saved, width=6000)  # 5 GB of weights if it were built
    started = time.perf_counter()
    with pytest.raises(CheckpointError, match="the weights do not fit .* by config.json"):
        load_model(saved)
    assert time.perf_counter() - started < 5


def test_the_cli_reports_a_broken_folder_and_exits_two(saved, tmp_path, photo, capsys):
    (saved / "config.json").write_text("[]")
    photo.save(tmp_path / "a.png")
    assert cli(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "-m", str(saved)]) == 2
    assert "cannot load model" in capsys.readouterr().err
