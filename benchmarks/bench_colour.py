"""Where the time of one colorization goes, stage by stage, beside OpenCV and scikit-image.

    python benchmarks/bench_colour.py [--threads 1 2] [--runs 5] [--before OLD_CHECKOUT]

In one run, for a 512x512 and a 4000x3000 photo (scikit-image's astronaut, resized) and each
thread count:

* each stage of ``Colorizer`` with the default model: the photo's L*, the model (with its input
  downscale), the a*b* upsampling, the gamut fit, Lab -> sRGB bytes, and encoding (PNG level 1,
  JPEG 95);
* the same colour conversions done by OpenCV (``cvtColor``, float32) and scikit-image (float64),
  with each hfcolor stage's time as a ratio of OpenCV's;
* end to end (``Colorizer(photo)``) in a fresh process per thread count, with its peak RSS: the
  4000x3000 photo, then an all-black and an all-white 16-megapixel image beside a photo of the
  same size (the gamut fit's worst case, before this fit), and with ``--before`` the same cases
  run by an older checkout of hfcolor;
* the model's forward pass at 1 and 2 threads under each OpenMP wait policy, on an idle machine
  and beside one busy process;
* the default model in float32 against bfloat16 autocast on this CPU.

Medians of ``--runs`` runs after a warm-up (one run for scikit-image and the older checkout at 12-16 MP). The
model has its shipped weights when present, else random ones: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from PIL import Image
from skimage import data as skimage_data

from hfcolor.bench import environment, json_from_fresh_process, median_ms, run_case

SIZES = ((512, 512), (4000, 3000))
LARGE = 4_000_000


def photo(width: int, height: int, fill: int | None = None) -> Image.Image:
    if fill is not None:
        return Image.new("RGB", (width, height), (fill, fill, fill))
    return Image.fromarray(skimage_data.astronaut()).resize((width, height), Image.BICUBIC)


def colorizer(model: str):
    from hfcolor import Colorizer, create_model
    from hfcolor.models import available_weights

    if model in available_weights():
        return Colorizer.from_pretrained(model, device="cpu")
    torch.manual_seed(0)
    return Colorizer(create_model(model), device="cpu")


def stages(model: str, width: int, height: int, threads: int, runs: int) -> dict[str, float]:
    """Milliseconds per stage, hfcolor's and its peers', for one photo size and thread count."""
    import cv2
    from skimage import color as skcolor

    from hfcolor import photo_color
    from hfcolor.color import AB_SCALE
    from hfcolor.hardware import set_threads
    from hfcolor.pipelines import model_input

    set_threads(threads)
    col = colorizer(model)
    image = photo(width, height)
    pixels = np.asarray(image)
    lightness = photo_color.photo_lightness(pixels, threads)
    batch = model_input([torch.from_numpy(lightness)[None]], col.model.input_size)
    with torch.inference_mode():
        ab_small = col.model.predict_ab(batch)[0].float() * AB_SCALE
    ab_small = ab_small.permute(1, 2, 0).numpy().copy()
    a, b = photo_color.upsample_ab(ab_small, height, width)
    fitted_a, fitted_b = photo_color.fit_chroma(lightness, a, b)
    rgb = photo_color.lab_to_srgb8(lightness, fitted_a, fitted_b)
    rows = photo_color.STRIPE_ROWS

    def striped(function):
        def run():
            photo_color.over_stripes(
                lambda top: function(lightness[top : top + rows], a[top : top + rows], b[top : top + rows]),
                height,
                width,
                threads,
            )

        return run

    def model_stage():
        with torch.inference_mode():
            col.model.predict_ab(model_input([torch.from_numpy(lightness)[None]], col.model.input_size))

    def encode(image_format, **options):
        def run():
            image = Image.fromarray(rgb)
            image.save(io.BytesIO(), format=image_format, **options)

        return run

    count = runs
    result = {
        "lightness": median_ms(lambda: photo_color.photo_lightness(pixels, threads), count),
        "model": median_ms(model_stage, count),
        "resize": median_ms(lambda: photo_color.upsample_ab(ab_small, height, width), count),
        "gamut fit": median_ms(striped(photo_color.fit_chroma), count),
        "Lab -> sRGB bytes": median_ms(striped(lambda lum, a, b: photo_color.lab_to_srgb8(lum, a, b)), count),
        "encode PNG (level 1)": median_ms(encode("PNG", compress_level=1), count),
        "encode JPEG (95)": median_ms(encode("JPEG", quality=95), count),
        "end to end": median_ms(lambda: col(image), count),
    }
    cv2.setNumThreads(threads)  # the peers get the same threads
    try:
        rgb_float = pixels.astype(np.float32) / 255
        lab_float = cv2.cvtColor(rgb_float, cv2.COLOR_RGB2Lab)
        result["OpenCV sRGB -> Lab"] = median_ms(lambda: cv2.cvtColor(rgb_float, cv2.COLOR_RGB2Lab), count)
        result["OpenCV Lab -> sRGB"] = median_ms(lambda: cv2.cvtColor(lab_float, cv2.COLOR_Lab2RGB), count)
    finally:
        cv2.setNumThreads(1)
    rgb_double = pixels / 255.0
    lab_double = skcolor.rgb2lab(rgb_double)
    count = 1 if width * height > LARGE else runs  # seconds a call at 12 MP
    result["scikit-image sRGB -> Lab"] = median_ms(lambda: skcolor.rgb2lab(rgb_double), count)
    result["scikit-image Lab -> sRGB"] = median_ms(lambda: skcolor.lab2rgb(lab_double), count)
    return result


def end_to_end(model: str, runs: int) -> dict:
    """In a fresh process: a 4000x3000 photo (and the peak RSS after it), then a 16-megapixel
    photo, an all-black and an all-white image of that size in interleaved rounds, so that the
    machine's drift falls on all three alike. Median ms of each."""
    import time

    col = colorizer(model)
    images = {"photo 4000x3000": photo(4000, 3000)}
    result = {"photo 4000x3000": median_ms(lambda: col(images["photo 4000x3000"]), runs)}
    result["peak RSS MiB (4000x3000)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    images = {
        f"{name} 4000x4000": photo(4000, 4000, fill) for name, fill in (("photo", None), ("black", 0), ("white", 255))
    }
    times = {name: [] for name in images}
    for name, image in images.items():
        col(image)  # warm-up
    for _ in range(runs):
        for name, image in images.items():
            start = time.perf_counter()
            col(image)
            times[name].append((time.perf_counter() - start) * 1000)
    return result | {name: float(np.median(values)) for name, values in times.items()}


def precision(model: str, runs: int) -> dict[str, float]:
    from hfcolor.pipelines import model_input

    col = colorizer(model)
    batch = model_input([torch.full((1, 256, 256), 50.0)] * 4, col.model.input_size)
    result = {}
    for label, dtype in (("float32", None), ("bfloat16 autocast", torch.bfloat16)):

        def run(dtype=dtype):
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                col.model.predict_ab(batch)

        result[label] = median_ms(run, runs)
    return result


# OpenMP's ways of waiting between parallel regions; an empty OMP_WAIT_POLICY leaves libgomp's own
# default (spin GOMP_SPINCOUNT times, then sleep) instead of the PASSIVE hfcolor would set.
WAIT_POLICIES = {
    "passive (hfcolor's default)": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin 20,000 (GOMP_SPINCOUNT)": {"OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": "20000"},
    "active (spinning)": {"OMP_WAIT_POLICY": "ACTIVE"},
}


def forward(model: str, runs: int) -> dict[str, float]:
    """The model's forward pass on one photo's input, at 1 and at 2 threads."""
    from hfcolor.pipelines import model_input

    col = colorizer(model)
    batch = model_input([torch.full((1, 512, 512), 50.0)], col.model.input_size)
    result = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            result[f"{threads} thr."] = median_ms(lambda: col.model.predict_ab(batch), runs)
    return result


def openmp_waiting(model: str, runs: int) -> dict[str, dict[str, float]]:
    """:func:`forward` under each wait policy, on an idle machine and beside one busy process."""
    rows = {}
    for policy, variables in WAIT_POLICIES.items():
        rows[policy] = {}
        for load in ("idle", "busy"):
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load == "busy" else None
            try:
                timings = in_fresh_process({"kind": "forward", "model": model, "runs": runs}, 2, variables=variables)
            finally:
                if busy:
                    busy.kill()
                    busy.wait()
            rows[policy] |= {f"{load}, {threads}": ms for threads, ms in timings.items()}
    return rows


def in_fresh_process(case: dict, threads: int, checkout: str | None = None, variables: dict | None = None) -> dict:
    command = [sys.executable, __file__, "--case", json.dumps(case)]
    checkout = str(Path(checkout).resolve()) if checkout else None
    return json_from_fresh_process(command, threads, checkout, **(variables or {}))


def print_stages(rows: dict[tuple, dict[str, float]]) -> None:
    columns = list(rows)
    print("| stage | " + " | ".join(f"{w}x{h}, {t} thr. ms" for w, h, t in columns) + " | ratio to OpenCV |")
    print("|---|" + "---|" * (len(columns) + 1))
    opencv = {
        "lightness": "OpenCV sRGB -> Lab",
        "gamut fit": "OpenCV Lab -> sRGB",
        "Lab -> sRGB bytes": "OpenCV Lab -> sRGB",
    }
    for stage in rows[columns[0]]:
        cells = [f"{rows[column][stage]:.1f}" for column in columns]
        peer = opencv.get(stage)
        ratios = [f"{rows[c][stage] / rows[c][peer]:.2f}" for c in columns] if peer else []
        print(f"| {stage} | " + " | ".join(cells) + f" | {' / '.join(ratios) or '—'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="default: hfcolor's default model")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", default=None, help="an older hfcolor checkout to time the same cases with")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        return run_case(args.case, {"end_to_end": end_to_end, "stages": stages, "forward": forward})

    from hfcolor import DEFAULT_MODEL

    model = args.model or DEFAULT_MODEL
    print(f"{environment()}; model {model}; median of {args.runs} runs (1 for scikit-image over 4 MP)\n")
    rows = {}
    for threads in args.threads:
        for width, height in SIZES:
            case = {"kind": "stages", "model": model, "width": width, "height": height, "threads": threads}
            rows[(width, height, threads)] = in_fresh_process({**case, "runs": args.runs}, threads)
    print_stages(rows)

    print("\nEnd to end (ms), one fresh process per column; 16 MP images timed in interleaved rounds:\n")
    checkouts = [("this checkout", None, args.runs)]
    if args.before:
        checkouts.append((f"before ({args.before})", args.before, 1))  # 10-20x slower: one round
    columns = {}
    for threads in args.threads:
        for label, checkout, runs in checkouts:
            case = {"kind": "end_to_end", "model": model, "runs": runs}
            columns[f"{label}, {threads} thr."] = in_fresh_process(case, threads, checkout)
    print("| | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for row in next(iter(columns.values())):
        print(f"| {row} | " + " | ".join(f"{column[row]:.0f}" for column in columns.values()) + " |")
    for label, column in columns.items():
        black, white, same = column["black 4000x4000"], column["white 4000x4000"], column["photo 4000x4000"]
        print(f"{label}: black / photo {black / same:.2f}x, white / photo {white / same:.2f}x")
    if args.before:
        for threads in args.threads:
            now, before = columns[f"this checkout, {threads} thr."], columns[f"before ({args.before}), {threads} thr."]
            ratios = ", ".join(f"{row} {before[row] / now[row]:.1f}x" for row in now if "MiB" not in row)
            print(f"{threads} thr., before / now: {ratios}")

    print("\nThe model's forward pass (ms) under each way OpenMP threads wait, idle and beside one busy process:\n")
    rows = openmp_waiting(model, args.runs)
    headings = list(next(iter(rows.values())))
    print("| OpenMP waiting | " + " | ".join(headings) + " |")
    print("|---|" + "---|" * len(headings))
    for policy, row in rows.items():
        print(f"| {policy} | " + " | ".join(f"{row[h]:.0f}" for h in headings) + " |")

    torch.set_num_threads(max(args.threads))
    timings = precision(model, args.runs)
    print(
        f"\n{model}, batch of 4, {max(args.threads)} threads: "
        + ", ".join(f"{k} {v:.0f} ms" for k, v in timings.items())
    )
    print(f"bfloat16 / float32: {timings['bfloat16 autocast'] / timings['float32']:.1f}x the time")


if __name__ == "__main__":
    main()
