"""Core benchmarks: Lab conversion speed and colorize-pipeline latency and memory.

    python benchmarks/bench_core.py [--runs 5] [--model pix2pix_unet.seed003]

Prints, in one run:
* Lab conversion of 16 images at 256x256: hfcolor (torch, float32) vs scikit-image (float64); goal >= 4x.
* Pipeline latency on this CPU for a 512x512 and a 4000x3000 photo: median ms and peak RSS of a
  fresh process per size; goals <= 300 ms and <= 3 s, <= 2 GB.

The model is the registry recipe at its real size with random weights: speed does not depend on
what the weights learned.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def median_ms(function, runs: int) -> float:
    function()  # warm-up: first calls pay for allocation and kernel selection
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def lab_conversion(runs: int) -> dict:
    import numpy as np
    import torch
    from skimage import color as skcolor

    from hfcolor.color import rgb_to_lab

    rgb = np.random.default_rng(0).random((16, 256, 256, 3))
    batch = torch.from_numpy(rgb).permute(0, 3, 1, 2).float().contiguous()
    torch_ms = median_ms(lambda: rgb_to_lab(batch), runs)
    skimage_ms = median_ms(lambda: skcolor.rgb2lab(rgb), runs)
    return {"torch_float32_ms": torch_ms, "skimage_float64_ms": skimage_ms, "speedup": skimage_ms / torch_ms}


def pipeline_case(model_name: str, width: int, height: int, runs: int) -> dict:
    """Runs in its own process so that peak RSS belongs to this case alone."""
    import numpy as np
    import torch
    from PIL import Image

    from hfcolor import Colorizer, create_model

    torch.manual_seed(0)
    colorizer = Colorizer(create_model(model_name), device="cpu")
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))
    ms = median_ms(lambda: colorizer(photo), runs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    return {"size": f"{width}x{height}", "median_ms": ms, "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="pix2pix_unet.seed003")
    parser.add_argument("--case", nargs=3, metavar=("MODEL", "WIDTH", "HEIGHT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(pipeline_case(args.case[0], int(args.case[1]), int(args.case[2]), args.runs)))
        return

    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    lab = lab_conversion(args.runs)
    print("\nLab conversion, 16 x 256x256 (median of", args.runs, "runs)")
    print(f"  hfcolor torch float32 : {lab['torch_float32_ms']:8.1f} ms")
    print(f"  skimage float64       : {lab['skimage_float64_ms']:8.1f} ms")
    print(f"  speed-up              : {lab['speedup']:8.1f}x   (goal >= 4x)")

    print(f"\nColorize pipeline on CPU, {args.model} (median of {args.runs} runs, peak RSS of a fresh process)")
    goals = {(512, 512): "<= 300 ms", (4000, 3000): "<= 3000 ms, <= 2048 MB"}
    for (width, height), goal in goals.items():
        command = [sys.executable, __file__, "--runs", str(args.runs), "--case", args.model, str(width), str(height)]
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        print(
            f"  {result['size']:>9}: {result['median_ms']:8.1f} ms, peak RSS {result['peak_rss_mb']:7.1f} MB   (goal {goal})"
        )


if __name__ == "__main__":
    main()
