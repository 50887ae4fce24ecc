"""hfcolor Space: colorize one photo with every model side by side.

Deploys to Hugging Face Spaces unchanged (see README.md beside this file) and starts locally with
``python space/app.py``. Settings, all optional, by environment variable:

* ``HFCOLOR_SPACE_MODELS``: comma-separated model names to offer (default: every shipped model);
* ``HFCOLOR_HUB_ORG``: each model is fetched first from the Hub as ``<org>/<name>``, then from the
  shipped weights (default ``hfcolor``; empty turns the Hub off);
* ``HFCOLOR_WEIGHTS_DIR``: another folder of saved models, one sub-folder per name (read by hfcolor);
* ``HFCOLOR_SPACE_CONCURRENCY`` / ``HFCOLOR_SPACE_QUEUE``: requests run at once / waiting at most.

Tests and benchmarks import :func:`build_demo` and :class:`ModelStore` to run the same page on models
they save themselves, and each step of a request (see :func:`colorize_photo`) to check it alone.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # gradio reads it on import: the Space needs no network
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: idle spinning slows other requests

import html
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import NoReturn

import gradio as gr
from PIL import Image
from skimage import data as skimage_data

from hfcolor import ImageReadError, load_image, save_image
from hfcolor.hardware import cpu_cores, set_threads
from hfcolor.metrics import SSIM_MIN_SIDE, against_truth, is_black_and_white
from hfcolor.models import DEFAULT_MODEL
from hfcolor.pipelines import gray_preview
from hfcolor.pipelines.store import ModelLoadError, ModelStore

DEFAULT_HUB_ORG = "hfcolor"
MAX_FILE_SIZE = "50mb"
MAX_PIXELS = 16_000_000  # every phone photo up to 4000x4000; several models on more hold a CPU Space for minutes
LIMITS = {"Samples": (1, 4), "Steps": (1, 100), "Seed": (0, 2**63 - 1)}  # of the sampling controls
SCORE_MAX_PIXELS = 2_000_000  # SSIM of one 12 MP pair takes longer than colorizing it: bigger photos are reduced
EXAMPLES = ("astronaut", "chelsea", "coffee", "rocket")
UPLOADS = ["upload", "clipboard"]  # no webcam
INTRO = (
    "# hfcolor: compare colorizers\nUpload a photo (gray or colour) and press **Colorize**: hfcolor's default model "
    "is ticked; tick others to compare them side by side. A colour photo is reduced to gray for the models and kept "
    "as ground truth for PSNR, SSIM and colourfulness. Every result downloads as a full-resolution PNG."
)


def store_from_env() -> ModelStore:
    """The models named by ``HFCOLOR_SPACE_MODELS`` (default: every shipped one), Hub first if ``HFCOLOR_HUB_ORG``."""
    models = [name.strip() for name in os.environ.get("HFCOLOR_SPACE_MODELS", "").split(",") if name.strip()]
    return ModelStore.discover(models or None, hub_org=os.environ.get("HFCOLOR_HUB_ORG", DEFAULT_HUB_ORG).strip())


def example_photos(folder: Path) -> list[str]:
    """scikit-image's sample photos reduced to gray, written once (atomically: another worker may read them)."""
    paths = {name: folder / f"{name}_gray.png" for name in EXAMPLES}
    for name, path in paths.items():
        if not path.is_file():
            save_image(Image.fromarray(getattr(skimage_data, name)()).convert("L"), path)
    return [str(path) for path in paths.values()]


def refuse(problem: str, **kwargs) -> NoReturn:
    raise gr.Error(problem, print_exception=False, **kwargs)


def check_numbers(samples, steps, seed) -> list[int]:
    """The sampling controls' raw values (the button runs with preprocess=False) as whole numbers in range."""
    numbers = []
    for (name, (low, high)), value in zip(LIMITS.items(), (samples, steps, seed)):
        try:
            numbers.append(int(value))
        except (TypeError, ValueError):
            refuse(f"{name} must be a whole number, not {html.escape(repr(value))}.")
        if not low <= numbers[-1] <= high:
            refuse(f"{name} must be between {low} and {high}, not {numbers[-1]}.")
    return numbers


def read_photo(path: str, max_pixels: int) -> Image.Image:
    try:
        return load_image(path, max_pixels)
    except ImageReadError as error:  # its message says what is wrong with the file
        refuse(f"This file cannot be colorized: {html.escape(error.problem)}.", title="Unusable file")


def colorize_all(store: ModelStore, names: list[str], image: Image.Image, samples: int, steps: int, seed: int):
    """([(model, label, result)], problems): every model through the same call, with only the options it has."""
    results, problems = [], []
    for name in names:
        try:
            model = (colorizer := store.get(name)[0]).model
            options = {key: value for key, value in {"num_inference_steps": steps}.items() if key in model.options}
            labels = [f"{name} (seed {seed + k})" for k in range(samples)] if model.stochastic else [name]
            images = colorizer.colorize_images([image], samples=len(labels), seed=seed, **options)
            results += [(name, label, result) for label, result in zip(labels, images)]
        except ModelLoadError as error:
            problems.append(f"`{name}` could not be loaded: {html.escape(str(error).splitlines()[0])}")
        except Exception as error:  # noqa: BLE001  (one model failing on this photo must not cost the others' results)
            problems.append(f"`{name}` failed on this photo: {html.escape(str(error).splitlines()[0])}")
    return results, problems


def score_rows(truth: Image.Image, results: list) -> tuple[list[list], str, list[str]]:
    """(metrics rows, table label, notes) against a colour photo, at SCORE_MAX_PIXELS at most; no rows for a gray one."""
    if is_black_and_white(truth):  # gray or one tint (sepia): nothing to score against
        return [], "Against the ground truth", []
    true_colour, scores, size = against_truth(truth, [result for *_, result in results], SCORE_MAX_PIXELS)
    rows = [["ground truth", None, None, round(true_colour, 2)]] + [
        [label, round(s["psnr"], 2), "n/a" if s["ssim"] is None else round(s["ssim"], 4), round(s["colorfulness"], 2)]
        for (_, label, _), s in zip(results, scores)
    ]
    notes = (
        [f"SSIM is n/a: it needs a photo at least {SSIM_MIN_SIDE} px on each side."]
        if min(size) < SSIM_MIN_SIDE
        else []
    )
    scaled = f" (scored at {size[0]}x{size[1]})" if size != truth.size else ""
    return rows, "Against the ground truth" + scaled, notes


def save_png(picture: Image.Image, folder: Path, stem: str, label: str) -> str:
    # At PNG_COMPRESS_LEVEL into the request's own folder in Gradio's cache, which serves it as it is and deletes it
    # with delete_cache: Gradio's own saving rewrites one shared file per picture, breaking concurrent downloads of it.
    name = "_".join(re.sub(r"[^\w.-]+", "_", part).strip("_")[:80] or "photo" for part in (stem, label))
    return str(save_image(picture, folder / f"{name}.png"))


def colorize_photo(store: ModelStore, photo, chosen, samples, steps, seed, *, max_pixels: int, cache: str) -> list:
    """The Colorize button: checks its raw inputs, colorizes, scores and writes PNGs into a new folder in ``cache``."""
    if not photo or not photo.get("path"):
        refuse("Upload a photo or pick an example first.")
    if not (names := [name for name in store.names if name in (chosen or [])]):
        refuse("Choose at least one model." if store.names else "No model has trained weights yet.")
    samples, steps, seed = check_numbers(samples, steps, seed)
    image, started = read_photo(photo["path"], max_pixels), time.perf_counter()
    results, problems = colorize_all(store, names, image, samples, steps, seed)
    rows, title, notes = score_rows(image, results)
    folder, stem = Path(cache) / "hfcolor" / uuid.uuid4().hex, Path(photo.get("orig_name") or "photo").stem
    gallery = [(gray := save_png(gray_preview(image), folder, stem, "gray"), "input, as the models see it")]
    gallery += [(save_png(image, folder, stem, "ground_truth"), "ground truth (your colour photo)")] if rows else []
    saved = [(name, save_png(result, folder, stem, label), label) for name, label, result in results]
    gallery += [(path, label) for _, path, label in saved]
    pairs = {name: (gray, path) for name, path, _ in reversed(saved)}  # each model's first result
    took = f"{len(pairs)} of {len(names)} models colorized this {image.width}x{image.height} photo"
    message = "\n\n".join([f"{took} in {time.perf_counter() - started:.1f} s.", *(f"⚠️ {p}" for p in problems + notes)])
    table = gr.Dataframe(value=rows, label=title, visible=bool(rows))
    sliders = [gr.ImageSlider(value=pairs.get(name), visible=name in pairs) for name in store.names]
    return [message, gallery, table, store.status_markdown(), *sliders]  # in the order of output_panel's outputs


def input_panel(store: ModelStore, examples: list[str]) -> tuple[list, gr.Group, gr.Button]:
    """The photo and examples beside the models and sampling controls: ([photo, models, samples, steps, seed],
    the sampling controls' group, the Colorize button)."""
    preselected = [DEFAULT_MODEL] if DEFAULT_MODEL in store.names else store.names
    with gr.Row():
        with gr.Column():
            photo = gr.Image(
                type="filepath", image_mode=None, sources=UPLOADS, label="Photo", elem_id="photo", height=360
            )
            gr.Examples([[path] for path in examples], photo, label="Or try a scikit-image sample, reduced to gray")
        with gr.Column():
            chosen = gr.CheckboxGroup(store.names, value=preselected, label="Models", elem_id="models")
            with gr.Group(visible=any(map(store.samples, preselected)), elem_id="sampling-controls") as controls:
                gr.Markdown("Sampling models: each seed gives one plausible colorization.")
                samples = gr.Slider(*LIMITS["Samples"], value=1, step=1, label="Samples")
                steps = gr.Slider(*LIMITS["Steps"], value=25, step=1, label="Steps")
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
            button = gr.Button("Colorize", variant="primary", elem_id="colorize")
    return [photo, chosen, samples, steps, seed], controls, button


def output_panel(offered: list[str]) -> list:
    """The message, the gallery, the metrics table and a before/after slider per offered model."""
    message = gr.Markdown(elem_id="message")
    gallery = gr.Gallery(
        label="Side by side",
        format="png",
        columns=4,
        object_fit="contain",
        height="auto",
        buttons=["download", "download_all", "fullscreen"],
        elem_id="results",
    )
    headers = ["model", "PSNR (dB)", "SSIM", "colourfulness"]
    metrics = gr.Dataframe(
        headers=headers, label="Against the ground truth", interactive=False, visible=False, elem_id="metrics"
    )
    gr.Markdown("### Before / after")
    with gr.Row():
        sliders = [
            gr.ImageSlider(label=n, format="png", visible=False, elem_id=f"slider-{i}") for i, n in enumerate(offered)
        ]
    return [message, gallery, metrics, *sliders]


def build_demo(
    store: ModelStore | None = None, *, max_pixels=MAX_PIXELS, concurrency_limit=1, max_queue=16, examples_dir=None
) -> gr.Blocks:
    """The page for ``store``'s models (default: :func:`store_from_env`), queued with these limits."""
    store = store if store is not None else store_from_env()
    examples = example_photos(Path(examples_dir or Path(tempfile.gettempdir()) / "hfcolor-space-examples"))

    def colorize(*inputs):  # photo, chosen, samples, steps, seed
        return colorize_photo(store, *inputs, max_pixels=max_pixels, cache=demo.GRADIO_CACHE)

    def show_sampling(names):  # the sampling controls, while a chosen model samples
        return gr.Group(visible=any(map(store.samples, names or [])))

    with gr.Blocks(title="hfcolor: compare colorizers", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        (photo, chosen, *numbers), controls, button = input_panel(store, examples)
        message, gallery, metrics, *sliders = output_panel(store.names)
        with gr.Accordion("About the models", open=False):  # where each came from, and which have no weights
            status = gr.Markdown(store.status_markdown(), elem_id="model-status")
        chosen.change(show_sampling, chosen, controls, queue=False, api_visibility="private")
        # preprocess=False: an unreadable upload reaches load_image, whose messages say what is wrong.
        outputs = [message, gallery, metrics, status, *sliders]
        button.click(colorize, [photo, chosen, *numbers], outputs, api_name="colorize", preprocess=False)
        demo.load(store.status_markdown, outputs=status, queue=False, api_visibility="private")
    return demo.queue(default_concurrency_limit=concurrency_limit, max_size=max_queue)


def launch(demo: gr.Blocks, **kwargs):
    """Launch with the Space's limits; ``kwargs`` go to ``Blocks.launch``."""
    return demo.launch(max_file_size=MAX_FILE_SIZE, **kwargs)


def main() -> None:
    store = store_from_env()
    # Load in the background: the page is up at once and the first click rarely waits for weights.
    threading.Thread(target=store.load_all, name="hfcolor-model-loading", daemon=True).start()
    concurrency = int(os.environ.get("HFCOLOR_SPACE_CONCURRENCY", "1"))
    set_threads(max(1, cpu_cores() // concurrency))  # requests running at once share the cores
    launch(build_demo(store, concurrency_limit=concurrency, max_queue=int(os.environ.get("HFCOLOR_SPACE_QUEUE", "16"))))


if __name__ == "__main__":
    main()
