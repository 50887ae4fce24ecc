"""The Space (space/app.py): its model store, its HTTP API through gradio_client, and a real browser.

One app is launched on 127.0.0.1 for the whole module, on tiny untrained models saved here, so the
tests need neither shipped weights nor network.
"""

import os
import shutil
import socket
import time
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import gradio as gr
import numpy as np
import pytest
import torch
from conftest import load_script, needs_inception, panning, tiny_model, write_clip
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


def compare(client, photo, models, samples=1, steps=2, seed=0, score=False):
    """Compare mode's outputs by name: message, gallery, metrics, status, then one slider per model."""
    message, gallery, metrics, status, *sliders = client.predict(
        handle_file(str(photo)), models, samples, steps, seed, score, api_name="/compare"
    )
    return {
        "message": message,
        "gallery": {item["caption"]: item["image"] for item in gallery},
        "metrics": metrics,
        "status": status,
        "sliders": sliders,
    }


def run(space, store, name, image, samples, seed):
    return space.handlers.run_model(store, name, image, samples, steps=2, seed=seed)


def upload(path: Path) -> dict:
    """A file as the page hands it to a request (the buttons run with preprocess=False)."""
    return {"path": str(path), "orig_name": path.name}


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
    result = compare(client, tiny, ["bins_cnn.l2"])
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
    for path in (ROOT / "space").glob("*.py"):
        source = path.read_text().lower()
        named = sorted(family for family in FAMILIES if family.lower() in source)
        assert not named, f"{path.name} names model families {named}; decide from the model's flags instead"


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
    three = [result for name in ["bins_cnn.l2", "diffusion.base"] for result in run(space, store, name, image, 3, 7)]
    one = run(space, store, "diffusion.base", image, 1, 8)
    labels = ["bins_cnn.l2", *(f"diffusion.base (seed {seed})" for seed in (7, 8, 9))]
    assert [label for label, _ in three] == labels
    pixels = {label: np.asarray(result) for label, result in three + one}
    assert len(one) == 1 and np.array_equal(np.asarray(one[0][1]), pixels["diffusion.base (seed 8)"])
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
        space.handlers.check_numbers(*numbers)
    assert refused.value.message.startswith(message)
    assert space.handlers.check_numbers(4, "100", 2**63 - 1) == [4, 100, 2**63 - 1]


def test_scores_only_a_colour_photo(space, photo):
    gray = photo.convert("L").convert("RGB")
    score_rows = space.handlers.score_rows
    assert score_rows(gray, [("m", gray)]) == ([], "Against the ground truth", [])
    sepia = Image.blend(gray, Image.new("RGB", gray.size, (112, 66, 20)), 0.15)  # an old toned print
    assert score_rows(sepia, [("m", gray)])[0] == []  # black and white too: no truth to score against
    assert [row[0] for row in score_rows(sepia, [("m", gray)], colour=True)[0]] == ["ground truth", "m"]  # unless told
    rows, label, notes = score_rows(photo, [("m seed", gray)])
    assert [row[0] for row in rows] == ["ground truth", "m seed"] and label == "Against the ground truth"
    assert rows[0][1:3] == [None, None] and 0 < rows[1][2] <= 1 and rows[1][3] == 0 and not notes


def test_examples_are_black_and_white_but_the_last_which_compare_can_score_against(space, tmp_path):
    paths = space.handlers.example_photos(tmp_path)
    notes = [space.handlers.describe_upload({"path": path}, 10**7) for path in paths]
    assert all(note.startswith("Black-and-white photo") for note in notes[:-1]), notes
    assert notes[-1].startswith("Colour photo") and len(paths) == len(set(paths)) == 6
    assert space.handlers.example_photos(tmp_path) == paths  # written once, found again


def test_an_upload_is_described_or_flagged_at_once(space, colour_photo, tmp_path):
    gray, broken = tmp_path / "gray.png", tmp_path / "broken.png"
    Image.open(colour_photo).convert("L").save(gray)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    assert space.handlers.describe_upload(upload(gray), 10**6) == "Black-and-white photo, 251x167."
    assert space.handlers.describe_upload(upload(colour_photo), 10**6).startswith("Colour photo, 251x167")
    assert space.handlers.describe_upload(upload(broken), 10**6).startswith("⚠️ **This file cannot be colorized:**")
    assert "over the limit of 1,000" in space.handlers.describe_upload(upload(gray), 1000)


def test_compare_streams_each_model_as_it_finishes(space, store, colour_photo, tmp_path):
    names = ["bins_cnn.l2", "pix2pix_unet.seed003"]
    steps = list(space.handlers.compare(store, upload(colour_photo), names, 1, 2, 0, max_pixels=10**6, cache=tmp_path))
    assert len(steps) == 4  # before the first model, after each (the last one's result before the scoring), the end
    first, second, third, last = ([item[1] for item in step[1]] for step in steps)
    assert first == ["input, as the models see it", "ground truth (your colour photo)"]
    assert second == [*first, "bins_cnn.l2"] and third == last == [*second, "pix2pix_unet.seed003"]
    assert "- `bins_cnn.l2`: working" in steps[0][0] and "`pix2pix_unet.seed003`: waiting" in steps[0][0]
    assert "✓ `bins_cnn.l2`, " in steps[1][0] and "- `pix2pix_unet.seed003`: working" in steps[1][0]
    assert steps[2][0].startswith("Scoring") and "✓ `pix2pix_unet.seed003`, " in steps[2][0]
    assert steps[-1][0].startswith("2 of 2 models colorized this 251x167 photo in ")
    assert [step[2].visible for step in steps] == [False, False, False, True]  # the scores come last


def test_compare_on_a_black_and_white_photo_ends_with_the_last_result(space, store, colour_photo, tmp_path):
    gray = tmp_path / "gray.png"
    Image.open(colour_photo).convert("L").save(gray)
    steps = list(
        space.handlers.compare(store, upload(gray), ["bins_cnn.l2"], 1, 2, 0, max_pixels=10**6, cache=tmp_path)
    )
    assert len(steps) == 2  # no scores to wait for: the result comes with the end
    assert [item[1] for item in steps[-1][1]] == ["input, as the models see it", "bins_cnn.l2"]


def test_a_refused_request_first_clears_the_previous_answer(space, store, tmp_path):
    for answer in (
        space.handlers.compare(store, None, ["bins_cnn.l2"], 1, 2, 0, max_pixels=10**6, cache=tmp_path),
        space.handlers.colorize(store, "bins_cnn.l2", None, [], 0.5, "PNG", max_pixels=10**6, cache=tmp_path),
    ):
        cleared = next(answer)
        assert "⚠️ Upload a photo or pick an example first." in cleared and not any(
            isinstance(item, list) and item for item in cleared
        )
        with pytest.raises(gr.Error) as refused:
            next(answer)
        assert refused.value.title == "No photo"


def test_colour_strength_reaches_a_model_that_has_it(space, tmp_path, colour_photo):
    from hfcolor import DEFAULT_MODEL

    torch.manual_seed(0)
    tiny_model(DEFAULT_MODEL).save_pretrained(tmp_path / DEFAULT_MODEL)
    store = space.ModelStore({DEFAULT_MODEL: tmp_path / DEFAULT_MODEL}, {}, [])
    assert "vividness" in store.options(DEFAULT_MODEL)
    pictures = []
    for strength in (0, 1):
        *_, (_, download, _) = space.handlers.colorize(
            store, DEFAULT_MODEL, upload(colour_photo), None, strength, "PNG", max_pixels=10**6, cache=tmp_path
        )
        pictures.append(np.asarray(Image.open(download)))
    assert not np.array_equal(*pictures)
    with pytest.raises(gr.Error, match="between 0 and 1"):
        list(
            space.handlers.colorize(store, DEFAULT_MODEL, upload(colour_photo), None, 2, "PNG", max_pixels=1, cache="")
        )


def hue_shift_toward(picture: np.ndarray, before: np.ndarray, box, colour) -> float:
    """How much closer (in degrees of hue) the box of ``picture`` is to ``colour`` than the same box ``before``."""
    from skimage.color import rgb2lab

    target = np.degrees(np.arctan2(*rgb2lab(np.array([[colour]]) / 255)[0, 0, [2, 1]]))

    def distance(pixels):
        a, b = rgb2lab(pixels[box] / 255)[..., 1:].reshape(-1, 2).mean(0)
        return abs((np.degrees(np.arctan2(b, a)) - target + 180) % 360 - 180)

    return distance(before) - distance(picture)


def test_clicked_hints_colour_the_place_they_fall_on_at_the_photos_scale(space, store, colour_photo, tmp_path):
    canvas, hints = space.handlers.hint_canvas(upload(colour_photo), max_pixels=10**6, cache=tmp_path)
    assert Image.open(canvas).size == (251, 167) and hints["points"] == []  # small photos are shown as they are
    for x in (40, 60, 80):  # three blue clicks on the astronaut's orange suit, in canvas pixels
        drawn, hints = space.handlers.add_hint(hints, "#2050c0", [x, 140])
    assert len(hints["points"]) == 3 and Image.open(drawn).getpixel((60, 140)) == (32, 80, 192)
    runs = {}
    for name, given in (("alone", None), ("hinted", hints)):
        *_, (_, download, _) = space.handlers.colorize(
            store, "bins_cnn.l2", upload(colour_photo), None, 0.5, "PNG", given, max_pixels=10**6, cache=tmp_path
        )
        runs[name] = np.asarray(Image.open(download).convert("RGB")).astype(float)
    assert hue_shift_toward(runs["hinted"], runs["alone"], np.s_[135:146, 35:86], (32, 80, 192)) > 20
    shown = {**hints, "size": [125, 83], "points": [[40, 70, "#2050c0"]]}  # a canvas at half the photo's size
    assert space.handlers.hints_in_photo(shown, (251, 167)).points == [(40 * 251 / 125, 70 * 167 / 83, "#2050c0")]
    assert space.handlers.clear_hints(hints)[1]["points"] == []
    with pytest.raises(gr.Error, match="#rrggbb"):
        space.handlers.add_hint(hints, "javascript:alert(1)", [1, 1])


@needs_inception
def test_clicks_go_to_a_hint_model_built_on_the_model_which_compare_leaves_out(space, colour_photo, tmp_path):
    torch.manual_seed(0)
    flagship = tmp_path / "flagship"
    tiny_model("inception_colorizer.base").save_pretrained(flagship)
    hint_model = tiny_model("hint_colorizer.base", start_from=str(flagship))
    hint_model.fetch_pretrained_parts()
    hint_model.save_pretrained(tmp_path / "hint")
    store = space.ModelStore({str(flagship): flagship, "hint": tmp_path / "hint"}, {}, [])
    assert store.for_hints(str(flagship)) == "hint" and store.for_hints("hint") == "hint"
    assert store.comparable == [str(flagship)]  # with no hint it would show the flagship's picture again
    clicks = {"size": [251, 167], "points": [[60, 140, "#2050c0"]]}
    for given, used in ((None, str(flagship)), (clicks, "hint"), ({**clicks, "points": []}, str(flagship))):
        *_, (_, _, message) = space.handlers.colorize(
            store, str(flagship), upload(colour_photo), None, 0.5, "PNG", given, max_pixels=10**6, cache=tmp_path
        )
        assert message.startswith(f"`{used}` colorized 1 of 1")


# -- the API, as gradio_client sees it ----------------------------------------------------------


def test_api_colorizes_with_two_models_at_the_input_size(client, colour_photo):
    result = compare(client, colour_photo, ["pix2pix_unet.seed003", "bins_cnn.l2"])
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
    monkeypatch.setattr(space.handlers, "SCORE_MAX_PIXELS", 251 * 167 // 4)
    metrics = compare(client, colour_photo, ["pix2pix_unet.seed003"])["metrics"]
    assert metrics["label"].endswith("(scored at 125x83)")  # half the sides of 251x167
    assert len(metrics["value"]["data"]) == 2


def test_api_sampling_models_label_results_by_seed(client, tmp_path):
    gray = tmp_path / "coffee_gray.png"
    Image.fromarray(skimage_data.coffee()).convert("L").resize((64, 40)).save(gray)
    first = compare(client, gray, ["diffusion.base", "bins_cnn.l2"], samples=2, steps=2, seed=7)
    again = compare(client, gray, ["diffusion.base"], samples=1, steps=2, seed=7)
    assert {"diffusion.base (seed 7)", "diffusion.base (seed 8)", "bins_cnn.l2"} <= set(first["gallery"])
    assert "2 of 2 models" in first["message"]  # a model that does not sample gives its one result
    assert first["metrics"]["visible"] is False  # a gray photo has no ground truth
    pixels = [np.asarray(Image.open(run["gallery"]["diffusion.base (seed 7)"])) for run in (first, again)]
    # The same colours: a batch of two and a batch of one may round a pixel differently, by a level.
    assert pixels[0].shape == (40, 64, 3) and np.abs(pixels[0].astype(int) - pixels[1]).max() <= 1
    scored = compare(client, gray, ["bins_cnn.l2"], score=True)  # "score against it anyway"
    assert scored["metrics"]["visible"] is True and "ground truth (your colour photo)" in scored["gallery"]


def test_api_reports_a_model_that_fails_to_load_and_runs_the_others(client, colour_photo):
    result = compare(client, colour_photo, [BROKEN_MODEL, "pix2pix_unet.seed003"])
    assert f"`{BROKEN_MODEL}` could not be loaded" in result["message"]
    assert "pix2pix_unet.seed003" in result["gallery"]
    assert f"`{BROKEN_MODEL}`: failed to load" in result["status"]


def test_api_rejects_numbers_out_of_range(client, colour_photo):
    with pytest.raises(AppError, match="Samples must be between 1 and 4"):
        compare(client, colour_photo, ["diffusion.base"], samples=1000)


def test_api_colorize_gives_the_recommended_models_result_as_png_or_jpeg(client, colour_photo):
    for file_format, suffix, kind in (("PNG", ".png", "PNG"), ("JPEG", ".jpg", "JPEG")):
        slider, download, message = client.predict(
            handle_file(str(colour_photo)), None, 0.5, file_format, api_name="/colorize"
        )
        assert Path(download).suffix == suffix and "`bins_cnn.l2` colorized 1 of 1 photo(s)" in message
        with Image.open(download) as image:
            assert image.format == kind and image.size == (251, 167)
        before, after = slider
        assert Path(before).is_file() and Path(after).is_file()


def test_api_colorize_a_batch_returns_a_zip_and_names_the_unreadable(client, colour_photo, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    files = [handle_file(str(path)) for path in (colour_photo, broken, colour_photo)]
    _, download, message = client.predict(None, files, 0.5, "PNG", api_name="/colorize")
    assert "2 of 3 photo(s)" in message and "broken.jpg" in message
    with zipfile.ZipFile(download) as archive:
        names = archive.namelist()
        assert names == ["astronaut_bins_cnn.l2.png", "astronaut_bins_cnn.l2_1.png"]
        assert Image.open(archive.open(names[0])).size == (251, 167)


def test_a_photo_that_cannot_be_read_is_named_and_gives_no_download(space, store, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a photo")
    *_, (slider, download, message) = space.handlers.colorize(
        store, "bins_cnn.l2", upload(broken), None, 0.5, "PNG", max_pixels=10**6, cache=tmp_path
    )
    assert slider is None and download is None
    assert "colorized 0 of 1 photo(s)" in message and "broken.png: not an image" in message


def test_api_colorize_refuses_more_photos_than_a_request_may_cost(space, client, colour_photo, monkeypatch):
    monkeypatch.setattr(space.handlers, "MAX_BATCH", 1)
    with pytest.raises(AppError, match="At most 1 photos at once, not 2"):
        client.predict(None, [handle_file(str(colour_photo))] * 2, 0.5, "PNG", api_name="/colorize")


def test_stop_buttons_cancel_their_mode(url, space, store, tmp_path):
    demo = space.build_demo(store, examples_dir=tmp_path / "examples")
    ids = {block.elem_id: block._id for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    runs = {dep["targets"][0][0]: index for index, dep in enumerate(demo.config["dependencies"]) if dep["targets"]}
    for run_button, stop in (
        ("colorize", "colorize-stop"),
        ("compare", "compare-stop"),
        ("colorize-video", "video-stop"),
    ):
        cancels = demo.config["dependencies"][runs[ids[stop]]]["cancels"]
        assert cancels == [runs[ids[run_button]]]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    photo = np.asarray(Image.fromarray(skimage_data.astronaut()).resize((256, 256)))
    return write_clip(tmp_path_factory.mktemp("clips") / "pan.mp4", panning(photo, 8))


def test_api_video_comes_back_coloured_with_every_frame(client, clip):
    av = pytest.importorskip("av", reason="video needs PyAV (pip install 'hfcolor[video]')")
    result, message = client.predict(handle_file(str(clip)), 0.8, api_name="/colorize_video")
    with av.open(result) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        assert container.streams.audio  # the sound is kept
    assert len(frames) == 8 and "colorized 8 frames" in message
    assert np.asarray(frames).std(axis=3).mean() > 1


def test_api_video_refuses_long_and_unreadable_files_by_name(space, client, clip, tmp_path, monkeypatch):
    monkeypatch.setattr(space.handlers, "MAX_VIDEO_SECONDS", 0.1)
    with pytest.raises(AppError, match="the Space takes up to 0.1 s"):
        client.predict(handle_file(str(clip)), 0.8, api_name="/colorize_video")
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"%PDF-1.4 not a video")
    with pytest.raises(AppError, match="cannot be colorized: not a video"):
        client.predict(handle_file(str(fake)), 0.8, api_name="/colorize_video")
    with pytest.raises(AppError, match="greater than maximum value 1"):  # the slider's own check
        client.predict(handle_file(str(clip)), 2, api_name="/colorize_video")


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


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium")


@pytest.fixture()
def browser_page(url, tmp_path):
    """A page factory on the test's app in headless chromium; the test fails if the page fetches from anywhere else
    (it must work with no network). Screenshots go to $HFCOLOR_SCREENSHOTS (the README's come from
    benchmarks/space_screenshot.py) or the test's own folder."""
    folder = Path(os.environ.get("HFCOLOR_SCREENSHOTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    elsewhere = []

    def note_request(request):
        if urlparse(request.url).hostname not in (None, "127.0.0.1"):
            elsewhere.append(request.url)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)

        def open_page(width: int, height: int):
            page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
            page.on("request", note_request)
            page.goto(url)
            return page

        try:
            yield open_page, folder
        finally:
            browser.close()
    print(f"screenshots in {folder}")
    assert not elsewhere


def upload_photo(page, path: Path, note: str):
    page.locator("#photo input[type=file]").set_input_files(str(path))
    expect(page.locator("#upload-note")).to_contain_text(note)


def expect_download_link(page, timeout=30_000) -> None:
    """The result's download link shows (gradio keeps it while a colorization runs); if it does not, the failure
    carries what the Space said instead."""
    try:
        expect(page.locator("#download a").first).to_be_visible(timeout=timeout)
    except AssertionError as error:
        said = page.locator("#colorize-message").inner_text()
        raise AssertionError(f"no download link; the Space says: {said!r}") from error


def colorize_in_browser(page, timeout=30_000) -> float:
    """Press Colorize; seconds until the result shows."""
    started = time.perf_counter()
    page.locator("#colorize").click()
    expect_download_link(page, timeout)
    expect(page.locator("#result img").first).to_be_visible()
    return time.perf_counter() - started


@needs_chromium
def test_browser_colorize_mode_one_photo_then_a_batch(browser_page, colour_photo, tmp_path):
    open_page, screenshots = browser_page
    page = open_page(1280, 900)
    upload_photo(page, colour_photo, "Colour photo, 251x167")
    seconds = colorize_in_browser(page)
    print(f"Colorize mode: the result showed {seconds:.2f} s after the click")
    expect(page.locator("#colorize-message")).to_contain_text("colorized 1 of 1 photo(s)")
    page.screenshot(path=str(screenshots / "colorize-desktop.png"), full_page=True)
    # A batch of two, one as JPEG: the download is a zip of both.
    page.get_by_text("Several photos at once").click()
    page.locator("#batch input[type=file]").set_input_files([str(colour_photo), str(colour_photo)])
    page.locator("#format").get_by_text("JPEG").click()
    page.locator("#colorize").click()
    expect(page.locator("#colorize-message")).to_contain_text("colorized 2 of 2 photo(s)", timeout=30_000)
    with page.expect_download() as download:
        page.locator("#download a").first.click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert [name.rsplit(".", 1)[1] for name in archive.namelist()] == ["jpg", "jpg"]


@needs_chromium
def test_browser_compare_mode_streams_results_and_an_error_replaces_them(browser_page, colour_photo, tmp_path):
    open_page, screenshots = browser_page
    page = open_page(1280, 900)
    upload_photo(page, colour_photo, "Colour photo")
    page.get_by_role("tab", name="Compare").click()
    sampling_controls = page.locator("#sampling-controls").first  # gradio puts a group's elem_id on two elements
    expect(sampling_controls).to_be_hidden()  # the preselected model does not sample
    page.get_by_label("diffusion.base", exact=True).check()
    expect(sampling_controls).to_be_visible()
    chosen = ["bins_cnn.l2", "pix2pix_unet.seed003"]
    for name in [*GOOD_MODELS, BROKEN_MODEL]:
        box = page.get_by_label(name, exact=True)
        box.check() if name in chosen else box.uncheck()
    expect(sampling_controls).to_be_hidden()
    expect(page.locator("#model-status")).to_be_hidden()  # folded away under "About the models"
    page.locator("#compare").click()
    expect(page.locator("#message")).to_contain_text("2 of 2 models", timeout=30_000)
    expect(page.locator("#message")).to_contain_text("✓ bins_cnn.l2")
    captions = page.locator("#results .caption-label")
    expect(captions).to_have_count(4)  # input, ground truth, the two models
    assert set(chosen) <= set(captions.all_inner_texts())
    expect(page.locator("#metrics")).to_be_visible()
    page.screenshot(path=str(screenshots / "compare-desktop.png"), full_page=True)
    # A file that is no photo: flagged on upload; Compare then replaces the results with the error.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a photo at all")
    upload_photo(page, broken, "cannot be colorized")
    page.locator("#compare").click()
    expect(page.locator("#message")).to_contain_text("⚠️ This file cannot be colorized")
    expect(page.locator("[data-testid=toast-body]").first).to_contain_text(
        "This file cannot be colorized: not an image"
    )
    expect(captions).to_have_count(0)
    expect(page.locator("#metrics")).to_be_hidden()


@needs_chromium
def test_browser_phone_layout_has_upload_first_and_nothing_wider_than_the_screen(browser_page, colour_photo):
    open_page, screenshots = browser_page
    page = open_page(390, 844)
    boxes = [page.locator(selector).first.bounding_box() for selector in ("#photo", "#colorize", "#result")]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]  # upload first, then the button and the result
    upload_photo(page, colour_photo, "Colour photo")
    colorize_in_browser(page)
    page.screenshot(path=str(screenshots / "colorize-phone.png"), full_page=True)
    page.get_by_role("tab", name="Compare").click()
    for name in GOOD_MODELS:
        page.get_by_label(name, exact=True).check()
    page.locator("#compare").click()
    expect(page.locator("#message")).to_contain_text("3 of 3 models", timeout=30_000)
    page.screenshot(path=str(screenshots / "compare-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no horizontal scrolling
    overflowing = page.evaluate(
        """[...document.querySelectorAll('#models label, #message, #colorize-message, #upload-note, #colorize, #compare, [role=tab]')]
        .filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => (e.id || e.className.slice(0, 30)) + ":" + (e.innerText || e.ariaLabel || "").slice(0, 40))"""
    )
    assert not overflowing, overflowing
    sliders = page.locator("[id^='slider-']:visible")
    expect(sliders).to_have_count(3)
    widths = [sliders.nth(index).bounding_box()["width"] for index in range(3)]
    assert all(width > 300 for width in widths), widths  # a column of full-width sliders


@needs_chromium
def test_browser_video_tab_colorizes_a_clip_and_plays_it(browser_page, clip):
    pytest.importorskip("av", reason="video needs PyAV (pip install 'hfcolor[video]')")
    open_page, screenshots = browser_page
    page = open_page(1280, 900)
    page.get_by_role("tab", name="Video").click()
    expect(page.get_by_text("up to 20 s")).to_be_visible()  # the length limit is stated on the page
    page.locator("#video input[type=file]").set_input_files(str(clip))
    expect(page.locator("#video video")).to_be_visible(timeout=30_000)
    page.locator("#colorize-video").click()
    expect(page.locator("#video-message")).to_contain_text("colorized 8 frames", timeout=60_000)
    result = page.locator("#video-result video")
    expect(result).to_be_visible()
    # The browser itself decodes the MP4 it was given: it knows the clip's length and size.
    page.wait_for_function("v => v.readyState >= 1", arg=result.element_handle(), timeout=30_000)
    width, duration = result.evaluate("v => [v.videoWidth, v.duration]")
    assert width == 96 and duration == pytest.approx(8 / 25, abs=0.05)
    page.screenshot(path=str(screenshots / "video-desktop.png"), full_page=True)


@needs_chromium
def test_browser_a_click_on_the_photo_paints_its_colour_there(browser_page, colour_photo):
    open_page, screenshots = browser_page
    page = open_page(1280, 900)
    upload_photo(page, colour_photo, "Colour photo, 251x167")
    colorize_in_browser(page)
    with page.expect_download() as download:
        page.locator("#download a").first.click()
    before = np.asarray(Image.open(download.value.path()).convert("RGB")).astype(float)
    page.locator("#hints").get_by_text("Colour hints").click()
    canvas = page.locator("#hint-canvas img")
    expect(canvas).to_be_visible()
    # The canvas is the photo itself here (251x167), centred in its box and never enlarged (as gradio draws it).
    box = canvas.bounding_box()
    scale = min(box["width"] / 251, box["height"] / 167, 1)
    left, top = (box["width"] - 251 * scale) / 2, (box["height"] - 167 * scale) / 2
    link = page.locator("#download a").first
    for x in (40, 60, 80):  # blue on the orange suit; each click colorizes again, into a new file
        previous = link.get_attribute("href")
        canvas.click(position={"x": left + x * scale, "y": top + 140 * scale})
        expect(link).not_to_have_attribute("href", previous, timeout=30_000)
    page.screenshot(path=str(screenshots / "hints-desktop.png"), full_page=True)
    with page.expect_download() as download:
        link.click()
    after = np.asarray(Image.open(download.value.path()).convert("RGB")).astype(float)
    assert hue_shift_toward(after, before, np.s_[135:146, 35:86], (32, 80, 192)) > 20
    # Two quick clicks, on the wall and the face, the second while the first one's colorization runs: the
    # last result has both (gradio's default drops a colorization asked for while one runs).
    for x, y in ((160, 25), (110, 45)):
        drawn = canvas.get_attribute("src")
        canvas.click(position={"x": left + x * scale, "y": top + y * scale})
        expect(canvas).not_to_have_attribute("src", drawn)  # the dot is there
        # While the canvas swaps pictures, gradio places a click as if the picture filled its box.
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=canvas.element_handle())
    wall, face = np.s_[20:31, 154:167], np.s_[40:51, 104:117]
    deadline = time.monotonic() + 30
    while True:
        expect_download_link(page)
        with page.expect_download() as download:
            link.click()
        quick = np.asarray(Image.open(download.value.path()).convert("RGB")).astype(float)
        shifts = [hue_shift_toward(quick, after, box, (32, 80, 192)) for box in (wall, face)]
        if min(shifts) > 20 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert min(shifts) > 20, shifts
