"""Video colorization speed and memory, and where the time goes.

    python benchmarks/bench_video.py [--frames 50] [--threads 1 2] [--model NAME]

Makes a 640x360 clip of ``--frames`` frames (a camera panning and zooming over scikit-image's
coffee photo, with sound) and one ten times as long, then, in a fresh process per case, times
``VideoColorizer.colorize_file`` end to end (decoding, model, temporal step, merge, H.264
encoding) and reports frames per second and the peak RSS: memory must stay flat as the clip
grows. Then, on the short clip, each stage alone per frame.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from PIL import Image
from skimage import data as skimage_data

from hfcolor.bench import environment, json_from_fresh_process, run_case, write_clip

WIDTH, HEIGHT, FPS = 640, 360, 25


def camera_motion(count: int) -> list[np.ndarray] | object:
    """Frames of a slow pan and zoom over the coffee photo, made one at a time."""
    photo = Image.fromarray(skimage_data.coffee())  # 600x400
    for index in range(count):
        zoom = 1.0 + 0.2 * (index % 100) / 100
        width, height = 480 / zoom, 270 / zoom
        left, top = 40 + (index % 100) * 0.6, 40 + (index % 100) * 0.3
        box = (left, top, left + width, top + height)
        yield np.asarray(photo.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR, box=box))


def make_clip(path: Path, count: int) -> Path:
    return write_clip(path, camera_motion(count), FPS, tone_hz=330.0)


def end_to_end(model: str, clip: str, out: str) -> dict:
    from hfcolor import Colorizer
    from hfcolor.pipelines.video import VideoColorizer

    video = VideoColorizer(Colorizer.from_pretrained(model, device="cpu"))
    start = time.perf_counter()
    frames = video.colorize_file(clip, out)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"frames": frames, "seconds": seconds, "frames/s": frames / seconds, "peak RSS MiB": rss}


def stages(model: str, clip: str, out: str) -> dict:
    """Milliseconds per frame of each stage alone, over the whole short clip."""
    import av

    from hfcolor import Colorizer
    from hfcolor.pipelines.colorization import merge_pixels
    from hfcolor.pipelines.video import VideoColorizer
    from hfcolor.video_io import VideoReader

    colorizer = Colorizer.from_pretrained(model, device="cpu")
    video = VideoColorizer(colorizer)
    timings = {}

    def timed(name, function):
        start = time.perf_counter()
        result = function()
        timings[name] = (time.perf_counter() - start) * 1000
        return result

    with VideoReader(clip) as reader:
        frames = timed("decode", lambda: list(reader.frames()))
    images = [Image.fromarray(frame) for frame in frames]
    predictions = timed(
        "model (batches of 4, with L*)",
        lambda: [p for i in range(0, len(images), 4) for p in colorizer.predict(images[i : i + 4])],
    )
    state, steadied = None, []
    start = time.perf_counter()
    for index, (lightness, ab) in enumerate(predictions):
        ab, state = video.steady(lightness, ab, state, index)
        steadied.append((lightness, ab))
    timings["temporal step (flow)"] = (time.perf_counter() - start) * 1000
    rgb = timed("merge", lambda: [merge_pixels(lum, ab) for lum, ab in steadied])
    with av.open(out, "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "18", "preset": "fast"}
        timed(
            "encode H.264",
            lambda: (
                [container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24"))) for f in rgb]
                + [container.mux(stream.encode(None))]
            ),
        )
    return {name: ms / len(frames) for name, ms in timings.items()}


def fresh(case: dict, threads: int) -> dict:
    return json_from_fresh_process([sys.executable, __file__, "--case", json.dumps(case)], threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--model", default=None, help="default: hfcolor's default model")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        return run_case(args.case, {"end_to_end": end_to_end, "stages": stages})

    from hfcolor import DEFAULT_MODEL

    model = args.model or DEFAULT_MODEL
    print(f"{environment()}; model {model}; {WIDTH}x{HEIGHT} at {FPS} fps, with sound\n")
    with tempfile.TemporaryDirectory() as folder:
        clips = {n: str(make_clip(Path(folder) / f"clip{n}.mp4", n)) for n in (args.frames, 10 * args.frames)}
        print("| threads | frames | seconds | frames/s | peak RSS MiB |\n|---|---|---|---|---|")
        for threads in args.threads:
            for count, clip in clips.items():
                case = {"kind": "end_to_end", "model": model, "clip": clip, "out": f"{folder}/out{count}.mp4"}
                r = fresh(case, threads)
                print(
                    f"| {threads} | {r['frames']} | {r['seconds']:.1f} | {r['frames/s']:.2f} | {r['peak RSS MiB']:.0f} |"
                )
        for threads in args.threads:
            case = {"kind": "stages", "model": model, "clip": clips[args.frames], "out": f"{folder}/stages.mp4"}
            timings = fresh(case, threads)
            total = sum(timings.values())
            print(
                f"\n{threads} thread(s), ms per frame, each stage alone (sum {total:.0f} ms, {1000 / total:.1f} frames/s):"
            )
            for name, ms in timings.items():
                print(f"- {name}: {ms:.1f} ms ({ms / total:.0%})")


if __name__ == "__main__":
    main()
