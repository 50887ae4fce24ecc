"""The Space (space/app.py): its model store, its HTTP API through gradio_client, and a real browser.

One app is launched on 127.0.0.1 for the whole module, on tiny untrained models saved here, so the
tests need neither shipped weights nor network.
"""

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import gradio as gr
import numpy as np
import pytest
import torch
from conftest import load_script, tiny_model
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from huggingface_hub.repocard import metadata_load
from PIL import Image
from playwright.sync_api import expect, sync_playwright
from skimage import data as skimage_data

from hfcolor.models import FAMILIES, RECIPES
from hfcolor.models.registry import SHIPPED_WEIGHTS

# gradio's queue calls pandas in ways pandas 3 deprecates; nothing this project can act on.
pytestmark = pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|The copy keyword)")

ROOT = Path(__file__).resolve().parent.parent
GOOD_MODELS = ["bins_cnn.l2", "diffusion.base", "pix2pix_unet.seed003"]
BROKEN_MODEL = "pix2pix_unet.broken"

# The README's screenshot script and this test launch chromium alike.
_screenshot = load_script("benchmarks/space_screenshot.py")
CHROMIUM, CHROMIUM_FLAGS = _screenshot.CHROMIUM, _screenshot.CHROMIUM_FLAGS


@pytest.fixture(scope="module")
def space():
    return load_script("space/app.py")


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("space_weights")
    torch.manual_seed(0)
    for name in GOOD_MODELS:
        tiny_model(name).save_pretrained(folder / name)
    tiny_model("pix2pix_unet.seed003").save_pretrained(folder / BROKEN_MODEL)
    (folder / BROKEN_MODEL / "model.safetensors").write_bytes(b"not safetensors")
    return folder


@pytest.fixture(scope="module")
def store(space, weights):
    return space.ModelStore.discover([*GOOD_MODELS, BROKEN_MODEL], weights_dir=weights)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def url(space, store, tmp_path_factory):
    demo = space.build_demo(store, examples_dir=tmp_path_factory.mktemp("examples"), max_queue=8)
    port = free_port()
    space.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def client(url, tmp_path_factory):
    return Client(url, verbose=False, analytics_enabled=False, download_files=tmp_path_factory.mktemp("downloads"))


@pytest.fixture(scope="module")
def colour_photo(tmp_path_factory) -> Path:
    """scikit-image's astronaut at an odd size, so a result at the wrong size cannot pass."""
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(skimage_data.astronaut()).resize((251, 167)).save(path)
    return path


def colorize(client, photo, models, samples=1, steps=2, seed=0):
    """The page's outputs by name: message, gallery, metrics, status, then one slider per model."""
    message, gallery, metrics, status, *sliders = client.predict(
        handle_file(str(photo)), models, samples, steps, seed, api_name="/colorize"
    )
    return {
        "message": message,
        "gallery": {item["caption"]: item["image"] for item in gallery},
        "metrics": metrics,
        "status": status,
        "sliders": sliders,
    }


# -- the model store ------------------------------------------------------------------------


def test_store_offers_saved_models_and_names_the_missing(store):
    assert store.names == sorted([*GOOD_MODELS, BROKEN_MODEL])
    colorizers = {name for name, recipe in RECIPES.items() if recipe.is_colorizer}
    assert set(store.missing) == colorizers - set(GOOD_MODELS)
    assert "**Not found**" in store.status_markdown() and "`classic_unet.seed001`" in store.status_markdown()


def test_store_says_what_each_model_is_good_for_from_the_registry(space, weights):
    store = space.ModelStore(
        {"resnet18_gray.seed000": weights / "bins_cnn.l2", "mine": weights / "bins_cnn.l2"}, {}, []
    )
    lines = store.status_markdown().splitlines()
    assert f"- `resnet18_gray.seed000`: not loaded yet — {RECIPES['resnet18_gray.seed000'].summary}" in lines
    assert "- `mine`: not loaded yet" in lines  # a model the registry does not know gets no line of praise


def test_store_loads_each_model_once_and_keeps_failures(space, weights):
    store = space.ModelStore.discover(["pix2pix_unet.seed003", BROKEN_MODEL], weights_dir=weights)
    first, source = store.get("pix2pix_unet.seed003")
    assert store.get("pix2pix_unet.seed003")[0] is first and source == "local weights"
    with pytest.raises(space.ModelLoadError) as failure:
        store.get(BROKEN_MODEL)
    with pytest.raises(space.ModelLoadError) as again:
        store.get(BROKEN_MODEL)
    assert again.value is failure.value
    assert store.status(BROKEN_MODEL).startswith("failed to load")


def test_store_falls_back_from_the_hub_to_local_weights(space, weights):
    # conftest sets HF_HUB_OFFLINE, so the Hub attempt fails at once, as with no network.
    store = space.ModelStore.discover(["pix2pix_unet.seed003"], weights_dir=weights, hub_org="nobody")
    assert store.hub_ids == {"pix2pix_unet.seed003": "nobody/pix2pix_unet.seed003"}
    assert store.get("pix2pix_unet.seed003")[1] == "local weights"


def test_the_default_model_comes_first_and_alone_preselected(space, weights, tmp_path):
    from hfcolor import DEFAULT_MODEL

    torch.manual_seed(0)
    tiny_model(DEFAULT_MODEL).save_pretrained(tmp_path / DEFAULT_MODEL)
    store = space.ModelStore({"bins_cnn.l2": weights / "bins_cnn.l2", DEFAULT_MODEL: tmp_path / DEFAULT_MODEL}, {}, [])
    demo = space.build_demo(store, examples_dir=tmp_path / "examples")
    (models,) = [block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "models"]
    assert [choice[1] for choice in models.choices] == [DEFAULT_MODEL, "bins_cnn.l2"]
    assert models.value == [DEFAULT_MODEL]


def test_a_colour_photo_too_small_for_ssim_is_still_scored(client, tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.fromarray(skimage_data.astronaut()).resize((5, 4)).save(tiny)
    result = colorize(client, tiny, ["bins_cnn.l2"])
    assert "1 of 1 models" in result["message"] and "SSIM is n/a" in result["message"]
    rows = result["metrics"]["value"]["data"]
    assert [row[2] for row in rows if row[0] == "bins_cnn.l2"] == ["n/a"]


def test_space_readme_declares_the_app_and_the_models_it_loads(space):
    meta = metadata_load(ROOT / "space" / "README.md")
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert meta["sdk_version"].split(".")[0] == "6"
    shipped = sorted(p.parent.name for p in SHIPPED_WEIGHTS.glob("*/config.json"))
    assert meta["models"] == [f"{space.DEFAULT_HUB_ORG}/{name}" for name in shipped]
    lines = (ROOT / "space" / "requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line.strip() and not line.startswith("#")]
    # The Space's gradio is sdk_version's; a second one in requirements.txt would fight it.
    assert any(line.startswith("hfcolor") for line in requirements)
    assert not any(line.startswith("gradio") for line in requirements)


# -- the steps of a request, alone ------------------------------------------------------------


def test_the_app_names_no_model_family():
    """Every model goes through the same code: what differs is read from the model (``stochastic``, ``options``)."""
    source = (ROOT / "space" / "app.py").read_text().lower()
    named = sorted(family for family in FAMILIES if family.lower() in source)
    assert not named, f"space/app.py names model families {named}; decide from the model's flags instead"


def test_store_tells_which_models_sample_before_loading_them(space, weights, tmp_path):
    # A folder of no registered name is read from its config.json.
    shutil.copytree(weights / "diffusion.base", tmp_path / "my_sampler")
    shutil.copytree(weights / "bins_cnn.l2", tmp_path / "bins_cnn.l2")
    store = space.ModelStore.discover(["my_sampler", "bins_cnn.l2"], weights_dir=tmp_path)
    assert store.samples("my_sampler") and not store.samples("bins_cnn.l2")
    assert {store.status(name) for name in ["my_sampler", "bins_cnn.l2"]} == {"not loaded yet"}
    assert not space.ModelStore({}, {}, []).samples("no such model")


def test_sampling_results_keep_their_colours_whatever_the_number_of_samples(space, store):
    image = Image.fromarray(skimage_data.coffee()).convert("L").convert("RGB").resize((64, 40))
    three, problems = space.colorize_all(store, ["bins_cnn.l2", "diffusion.base"], image, samples=3, steps=2, seed=7)
    one, _ = space.colorize_all(store, ["diffusion.base"], image, samples=1, steps=2, seed=8)
    labels = ["bins_cnn.l2", *(f"diffusion.base (seed {seed})" for seed in (7, 8, 9))]
    assert [label for _, label, _ in three] == labels and not problems
    pixels = {label: np.asarray(result) for _, label, result in three + one}
    assert len(one) == 1 and np.array_equal(np.asarray(one[0][2]), pixels["diffusion.base (seed 8)"])
    assert not np.array_equal(pixels["diffusion.base (seed 7)"], pixels["diffusion.base (seed 8)"])


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ((0, 25, 0), "Samples must be between 1 and 4, not 0."),
        ((1, "many", 0), "Steps must be a whole number, not &#x27;many&#x27;."),
        ((1, 25, -1), "Seed must be between 0 and"),
        ((1, 25, None), "Seed must be a whole number, not None."),
    ],
)
def test_raw_numbers_are_checked(space, numbers, message):
    with pytest.raises(gr.Error) as refused:
        space.check_numbers(*numbers)
    assert refused.value.message.startswith(message)
    assert space.check_numbers(4, "100", 2**63 - 1) == [4, 100, 2**63 - 1]


def test_scores_only_a_colour_photo(space, photo):
    gray = photo.convert("L").convert("RGB")
    assert space.score_rows(gray, [("m", "m", gray)]) == ([], "Against the ground truth", [])
    sepia = Image.blend(gray, Image.new("RGB", gray.size, (112, 66, 20)), 0.15)  # an old toned print
    assert space.score_rows(sepia, [("m", "m", gray)])[0] == []  # black and white too: no truth to score against
    rows, label, notes = space.score_rows(photo, [("m", "m seed", gray)])
    assert [row[0] for row in rows] == ["ground truth", "m seed"] and label == "Against the ground truth"
    assert rows[0][1:3] == [None, None] and 0 < rows[1][2] <= 1 and rows[1][3] == 0 and not notes


# -- the API, as gradio_client sees it ----------------------------------------------------------


def test_api_colorizes_with_two_models_at_the_input_size(client, colour_photo):
    result = colorize(client, colour_photo, ["pix2pix_unet.seed003", "bins_cnn.l2"])
    assert "2 of 2 models" in result["message"]
    for name in ["pix2pix_unet.seed003", "bins_cnn.l2", "input, as the models see it"]:
        with Image.open(result["gallery"][name]) as image:
            assert image.format == "PNG" and image.size == (251, 167)
    truth = np.asarray(Image.open(colour_photo).convert("RGB"))
    with Image.open(result["gallery"]["ground truth (your colour photo)"]) as image:
        assert np.array_equal(np.asarray(image), truth)  # lossless: PNG, not the default WebP
    rows = {row[0]: row for row in result["metrics"]["value"]["data"]}
    assert set(rows) == {"ground truth", "pix2pix_unet.seed003", "bins_cnn.l2"}
    assert all(np.isfinite(rows["bins_cnn.l2"][1:])) and 0 < rows["bins_cnn.l2"][2] <= 1
    visible = [slider for slider in result["sliders"] if slider["visible"]]
    assert len(visible) == 2


def test_api_scores_big_photos_reduced(space, client, colour_photo, monkeypatch):
    monkeypatch.setattr(space, "SCORE_MAX_PIXELS", 251 * 167 // 4)
    metrics = colorize(client, colour_photo, ["pix2pix_unet.seed003"])["metrics"]
    assert metrics["label"].endswith("(scored at 125x83)")  # half the sides of 251x167
    assert len(metrics["value"]["data"]) == 2


def test_api_sampling_models_label_results_by_seed(client, tmp_path):
    gray = tmp_path / "coffee_gray.png"
    Image.fromarray(skimage_data.coffee()).convert("L").resize((64, 40)).save(gray)
    first = colorize(client, gray, ["diffusion.base", "bins_cnn.l2"], samples=2, steps=2, seed=7)
    again = colorize(client, gray, ["diffusion.base"], samples=1, steps=2, seed=7)
    assert {"diffusion.base (seed 7)", "diffusion.base (seed 8)", "bins_cnn.l2"} <= set(first["gallery"])
    assert "2 of 2 models" in first["message"]  # a model that does not sample gives its one result
    assert first["metrics"]["visible"] is False  # a gray photo has no ground truth
    pixels = [np.asarray(Image.open(run["gallery"]["diffusion.base (seed 7)"])) for run in (first, again)]
    assert pixels[0].shape == (40, 64, 3) and np.array_equal(*pixels)


def test_api_reports_a_model_that_fails_to_load_and_runs_the_others(client, colour_photo):
    result = colorize(client, colour_photo, [BROKEN_MODEL, "pix2pix_unet.seed003"])
    assert f"`{BROKEN_MODEL}` could not be loaded" in result["message"]
    assert "pix2pix_unet.seed003" in result["gallery"]
    assert f"`{BROKEN_MODEL}`: failed to load" in result["status"]


def test_api_rejects_numbers_out_of_range(client, colour_photo):
    with pytest.raises(AppError, match="Samples must be between 1 and 4"):
        colorize(client, colour_photo, ["diffusion.base"], samples=1000)


def test_load_script_serves_everyone_and_survives_hostile_uploads(url):
    """benchmarks/space_load.py, scaled down: 3 clients x 2 requests plus its 3 hostile uploads."""
    space_load = load_script("benchmarks/space_load.py")
    report = space_load.run_load(url, clients=3, requests=2, models=["pix2pix_unet.seed003", "bins_cnn.l2"])
    assert len(report["latencies"]) == 6 and not report["failures"]
    assert len(report["hostile"]) == 3
    for name, (clear, message) in report["hostile"].items():
        assert clear, f"{name}: {message}"
    assert report["still_answers"]
    with pytest.raises(ValueError, match="only targets this machine"):
        space_load.run_load("http://example.com/")


# -- a real browser ---------------------------------------------------------------------------


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium")
def test_browser_upload_choose_two_models_and_see_both(url, colour_photo, tmp_path):
    # HFCOLOR_SCREENSHOT keeps the screenshot (the README's is made by benchmarks/space_screenshot.py).
    screenshot = Path(os.environ.get("HFCOLOR_SCREENSHOT", tmp_path / "space.png"))
    chosen = ["bins_cnn.l2", "pix2pix_unet.seed003"]
    elsewhere = []  # the page must work with no network: it may fetch from the app alone

    def note_request(request):
        if urlparse(request.url).hostname not in (None, "127.0.0.1"):
            elsewhere.append(request.url)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", note_request)
            page.goto(url)
            page.locator("#photo input[type=file]").set_input_files(str(colour_photo))
            page.locator("#photo img").first.wait_for()
            # gradio puts a group's elem_id on two nested elements; the outer one stands for both.
            sampling_controls = page.locator("#sampling-controls").first
            expect(sampling_controls).to_be_visible()  # diffusion.base, a sampling model, is preselected
            for name in [*GOOD_MODELS, BROKEN_MODEL]:
                box = page.get_by_label(name, exact=True)
                box.check() if name in chosen else box.uncheck()
            expect(sampling_controls).to_be_hidden()
            expect(page.locator("#model-status")).to_be_hidden()  # folded away under "About the models"
            page.locator("#colorize").click()
            expect(page.locator("#message")).to_contain_text("2 of 2 models", timeout=30_000)
            captions = page.locator("#results .caption-label")
            expect(captions).to_have_count(4)  # input, ground truth, the two models
            assert set(chosen) <= set(captions.all_inner_texts())
            expect(page.locator("#metrics")).to_be_visible()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    assert not elsewhere
