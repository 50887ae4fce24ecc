"""The steps of the Space's requests, each checkable alone: check the inputs, colorize, score, save.

``app.py`` lays the page out and wires :func:`colorize` (Colorize mode), :func:`compare` (Compare
mode), :func:`colorize_video` (Video mode) and :func:`describe_upload` to it. The modes are generators:
each yield is the page's outputs so far, so a result shows as soon as it exists and the Stop button
can end the rest.
"""

from __future__ import annotations

import html
import re
import time
import uuid
import zipfile
from pathlib import Path
from typing import NoReturn

import gradio as gr
from PIL import Image, ImageDraw
from skimage import data as skimage_data

from hfcolor import Hints, ImageReadError, load_image, save_image
from hfcolor.hints import colour_ab
from hfcolor.metrics import SSIM_MIN_SIDE, against_truth, is_black_and_white
from hfcolor.pipelines import gray_preview
from hfcolor.pipelines.store import ModelLoadError, ModelStore
from hfcolor.pipelines.video import VideoColorizer
from hfcolor.video_io import VideoReader, VideoReadError

LIMITS = {"Samples": (1, 4), "Steps": (1, 100), "Seed": (0, 2**63 - 1)}  # of the sampling controls
SCORE_MAX_PIXELS = 2_000_000  # SSIM of one 12 MP pair takes longer than colorizing it: bigger photos are reduced
MAX_BATCH = 20  # photos in one Colorize request: what one request may cost is bounded
FORMATS = {"PNG": ".png", "JPEG": ".jpg"}
# scikit-image's photos (public domain or CC0): camera is a genuine black-and-white photo, the others are
# offered in gray, and coffee also in colour, so that Compare has a truth to score the models against.
GRAY_EXAMPLES, COLOUR_EXAMPLE = ("camera", "astronaut", "chelsea", "coffee", "rocket"), "coffee"
HINT_CANVAS_SIDE = 768  # the photo is shown this large at most for clicking hints; clicks are scaled back
MAX_HINTS = 100  # clicks kept for one photo: what one request may cost is bounded
GRAY_LABEL, TRUTH_LABEL = "input, as the models see it", "ground truth (your colour photo)"
# What one video request may cost: about 100 s of a 2-core CPU at 640x360 (5 frames/s).
MAX_VIDEO_SECONDS, MAX_VIDEO_FRAMES, MAX_VIDEO_PIXELS = 20, 600, 1280 * 720


def example_photos(folder: Path) -> list[str]:
    """The example photos' files, the gray ones first, written once (atomically: another worker may read them)."""
    paths = [(name, folder / f"{name}_gray.png", "L") for name in GRAY_EXAMPLES]
    paths.append((COLOUR_EXAMPLE, folder / f"{COLOUR_EXAMPLE}.png", "RGB"))
    for name, path, mode in paths:
        if not path.is_file():
            save_image(Image.fromarray(getattr(skimage_data, name)()).convert(mode), path)
    return [str(path) for _, path, _ in paths]


def refuse(problem: str, title: str = "Cannot colorize") -> NoReturn:
    raise gr.Error(problem, title=title, print_exception=False)


def check_numbers(samples, steps, seed) -> list[int]:
    """The sampling controls' raw values (the buttons run with preprocess=False) as whole numbers in range."""
    numbers = []
    for (name, (low, high)), value in zip(LIMITS.items(), (samples, steps, seed)):
        try:
            numbers.append(int(value))
        except (TypeError, ValueError):
            refuse(f"{name} must be a whole number, not {html.escape(repr(value))}.", "Invalid setting")
        if not low <= numbers[-1] <= high:
            refuse(f"{name} must be between {low} and {high}, not {numbers[-1]}.", "Invalid setting")
    return numbers


def read_photo(path: str, max_pixels: int) -> Image.Image:
    try:
        return load_image(path, max_pixels)
    except ImageReadError as error:  # its message says what is wrong with the file
        refuse(f"This file cannot be colorized: {html.escape(error.problem)}.", "Unusable file")


def describe_upload(photo: dict | None, max_pixels: int) -> str:
    """The line under the photo as soon as it is uploaded: what the models will see, or what is wrong with it."""
    if not photo or not photo.get("path"):
        return ""
    try:
        image = load_image(photo["path"], max_pixels)
    except ImageReadError as error:
        return f"⚠️ **This file cannot be colorized:** {html.escape(error.problem)}."
    if is_black_and_white(image):
        return f"Black-and-white photo, {image.width}x{image.height}."
    return f"Colour photo, {image.width}x{image.height}: the models see it in gray, and Compare scores them against it."


def run_model(
    store: ModelStore, name: str, image: Image.Image, samples=1, steps=25, seed=0, hints: Hints | None = None, **options
) -> list:
    """[(label, result)] of model ``name`` on ``image``, given only the settings it takes; a sampling model's
    results are labelled by seed. Raises :class:`ModelLoadError` if it cannot be loaded."""
    colorizer = store.get(name)[0]
    model = colorizer.model
    options = {key: value for key, value in {"num_inference_steps": steps, **options}.items() if key in model.options}
    labels = [f"{name} (seed {seed + k})" for k in range(samples)] if model.stochastic else [name]
    hints = None if hints is None else [hints]
    return list(zip(labels, colorizer.colorize_images([image], samples=len(labels), seed=seed, hints=hints, **options)))


def score_rows(truth: Image.Image, results: list, colour: bool = False) -> tuple[list[list], str, list[str]]:
    """(metrics rows, table label, notes) against a colour photo, at SCORE_MAX_PIXELS at most; no rows for one in
    black and white unless ``colour`` says it is a colour photo all the same. ``results``: [(label, picture)]."""
    if not colour and is_black_and_white(truth):  # gray or one tint (sepia): nothing to score against
        return [], "Against the ground truth", []
    true_colour, scores, size = against_truth(truth, [result for _, result in results], SCORE_MAX_PIXELS)
    rows = [["ground truth", None, None, round(true_colour, 2)]] + [
        [label, round(s["psnr"], 2), "n/a" if s["ssim"] is None else round(s["ssim"], 4), round(s["colorfulness"], 2)]
        for (label, _), s in zip(results, scores)
    ]
    notes = (
        [f"SSIM is n/a: it needs a photo at least {SSIM_MIN_SIDE} px on each side."]
        if min(size) < SSIM_MIN_SIDE
        else []
    )
    scaled = f" (scored at {size[0]}x{size[1]})" if size != truth.size else ""
    return rows, "Against the ground truth" + scaled, notes


def request_folder(cache: str) -> Path:
    """A new folder in Gradio's cache, which serves its files as they are and deletes them with delete_cache:
    Gradio's own saving rewrites one shared file per picture, which breaks concurrent downloads of it."""
    return Path(cache) / "hfcolor" / uuid.uuid4().hex


def save_result(picture: Image.Image, folder: Path, stem: str, label: str, suffix: str = ".png") -> str:
    name = "_".join(re.sub(r"[^\w.-]+", "_", part).strip("_")[:80] or "photo" for part in (stem, label))
    return str(save_image(picture, folder / f"{name}{suffix}"))


def stem_of(upload: dict) -> str:
    return Path(upload.get("orig_name") or upload.get("path") or "photo").stem


# -- Colorize mode: the recommended model, one photo or a batch -------------------------------------------


def colorize(
    store: ModelStore, model: str, photo, photos, strength, file_format, hints=None, *, max_pixels: int, cache: str
):
    """Yields [before/after slider, download, message]: each photo's result as it is done; at the end, the file
    (one photo) or a zip (several) in ``file_format``. ``strength``: the model's vividness, if it has one;
    ``hints``: the clicks on the photo (see :func:`hint_canvas`), for the photo alone, not for a batch."""
    try:
        uploads = [upload for upload in photos or [] if upload and upload.get("path")] or (
            [photo] if photo and photo.get("path") else []
        )
        if not uploads:
            refuse("Upload a photo or pick an example first.", "No photo")
        if len(uploads) > MAX_BATCH:
            refuse(f"At most {MAX_BATCH} photos at once, not {len(uploads)}.", "Too many photos")
        if file_format not in FORMATS:
            refuse(f"The format must be one of {', '.join(FORMATS)}, not {html.escape(repr(file_format))}.")
        if hints and hints.get("points") and not photos:  # a model built to take hints, if one is offered
            model = store.for_hints(model)
        options = {"vividness": check_share(strength, "Colour strength")} if "vividness" in store.options(model) else {}
        store.get(model)
    except ModelLoadError as error:
        yield [None, None, f"⚠️ `{model}` could not be loaded: {html.escape(str(error).splitlines()[0])}"]
        raise gr.Error(f"{model} could not be loaded.", title="Model unavailable", print_exception=False) from None
    except gr.Error as error:
        yield [None, None, f"⚠️ {error.message}"]  # this request's answer replaces the previous one
        raise
    folder, saved, problems, slider, started = request_folder(cache), [], [], None, time.perf_counter()
    for index, upload in enumerate(uploads):
        try:
            image = load_image(upload["path"], max_pixels)
        except ImageReadError as error:
            problems.append(f"⚠️ {html.escape(upload.get('orig_name') or 'a file')}: {html.escape(error.problem)}")
            continue
        clicks = hints_in_photo(hints, image.size) if not photos else None
        ((_, result),) = run_model(store, model, image, hints=clicks, **options)
        saved.append(save_result(result, folder, stem_of(upload), model, FORMATS[file_format]))
        slider = (save_result(gray_preview(image), folder, stem_of(upload), "gray"), saved[-1])
        if len(uploads) > 1:  # one photo's answer comes at once: emptying the download meanwhile moves the page
            progress = f"Colorized {len(saved)} of {len(uploads)} photos with `{model}`…"
            yield [slider, None, "\n\n".join([progress, *problems])]
    took = f"`{model}` colorized {len(saved)} of {len(uploads)} photo(s) in {time.perf_counter() - started:.1f} s."
    download = None if not saved else saved[0] if len(uploads) == 1 else zip_files(saved, folder / "colorized.zip")
    yield [slider, download, "\n\n".join([took, *problems])]


def zip_files(paths: list[str], target: Path) -> str:
    names = set()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:  # PNG and JPEG are compressed already
        for path in paths:
            name, number = Path(path).name, 1
            while name in names:  # two uploads of the same name keep both results
                name, number = f"{Path(path).stem}_{number}{Path(path).suffix}", number + 1
            names.add(name)
            archive.write(path, name)
    return str(target)


# -- Compare mode: every chosen model, streamed ---------------------------------------------------------


def compare(store: ModelStore, photo, chosen, samples, steps, seed, score=False, *, max_pixels: int, cache: str):
    """Yields [message, gallery, metrics, status, *one slider per offered model] as each chosen model finishes;
    the metrics table comes last, for a colour photo or (``score``) one the user says is in colour."""
    try:
        if not photo or not photo.get("path"):
            refuse("Upload a photo or pick an example first.", "No photo")
        if not (names := [name for name in store.names if name in (chosen or [])]):
            refuse("Choose at least one model." if store.names else "No model has trained weights yet.", "No model")
        samples, steps, seed = check_numbers(samples, steps, seed)
        image = read_photo(photo["path"], max_pixels)
    except gr.Error as error:
        yield compare_outputs(store, f"⚠️ {error.message}")  # this request's answer replaces the previous one
        raise
    folder, stem, started = request_folder(cache), stem_of(photo), time.perf_counter()
    gallery = [(save_result(gray_preview(image), folder, stem, "gray"), GRAY_LABEL)]
    colour = bool(score) or not is_black_and_white(image)
    gallery += [(save_result(image, folder, stem, "ground_truth"), TRUTH_LABEL)] if colour else []
    results, pairs, lines = [], {}, {name: f"- `{name}`: waiting" for name in names}
    working = f"Colorizing this {image.width}x{image.height} photo…"
    lines[names[0]] = f"- `{names[0]}`: working…"
    yield compare_outputs(store, working, gallery, lines, pairs=pairs)
    for index, name in enumerate(names):
        began = time.perf_counter()
        try:
            produced = run_model(store, name, image, samples, steps, seed)
        except ModelLoadError as error:
            lines[name] = f"- ⚠️ `{name}` could not be loaded: {html.escape(str(error).splitlines()[0])}"
        except Exception as error:  # noqa: BLE001  (one model failing on this photo must not cost the others' results)
            lines[name] = f"- ⚠️ `{name}` failed on this photo: {html.escape(str(error).splitlines()[0])}"
        else:
            summary = f": {html.escape(store.summary(name))}" if store.summary(name) else ""
            lines[name] = f"- ✓ `{name}`, {time.perf_counter() - began:.1f} s{summary}"
            results += produced
            gallery += [(save_result(result, folder, stem, label), label) for label, result in produced]
            pairs[name] = (gallery[0][0], gallery[-len(produced)][0])  # each model's first result
        # Each result is shown as soon as it is made: the last one must not wait for the scores.
        if index + 1 < len(names):
            lines[names[index + 1]] = f"- `{names[index + 1]}`: working…"
            yield compare_outputs(store, working, gallery, lines, pairs=pairs)
        elif colour and results:
            yield compare_outputs(store, "Scoring the results against the ground truth…", gallery, lines, pairs=pairs)
    rows, title, notes = score_rows(image, results, bool(score)) if colour and results else ([], "", [])
    took = f"{len(pairs)} of {len(names)} models colorized this {image.width}x{image.height} photo"
    message = f"{took} in {time.perf_counter() - started:.1f} s." + "".join(f"\n\n⚠️ {note}" for note in notes)
    yield compare_outputs(store, message, gallery, lines, rows, title, pairs)


def compare_outputs(store: ModelStore, message: str, gallery=(), lines=None, rows=(), title="", pairs=None) -> list:
    """Compare mode's outputs, in the order app.py lists them: a model with no result yet shows no slider."""
    pairs = pairs or {}
    text = "\n".join([message, "", *lines.values()]) if lines else message
    table = gr.Dataframe(value=list(rows), label=title or "Against the ground truth", visible=bool(rows))
    sliders = [gr.ImageSlider(value=pairs.get(name), visible=name in pairs) for name in store.names]
    return [text, list(gallery), table, store.status_markdown(), *sliders]


# -- Video mode: the recommended model, frames steadied along the motion ------------------------------------


def colorize_video(store: ModelStore, model: str, video, temporal, *, cache: str):
    """Yields [video, message]: progress every few frames, then the MP4 (same frame rate, size and sound)."""
    try:
        path = (video or {}).get("path") if isinstance(video, dict) else video
        if not path:
            refuse("Upload a video first.", "No video")
        temporal = check_share(temporal, "Steadiness")
        try:
            with VideoReader(path, MAX_VIDEO_PIXELS) as reader:
                info = reader.info
        except VideoReadError as error:
            refuse(f"This file cannot be colorized: {html.escape(error.problem)}.", "Unusable file")
        except ImportError as error:  # PyAV missing: the Space was installed without hfcolor[space]
            refuse(html.escape(str(error)), "Video unavailable")
        seconds = info.seconds if info.seconds is not None else (info.frames or 0) / info.fps
        if seconds > MAX_VIDEO_SECONDS or (info.frames or 0) > MAX_VIDEO_FRAMES:
            refuse(
                f"This video is {seconds:.0f} s long; the Space takes up to {MAX_VIDEO_SECONDS} s "
                f"({MAX_VIDEO_FRAMES} frames). `hfcolor colorize` takes any length.",
                "Video too long",
            )
        try:
            steady = VideoColorizer(store.get(model)[0], temporal=temporal)
        except ValueError as error:
            refuse(f"`{model}` cannot colorize video: {html.escape(str(error))}.", "Model unsuitable")
    except ModelLoadError as error:
        yield [None, f"⚠️ `{model}` could not be loaded: {html.escape(str(error).splitlines()[0])}"]
        raise gr.Error(f"{model} could not be loaded.", title="Model unavailable", print_exception=False) from None
    except gr.Error as error:
        yield [None, f"⚠️ {error.message}"]
        raise
    target, started = request_folder(cache) / f"{Path(path).stem}_colour.mp4", time.perf_counter()
    written = 0
    for written, total in steady.frames_written(path, target):
        if written % 10 == 0:
            yield [None, f"Colorizing with `{model}`… frame {written}" + (f" of {total}" if total else "")]
    took = time.perf_counter() - started
    yield [str(target), f"`{model}` colorized {written} frames in {took:.1f} s ({written / took:.1f} frames/s)."]


def check_share(value, name: str) -> float:
    """A setting from 0 to 1, or a clear refusal."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        refuse(f"{name} must be a number, not {html.escape(repr(value))}.", "Invalid setting")
    if not 0 <= number <= 1:
        refuse(f"{name} must be between 0 and 1, not {number}.", "Invalid setting")
    return number


# -- Colour hints: clicks on a small copy of the photo -----------------------------------------------------


def hint_canvas(photo, *, max_pixels: int, cache: str) -> tuple[str | None, dict]:
    """(the photo in gray, at most HINT_CANVAS_SIDE px, to click on; hints with no click yet) for a new upload."""
    if not photo or not photo.get("path"):
        return None, {}
    try:
        image = load_image(photo["path"], max_pixels)
    except ImageReadError:
        return None, {}  # the line under the photo says what is wrong with it
    image.thumbnail((HINT_CANVAS_SIDE, HINT_CANVAS_SIDE))
    base = save_result(gray_preview(image), request_folder(cache), stem_of(photo), "hints")
    return base, {"base": base, "size": list(image.size), "points": []}


def add_hint(hints: dict, colour: str, where: list) -> tuple[str | None, dict]:
    """(the canvas with its dots, the hints) after a click at ``where`` ([x, y] on the canvas) in ``colour``."""
    if not hints or not isinstance(where, (list, tuple)) or len(where) != 2:
        return hints.get("base") if hints else None, hints or {}
    try:
        colour_ab(colour)
    except (ValueError, TypeError):
        refuse(f"A hint colour is #rrggbb, not {html.escape(repr(colour))}.", "Invalid setting")
    points = [*hints["points"], [float(where[0]), float(where[1]), colour]][-MAX_HINTS:]
    return draw_hints(hints["base"], points), {**hints, "points": points}


def clear_hints(hints: dict) -> tuple[str | None, dict]:
    return (hints.get("base"), {**hints, "points": []}) if hints else (None, {})


def draw_hints(base: str, points: list) -> str:
    canvas = load_image(base)  # RGB, and the file closed once read
    draw, radius = ImageDraw.Draw(canvas), max(4, max(canvas.size) // 90)
    for x, y, colour in points:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline="white", width=2)
    drawn = Path(base).with_name(f"{Path(base).stem}_{uuid.uuid4().hex[:8]}.png")  # a new address: no stale copy
    return str(save_image(canvas, drawn))


def hints_in_photo(hints: dict | None, size: tuple[int, int]) -> Hints | None:
    """The canvas clicks as :class:`~hfcolor.Hints` in the photo's own pixels (None: no click)."""
    if not hints or not hints.get("points"):
        return None
    scale_x, scale_y = size[0] / hints["size"][0], size[1] / hints["size"][1]
    clicks = [(min(x * scale_x, size[0] - 1), min(y * scale_y, size[1] - 1), c) for x, y, c in hints["points"]]
    return Hints(points=clicks)
