"""The weights hfcolor ships: found by name offline, strict fp16 safetensors, a card with measured numbers."""

import socket

import huggingface_hub
import pytest
from conftest import tiny_model
from safetensors import safe_open

from hfcolor import Colorizer, create_model, load_model
from hfcolor.models import RECIPES, available_weights
from hfcolor.models.registry import SHIPPED_WEIGHTS

SHIPPED = sorted(p.parent.name for p in SHIPPED_WEIGHTS.glob("*/config.json"))


def test_shipped_weights_stay_small():
    total = sum(f.stat().st_size for f in SHIPPED_WEIGHTS.rglob("*") if f.is_file())
    assert total < 60 * 2**20


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_by_name_and_colorizes(name, photo):
    assert name in RECIPES and available_weights()[name] == SHIPPED_WEIGHTS / name
    assert RECIPES[name].summary  # what the Space tells a user choosing among the shipped models
    with safe_open(SHIPPED_WEIGHTS / name / "model.safetensors", "pt") as weights:
        # floats in fp16; counters (I64) and flags (BOOL) as they are
        assert {str(weights.get_slice(key).get_dtype()) for key in weights.keys()} <= {"F16", "I64", "BOOL"}  # noqa: SIM118 (safe_open is not iterable)
    colorizer = Colorizer.from_pretrained(name)  # strict key matching
    result = colorizer(photo.convert("L"))
    assert result.size == photo.size and result.mode == "RGB"
    card = (SHIPPED_WEIGHTS / name / "README.md").read_text()
    for section in ("## Training", "## Evaluation", "## Known failure modes", f"`{name}`", "comparison.jpg"):
        assert section in card
    for machine_specific in (".gpu/", "/tmp/", "/work/", "../shared", "this machine"):
        assert machine_specific not in card  # cards travel: they speak to any reader
    assert (SHIPPED_WEIGHTS / name / "comparison.jpg").stat().st_size > 5_000


@pytest.fixture()
def no_network(monkeypatch):
    """Every way out: sockets, and the Hub download that would otherwise fail quietly in offline mode."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("the network is off in this test")

    # Connections and name lookups, not socket creation: importing urllib3 opens one on ::1 to test IPv6.
    for name in ("create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, refuse)
    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    return attempts


@pytest.mark.parametrize("name", SHIPPED)
def test_loading_a_shipped_model_never_touches_the_network(name, no_network):
    load_model(name)
    assert no_network == []


def test_pretrained_parts_are_fetched_when_a_model_is_created_never_when_it_is_loaded(tmp_path, no_network):
    tiny_model("resnet18_unet.seed003", imagenet_init=True).save_pretrained(tmp_path / "saved")
    assert no_network == []
    load_model(tmp_path / "saved")
    assert no_network == []
    create_model("resnet18_unet.seed003", width=8, image_size=32, imagenet_init=True)
    assert len(no_network) == 1  # the one explicit fetch, which falls back to random weights offline
