"""hfcolor Space: colorize a photo (or a batch) with the recommended model, or compare models side by side.

Deploys to Hugging Face Spaces unchanged (see README.md beside this file) and starts locally with
``python space/app.py``. Settings, all optional, by environment variable:

* ``HFCOLOR_SPACE_MODELS``: comma-separated model names to offer (default: every shipped model);
* ``HFCOLOR_HUB_ORG``: each model is fetched first from the Hub as ``<org>/<name>``, then from the
  shipped weights (default ``hfcolor``; empty turns the Hub off);
* ``HFCOLOR_WEIGHTS_DIR``: another folder of saved models, one sub-folder per name (read by hfcolor);
* ``HFCOLOR_SPACE_CONCURRENCY`` / ``HFCOLOR_SPACE_QUEUE``: requests run at once / waiting at most.

This file lays the page out; ``handlers.py`` beside it holds each step of a request. Tests and
benchmarks import :func:`build_demo` and :class:`ModelStore` to run the same page on models they save.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # gradio reads it on import: the Space needs no network
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: idle spinning slows other requests

import sys
import tempfile
import threading
from pathlib import Path

import gradio as gr
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # handlers.py, however this file is started
import handlers

from hfcolor.hardware import cpu_cores, set_threads
from hfcolor.pipelines import gray_preview
from hfcolor.pipelines.store import ModelLoadError, ModelStore  # noqa: F401  (ModelLoadError: for callers)

DEFAULT_HUB_ORG = "hfcolor"
MAX_FILE_SIZE = "50mb"
MAX_PIXELS = 16_000_000  # every phone photo up to 4000x4000; several models on more hold a CPU Space for minutes
UPLOADS = ["upload", "clipboard"]  # no webcam
INTRO = (
    "# hfcolor: colorize black-and-white photos\n**Colorize** gives the recommended model's result, with a "
    "before/after slider and a download; **Compare** runs the models you choose side by side, and scores them "
    "against a colour photo's own colours; **Video** colorizes a short clip, its colours held steady."
)
VIDEO_NOTE = (
    f"Up to {handlers.MAX_VIDEO_SECONDS} s ({handlers.MAX_VIDEO_FRAMES} frames) at most 1280x720, about 5 frames "
    "a second here; the sound is kept. Any length: `hfcolor colorize film.mp4 -o out/`."
)
# Narrow screens (phones): one before/after slider per row, at full width.
CSS = "@media (max-width: 640px) { #sliders > * { min-width: 100% !important; } }"


def store_from_env() -> ModelStore:
    """The models named by ``HFCOLOR_SPACE_MODELS`` (default: every shipped one), Hub first if ``HFCOLOR_HUB_ORG``."""
    models = [name.strip() for name in os.environ.get("HFCOLOR_SPACE_MODELS", "").split(",") if name.strip()]
    return ModelStore.discover(models or None, hub_org=os.environ.get("HFCOLOR_HUB_ORG", DEFAULT_HUB_ORG).strip())


def photo_panel(examples: list[str]) -> tuple[gr.Image, gr.Markdown]:
    """The photo both modes colorize, the line that says what was uploaded, and the examples."""
    photo = gr.Image(type="filepath", image_mode=None, sources=UPLOADS, label="Photo", elem_id="photo", height=360)
    note = gr.Markdown(elem_id="upload-note")
    gr.Examples([[path] for path in examples], photo, label="Or try scikit-image's photos (the last one in colour)")
    return photo, note


def colorize_panel(store: ModelStore) -> tuple[list, list, gr.Button, gr.Button]:
    """Colorize mode, result first: ([photos, strength, format], [slider, download, message], run, stop)."""
    model = store.recommended
    with gr.Row():
        button = gr.Button("Colorize", variant="primary", elem_id="colorize", scale=3)
        stop = gr.Button("Stop", variant="secondary", elem_id="colorize-stop", scale=1, min_width=80)
    slider = gr.ImageSlider(label="Before / after", format="png", elem_id="result", height=480)
    download = gr.File(label="Download", elem_id="download", interactive=False)
    message = gr.Markdown(elem_id="colorize-message")
    with gr.Row():
        strength = gr.Slider(0, 1, value=0.5, step=0.05, label="Colour strength", info="0: faithful; 1: vivid")
        strength.visible = model is not None and "vividness" in store.options(model)
        file_format = gr.Radio(list(handlers.FORMATS), value="PNG", label="Download as", elem_id="format")
    with gr.Accordion("Several photos at once", open=False):
        photos = gr.File(
            file_count="multiple", file_types=["image"], label="Photos (a zip comes back)", elem_id="batch"
        )
    if model:
        gr.Markdown(f"Model: `{model}`" + (f", {s}" if (s := store.summary(model)) else "") + ". Compare shows others.")
    return [photos, strength, file_format], [slider, download, message], button, stop


def hints_panel() -> tuple[gr.ColorPicker, gr.Image, gr.Button, gr.State]:
    """Colour hints: pick a colour, click the photo where it belongs; the result follows each click."""
    with gr.Accordion("Colour hints: click the photo to give a colour", open=False, elem_id="hints"):
        with gr.Row():
            colour = gr.ColorPicker("#2050c0", label="Hint colour", elem_id="hint-colour", scale=3)
            clear = gr.Button("Clear hints", elem_id="clear-hints", scale=1, min_width=80)
        canvas = gr.Image(
            label="Click where the colour belongs", interactive=False, elem_id="hint-canvas", format="png", height=360
        )
    return colour, canvas, clear, gr.State({})


def compare_panel(store: ModelStore) -> tuple[list, gr.CheckboxGroup, gr.Group, list, gr.Button, gr.Button]:
    """Compare mode: ([samples, steps, seed, score], models, sampling controls, outputs, run, stop); outputs are
    [message, gallery, metrics, *one before/after slider per offered model]."""
    preselected = [store.recommended] if store.names else []
    choices = [(f"{name}: {s}" if (s := store.summary(name)) else name, name) for name in store.comparable]
    chosen = gr.CheckboxGroup(choices, value=preselected, label="Models", elem_id="models")
    score = gr.Checkbox(label="Score against this photo even though it looks black and white", elem_id="score")
    with gr.Group(visible=any(map(store.samples, preselected)), elem_id="sampling-controls") as controls:
        gr.Markdown("Sampling models: each seed gives one plausible colorization.")
        samples = gr.Slider(*handlers.LIMITS["Samples"], value=1, step=1, label="Samples")
        steps = gr.Slider(*handlers.LIMITS["Steps"], value=25, step=1, label="Steps")
        seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
    with gr.Row():
        button = gr.Button("Compare", variant="primary", elem_id="compare", scale=3)
        stop = gr.Button("Stop", variant="secondary", elem_id="compare-stop", scale=1, min_width=80)
    message = gr.Markdown(elem_id="message")
    gallery = gr.Gallery(
        label="Side by side",
        format="png",
        columns=3,
        object_fit="contain",
        height="auto",
        buttons=["download", "download_all", "fullscreen"],
        elem_id="results",
    )
    headers = ["model", "PSNR (dB)", "SSIM", "colourfulness"]
    metrics = gr.Dataframe(headers=headers, interactive=False, visible=False, elem_id="metrics")
    with gr.Row(elem_id="sliders"):
        sliders = [
            gr.ImageSlider(label=name, format="png", visible=False, min_width=300, elem_id=f"slider-{index}")
            for index, name in enumerate(store.names)
        ]
    return [samples, steps, seed, score], chosen, controls, [message, gallery, metrics, *sliders], button, stop


def video_panel() -> tuple[list, list, gr.Button, gr.Button]:
    """Video mode: ([video, steadiness], [result, message], run, stop)."""
    gr.Markdown(VIDEO_NOTE)
    video = gr.Video(sources=["upload"], label="Black-and-white video", elem_id="video")
    steadiness = gr.Slider(0, 1, value=0.8, step=0.05, label="Steadiness", info="0: each frame alone; 1: steadiest")
    with gr.Row():
        button = gr.Button("Colorize video", variant="primary", elem_id="colorize-video", scale=3)
        stop = gr.Button("Stop", variant="secondary", elem_id="video-stop", scale=1, min_width=80)
    result = gr.Video(label="Colorized", format="mp4", interactive=False, elem_id="video-result")
    return [video, steadiness], [result, gr.Markdown(elem_id="video-message")], button, stop


def build_demo(
    store: ModelStore | None = None, *, max_pixels=MAX_PIXELS, concurrency_limit=1, max_queue=16, examples_dir=None
) -> gr.Blocks:
    """The page for ``store``'s models (default: :func:`store_from_env`), queued with these limits."""
    store = store if store is not None else store_from_env()
    examples = handlers.example_photos(Path(examples_dir or Path(tempfile.gettempdir()) / "hfcolor-space-examples"))
    model = store.recommended

    def colorize(photo, photos, strength, file_format, hints):
        yield from handlers.colorize(
            store, model, photo, photos, strength, file_format, hints, max_pixels=max_pixels, cache=demo.GRADIO_CACHE
        )

    def new_canvas(photo):
        return handlers.hint_canvas(photo, max_pixels=max_pixels, cache=demo.GRADIO_CACHE)

    def add_hint(hints, colour, click: gr.SelectData):
        return handlers.add_hint(hints, colour, click.index)

    def compare(photo, chosen, samples, steps, seed, score):
        yield from handlers.compare(
            store, photo, chosen, samples, steps, seed, score, max_pixels=max_pixels, cache=demo.GRADIO_CACHE
        )

    def colorize_video(video, steadiness):
        yield from handlers.colorize_video(store, model, video, steadiness, cache=demo.GRADIO_CACHE)

    def describe(photo):
        return handlers.describe_upload(photo, max_pixels)

    def show_sampling(names):  # the sampling controls, while a chosen model samples
        return gr.Group(visible=any(map(store.samples, names or [])))

    with gr.Blocks(title="hfcolor: colorize black-and-white photos", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=2, min_width=300):
                photo, note = photo_panel(examples)
            with gr.Column(scale=3, min_width=300), gr.Tabs():
                with gr.Tab("Colorize", elem_id="colorize-tab"):
                    colorize_inputs, colorize_outputs, colorize_button, colorize_stop = colorize_panel(store)
                    hint_colour, canvas, clear_hints, hints = hints_panel()
                with gr.Tab("Compare", elem_id="compare-tab"):
                    numbers, chosen, controls, (message, *results), compare_button, compare_stop = compare_panel(store)
                with gr.Tab("Video", elem_id="video-tab"):
                    video_inputs, video_outputs, video_button, video_stop = video_panel()
        with gr.Accordion("About the models", open=False):  # where each came from, and which have no weights
            status = gr.Markdown(store.status_markdown(), elem_id="model-status")
        # preprocess=False: an unreadable upload reaches load_image, whose messages say what is wrong.
        photo.upload(describe, photo, note, preprocess=False, queue=False, api_visibility="private")
        photo.clear(lambda: "", None, note, queue=False, api_visibility="private")
        chosen.change(show_sampling, chosen, controls, queue=False, api_visibility="private")
        colorizing = colorize_button.click(
            colorize, [photo, *colorize_inputs, hints], colorize_outputs, api_name="colorize", preprocess=False
        )
        # Hints: a new photo gets a new canvas; each click (or clearing them) colorizes again. Gradio's default
        # would drop a click made while the last one is handled, or its colorization: every click counts here.
        photo.change(new_canvas, photo, [canvas, hints], preprocess=False, api_visibility="private")
        clicked = canvas.select(add_hint, [hints, hint_colour], [canvas, hints], api_visibility="private",
                                trigger_mode="multiple", show_progress="hidden")  # fmt: skip
        cleared = clear_hints.click(handlers.clear_hints, hints, [canvas, hints], api_visibility="private")
        for event in (clicked, cleared):
            event.success(colorize, [photo, *colorize_inputs, hints], colorize_outputs, preprocess=False,
                          api_visibility="private", trigger_mode="always_last")  # fmt: skip
        comparing = compare_button.click(
            compare, [photo, chosen, *numbers], [message, results[0], results[1], status, *results[2:]],
            api_name="compare", preprocess=False, show_progress="minimal",
        )  # fmt: skip
        videoing = video_button.click(colorize_video, video_inputs, video_outputs, api_name="colorize_video")
        colorize_stop.click(None, cancels=[colorizing], api_visibility="private")
        video_stop.click(None, cancels=[videoing], api_visibility="private")
        compare_stop.click(None, cancels=[comparing], api_visibility="private")
        demo.load(store.status_markdown, outputs=status, queue=False, api_visibility="private")
    return demo.queue(default_concurrency_limit=concurrency_limit, max_size=max_queue)


def launch(demo: gr.Blocks, **kwargs):
    """Launch with the Space's limits; ``kwargs`` go to ``Blocks.launch``."""
    return demo.launch(max_file_size=MAX_FILE_SIZE, css=CSS, **kwargs)


def warm_up(store: ModelStore) -> None:
    """Load every model, and build the tables photo-size colour conversion needs (0.5 s the first time)."""
    store.load_all()
    gray_preview(Image.new("RGB", (8, 8)))


def main() -> None:
    store = store_from_env()
    # Load in the background: the page is up at once and the first click rarely waits for weights.
    threading.Thread(target=warm_up, args=(store,), name="hfcolor-model-loading", daemon=True).start()
    concurrency = int(os.environ.get("HFCOLOR_SPACE_CONCURRENCY", "1"))
    set_threads(max(1, cpu_cores() // concurrency))  # requests running at once share the cores
    launch(build_demo(store, concurrency_limit=concurrency, max_queue=int(os.environ.get("HFCOLOR_SPACE_QUEUE", "16"))))


if __name__ == "__main__":
    main()
