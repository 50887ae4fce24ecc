"""hfcolor Space: colorize one photo with every model side by side.

Deploys to Hugging Face Spaces unchanged (see README.md beside this file) and starts locally with
``python space/app.py``. Settings, all optional, by environment variable:

* ``HFCOLOR_SPACE_MODELS``: comma-separated model names to offer (default: every shipped model);
* ``HFCOLOR_HUB_ORG``: each model is fetched first from the Hub as ``<org>/<name>``, then from the
  shipped weights (default ``hfcolor``; empty turns the Hub off);
* ``HFCOLOR_WEIGHTS_DIR``: another folder of saved models, one sub-folder per name (read by hfcolor);
* ``HFCOLOR_SPACE_CONCURRENCY`` / ``HFCOLOR_SPACE_QUEUE``: requests run at once / waiting at most.

Tests and benchmarks import :func:`build_demo` and :class:`ModelStore` to run the same page on
models they save themselves.
"""

from __future__ import annotations

import os

# Gradio reads this at import time; the Space must start with no network at all.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Before torch loads OpenMP: spinning idle threads would slow the other request sharing the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import html
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image
from skimage import data as skimage_data

from hfcolor import Colorizer, ImageReadError, load_image, load_model
from hfcolor.hardware import cpu_cores, set_threads
from hfcolor.image_io import PNG_COMPRESS_LEVEL, image_lightness
from hfcolor.metrics import SSIM_MIN_SIDE, colorfulness, psnr, ssim
from hfcolor.models import DEFAULT_MODEL, RECIPES, available_weights
from hfcolor.models.diffusion import DiffusionColorizer
from hfcolor.pipeline import merge

DEFAULT_HUB_ORG = "hfcolor"
# 16 MP takes every phone photo up to 4000x4000; several models on a bigger image would hold a
# CPU Space for minutes.
MAX_PIXELS = 16_000_000
MAX_FILE_SIZE = "50mb"
MAX_SAMPLES, MAX_STEPS, DEFAULT_STEPS = 4, 100, 25
# Hasler-Suesstrunk colourfulness of a gray photo is 0; JPEG chroma noise stays well under 1.
COLOUR_THRESHOLD = 1.0
# SSIM of one 12 MP pair takes longer than colorizing it; bigger photos are scored reduced to 2 MP.
SCORE_MAX_PIXELS = 2_000_000
EXAMPLES = ("astronaut", "chelsea", "coffee", "rocket")


class ModelLoadError(RuntimeError):
    pass


class ModelStore:
    """The models the page offers, each loaded on first use (Hub id first, then local weights) and kept.

    A failure is kept too, so a broken model costs one attempt, not one per request.
    """

    def __init__(self, folders: dict[str, Path], hub_ids: dict[str, str], missing: list[str]):
        # The flagship first: it is the one pre-selected.
        self.names = sorted(set(folders) | set(hub_ids), key=lambda name: (name != DEFAULT_MODEL, name))
        self.folders, self.hub_ids, self.missing = folders, hub_ids, missing
        self._loaded: dict[str, tuple[Colorizer, str] | ModelLoadError] = {}
        self._locks = {name: threading.Lock() for name in self.names}

    @classmethod
    def discover(
        cls, models: list[str] | None = None, weights_dir: str | os.PathLike | None = None, hub_org: str = ""
    ) -> ModelStore:
        """Offer ``models`` (default: every colorizer with saved weights, shipped or in ``weights_dir``)."""
        weights = available_weights()
        if weights_dir is not None:
            weights.update({p.parent.name: p.parent for p in Path(weights_dir).glob("*/config.json")})
        if models is None:
            models = [name for name in weights if name not in RECIPES or RECIPES[name].is_colorizer]
        folders = {name: weights[name] for name in models if name in weights}
        hub_ids = {name: f"{hub_org}/{name}" for name in models} if hub_org else {}
        colorizers = {name for name, recipe in RECIPES.items() if recipe.is_colorizer}
        missing = sorted((colorizers | set(models)) - set(folders) - set(hub_ids))
        return cls(folders, hub_ids, missing)

    @classmethod
    def from_env(cls) -> ModelStore:
        listed = os.environ.get("HFCOLOR_SPACE_MODELS", "").strip()
        models = [name.strip() for name in listed.split(",") if name.strip()] if listed else None
        return cls.discover(models, hub_org=os.environ.get("HFCOLOR_HUB_ORG", DEFAULT_HUB_ORG).strip())

    def get(self, name: str) -> tuple[Colorizer, str]:
        """(colorizer, where its weights came from); raises :class:`ModelLoadError`."""
        with self._locks[name]:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            entry = self._loaded[name]
        if isinstance(entry, ModelLoadError):
            raise entry
        return entry

    def load_all(self) -> None:
        for name in self.names:
            try:
                self.get(name)
            except ModelLoadError:
                pass  # recorded; the page shows it

    def _load(self, name: str) -> tuple[Colorizer, str] | ModelLoadError:
        problems = []
        sources = []
        if name in self.hub_ids:
            sources.append((self.hub_ids[name], f"Hub {self.hub_ids[name]}"))
        if name in self.folders:
            sources.append((self.folders[name], "local weights"))
        for source, label in sources:
            try:
                # Offline, a Hub id fails in seconds (hfcolor checks reachability once) unless it is cached.
                return Colorizer(load_model(source), max_pixels=None), label
            # Any error a model raises while loading must leave the other models working.
            except Exception as error:  # noqa: BLE001
                problems.append(f"{label}: {error}")
        return ModelLoadError("; ".join(problems))

    def status(self, name: str) -> str:
        entry = self._loaded.get(name)
        if entry is None:
            return "not loaded yet"
        if isinstance(entry, ModelLoadError):
            return f"failed to load: {str(entry).splitlines()[0]}"
        return f"loaded from {entry[1]}"

    def status_markdown(self) -> str:
        lines = [f"- `{name}`: {html.escape(self.status(name))}" for name in self.names]
        if not self.names:
            lines.append("- none: no model has trained weights yet")
        if self.missing:
            lines.append(f"\n**Not found** (no trained weights): {', '.join(f'`{n}`' for n in self.missing)}")
        return "**Models**\n\n" + "\n".join(lines)


def is_diffusion(name: str) -> bool:
    # Registered names are "<family>.<recipe>" and shipped folders carry the recipe name.
    return name.partition(".")[0] == DiffusionColorizer.family


def example_photos(folder: Path) -> list[str]:
    """scikit-image's sample photos reduced to gray, written once."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in EXAMPLES:
        path = folder / f"{name}_gray.png"
        if not path.is_file():
            # Written aside and renamed: another worker may be reading this folder at the same time.
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            Image.fromarray(getattr(skimage_data, name)()).convert("L").save(partial, format="PNG")
            os.replace(partial, path)
        paths.append(str(path))
    return paths


def colorize_with(colorizer: Colorizer, image: Image.Image, samples: int, steps: int, seed: int) -> list[Image.Image]:
    if not isinstance(colorizer.model, DiffusionColorizer):
        return colorizer.colorize_images([image])
    from hfcolor.models.diffusion_pipeline import DiffusionColorizationPipeline

    pipe = DiffusionColorizationPipeline.from_colorizer(colorizer.model)
    pipe.set_progress_bar_config(disable=True)
    # One generator per sample: sample k keeps its colours whatever the number of samples asked for.
    generators = [torch.Generator().manual_seed(seed + k) for k in range(samples)]
    return pipe(
        image, num_inference_steps=steps, generator=generators, num_images_per_prompt=samples, max_pixels=None
    ).images


def _whole_number(value, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise gr.Error(
            f"{name} must be a whole number, not {html.escape(repr(value))}.", print_exception=False
        ) from None
    if not low <= number <= high:
        raise gr.Error(f"{name} must be between {low} and {high}, not {number}.", print_exception=False)
    return number


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_")[:80] or "photo"


def build_demo(
    store: ModelStore | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
    concurrency_limit: int = 1,
    max_queue: int = 16,
    examples_dir: str | os.PathLike | None = None,
) -> gr.Blocks:
    store = store if store is not None else ModelStore.from_env()
    offered = store.names
    examples = example_photos(Path(examples_dir or Path(tempfile.gettempdir()) / "hfcolor-space-examples"))

    def colorize(photo, chosen, samples, steps, seed):
        # Runs with preprocess=False so that unreadable uploads reach load_image, whose messages
        # say what is wrong; so the numbers arrive unchecked and are checked here.
        if not photo or not photo.get("path"):
            raise gr.Error("Upload a photo or pick an example first.", print_exception=False)
        chosen = [name for name in offered if name in (chosen or [])]
        if not chosen:
            problem = "Choose at least one model." if offered else "No model has trained weights yet."
            raise gr.Error(problem, print_exception=False)
        samples = _whole_number(samples, "Samples", 1, MAX_SAMPLES)
        steps = _whole_number(steps, "Steps", 1, MAX_STEPS)
        seed = _whole_number(seed, "Seed", 0, 2**63 - 1)
        try:
            image = load_image(photo["path"], max_pixels)
        except ImageReadError as error:
            raise gr.Error(
                f"This file cannot be colorized: {html.escape(error.problem)}.",
                title="Unusable file",
                print_exception=False,
            ) from None
        started = time.perf_counter()
        scale = min(1.0, (SCORE_MAX_PIXELS / (image.width * image.height)) ** 0.5)
        score_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))

        def for_scoring(picture: Image.Image) -> np.ndarray:
            return np.asarray(picture if scale == 1 else picture.resize(score_size, Image.Resampling.BOX))

        truth = for_scoring(image)
        thumbnail = image.copy()
        thumbnail.thumbnail((256, 256))
        has_colour = colorfulness(np.asarray(thumbnail)) > COLOUR_THRESHOLD
        # The photo as the models see it: its own L* with no colour.
        gray = merge(image_lightness(image), torch.zeros(2, 1, 1))

        results, problems = {}, []
        for name in chosen:
            try:
                colorizer, _ = store.get(name)
                results[name] = colorize_with(colorizer, image, samples, steps, seed)
            except ModelLoadError as error:
                problems.append(f"`{name}` could not be loaded: {html.escape(str(error).splitlines()[0])}")
            # One model failing on this photo must not cost the user the others' results.
            except Exception as error:  # noqa: BLE001
                problems.append(f"`{name}` failed on this photo: {html.escape(str(error).splitlines()[0])}")

        folder = Path(demo.GRADIO_CACHE) / "hfcolor" / uuid.uuid4().hex
        folder.mkdir(parents=True)
        stem = _file_name(Path(photo.get("orig_name") or "photo").stem)

        def png(picture: Image.Image, label: str) -> str:
            # Gradio serves files already in its cache as they are and deletes them with delete_cache.
            # Its own saving of PIL images rewrites one shared file per picture in place, which
            # breaks concurrent downloads of the same picture (two users on the same example).
            path = folder / f"{stem}_{_file_name(label)}.png"
            picture.save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
            return str(path)

        gray_png = png(gray, "gray")
        gallery = [(gray_png, "input, as the models see it")]
        if has_colour:
            gallery.append((png(image, "ground_truth"), "ground truth (your colour photo)"))
        rows = [["ground truth", None, None, round(colorfulness(truth), 2)]] if has_colour else []
        pairs = {}
        for name, images in results.items():
            for k, result in enumerate(images):
                label = f"{name} (seed {seed + k})" if is_diffusion(name) else name
                gallery.append((png(result, label), label))
                pairs.setdefault(name, (gray_png, gallery[-1][0]))
                if has_colour:
                    pixels = for_scoring(result)
                    similarity = round(ssim(pixels, truth), 4) if min(truth.shape[:2]) >= SSIM_MIN_SIDE else "n/a"
                    rows.append([label, round(psnr(pixels, truth), 2), similarity, round(colorfulness(pixels), 2)])
        if has_colour and min(truth.shape[:2]) < SSIM_MIN_SIDE:
            problems.append(f"SSIM is n/a: it needs a photo at least {SSIM_MIN_SIDE} px on each side.")
        summary = (
            f"{len(results)} of {len(chosen)} models colorized this {image.width}x{image.height} photo "
            f"in {time.perf_counter() - started:.1f} s."
        )
        updates = {
            message: "\n\n".join([summary, *(f"⚠️ {problem}" for problem in problems)]),
            gallery_out: gallery,
            metrics: gr.Dataframe(
                value=rows,
                visible=has_colour,
                label="Against the ground truth"
                + (f" (scored at {score_size[0]}x{score_size[1]})" if scale < 1 else ""),
            ),
            status: store.status_markdown(),
        }
        for name, slider in sliders.items():
            updates[slider] = gr.ImageSlider(value=pairs.get(name), visible=name in pairs)
        return updates

    with gr.Blocks(title="hfcolor: compare colorizers", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# hfcolor: compare colorizers\n"
            "Upload a photo (gray or colour) and press **Colorize**: hfcolor's default model is ticked; tick "
            "others to compare them side by side. "
            "A colour photo is reduced to gray for the models and kept as ground truth for PSNR, SSIM and "
            "colourfulness. Every result downloads as a full-resolution PNG."
        )
        status = gr.Markdown(store.status_markdown(), elem_id="model-status")
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(
                    label="Photo",
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "clipboard"],
                    elem_id="photo",
                    height=360,
                )
                gr.Examples(
                    examples=[[path] for path in examples],
                    inputs=[photo],
                    label="Or try a scikit-image sample, reduced to gray",
                )
            with gr.Column(scale=1):
                preselected = [DEFAULT_MODEL] if DEFAULT_MODEL in offered else offered
                chosen = gr.CheckboxGroup(choices=offered, value=preselected, label="Models", elem_id="models")
                with gr.Group(visible=any(map(is_diffusion, preselected)), elem_id="diffusion-controls") as diffusion:
                    gr.Markdown("Diffusion sampling: each seed gives one plausible colorization.")
                    samples = gr.Slider(1, MAX_SAMPLES, value=1, step=1, label="Samples")
                    steps = gr.Slider(1, MAX_STEPS, value=DEFAULT_STEPS, step=1, label="Steps")
                    seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
                run = gr.Button("Colorize", variant="primary", elem_id="colorize")
        message = gr.Markdown(elem_id="message")
        gallery_out = gr.Gallery(
            label="Side by side",
            format="png",
            columns=4,
            object_fit="contain",
            height="auto",
            buttons=["download", "download_all", "fullscreen"],
            elem_id="results",
        )
        metrics = gr.Dataframe(
            headers=["model", "PSNR (dB)", "SSIM", "colourfulness"],
            label="Against the ground truth",
            interactive=False,
            visible=False,
            elem_id="metrics",
        )
        gr.Markdown("### Before / after")
        with gr.Row():
            sliders = {
                name: gr.ImageSlider(label=name, format="png", visible=False, elem_id=f"slider-{i}")
                for i, name in enumerate(offered)
            }

        chosen.change(
            lambda names: gr.Group(visible=any(map(is_diffusion, names or []))),
            inputs=chosen,
            outputs=diffusion,
            queue=False,
            api_visibility="private",
        )
        run.click(
            colorize,
            inputs=[photo, chosen, samples, steps, seed],
            outputs=[message, gallery_out, metrics, status, *sliders.values()],
            api_name="colorize",
            preprocess=False,
        )
        demo.load(store.status_markdown, outputs=status, queue=False, api_visibility="private")
    return demo.queue(default_concurrency_limit=concurrency_limit, max_size=max_queue)


def launch(demo: gr.Blocks, **kwargs):
    """Launch with the Space's limits; ``kwargs`` go to ``Blocks.launch``."""
    return demo.launch(max_file_size=MAX_FILE_SIZE, **kwargs)


def main() -> None:
    store = ModelStore.from_env()
    # Load in the background: the page is up at once and the first click rarely waits for weights.
    threading.Thread(target=store.load_all, name="hfcolor-model-loading", daemon=True).start()
    concurrency = int(os.environ.get("HFCOLOR_SPACE_CONCURRENCY", "1"))
    # Requests running at once share the cores instead of each asking for all of them.
    set_threads(max(1, cpu_cores() // concurrency))
    demo = build_demo(store, concurrency_limit=concurrency, max_queue=int(os.environ.get("HFCOLOR_SPACE_QUEUE", "16")))
    launch(demo)


if __name__ == "__main__":
    main()
