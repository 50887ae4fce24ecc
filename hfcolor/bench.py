"""Size, speed and memory of models: ``hfcolor bench``.

For each registry entry, built at its real size with random weights (speed does not depend on
what the weights learned), or each saved model folder given instead:

* parameters, and the weights' size in fp16;
* CPU forward latency for one image at 256x256, or at the only size a fixed-size model takes;
* for colorizers, end-to-end :class:`~hfcolor.pipelines.Colorizer` latency on a 512x512 and a
  4000x3000 photo, with the process's peak RSS after each;
* with CUDA, throughput in images/s at the model's own size, fp32 and bf16 autocast.

Latencies are medians over ``runs`` timed runs after one warm-up run; photos over 4 megapixels get
``large_runs`` runs. Each model is measured in a fresh subprocess, so its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

LARGE_PHOTO_PIXELS = 4_000_000


def median_ms(function: Callable[[], object], runs: int, synchronize: Callable[[], None] = lambda: None) -> float:
    function()  # warm-up: first calls pay for allocation and kernel selection
    synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def write_clip(path, frames, fps: int, tone_hz: float | None = 440.0):
    """An H.264 MP4 of the RGB ``frames`` (an iterable of equal-size uint8 arrays) at ``fps``.

    With ``tone_hz``, an AAC sine tone as long as the video goes with it, so that benchmarks and
    tests can check that a colorized clip keeps its sound. Needs PyAV (``hfcolor[video]``).
    """
    import av
    import numpy as np

    count = 0
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=44100) if tone_hz else None  # every stream before the first packet
        if audio:
            audio.layout = "mono"
        for frame in frames:
            if not count:
                video.height, video.width = frame.shape[:2]
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            count += 1
        out.mux(video.encode(None))
        if audio:
            seconds = np.arange(44100 * count // fps) / 44100
            tone = (0.3 * np.sin(2 * np.pi * tone_hz * seconds)).astype(np.float32)[None]
            for start in range(0, tone.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, start : start + 1024]), format="fltp", layout="mono"
                )
                chunk.sample_rate = 44100
                out.mux(audio.encode(chunk))
            out.mux(audio.encode(None))
    return path


def measure(
    name: str,
    forward_size: int = 256,
    photos: list[tuple[int, int]] = ((512, 512), (4000, 3000)),
    runs: int = 3,
    large_runs: int = 1,
    gpu_batch: int = 16,
) -> dict:
    """Every measurement of one registry model or saved folder; meant to run in a process of its own."""
    import numpy as np
    import torch
    from PIL import Image

    from .models import RECIPES, ColorizationModel, create_model, load_model
    from .pipelines import Colorizer

    torch.manual_seed(0)
    model = (create_model(name, pretrained_parts=False) if name in RECIPES else load_model(name)).eval()
    weights = model.state_dict().values()
    size = model.input_size if model.fixed_size else forward_size
    row = {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "fp16_mib": sum(t.numel() * (2 if t.is_floating_point() else t.element_size()) for t in weights) / 2**20,
        "forward_size": size,
        "colorizer": isinstance(model, ColorizationModel),
        "photos": {},
    }
    inputs = model.example_inputs(1, size)
    with torch.inference_mode():
        row["forward_ms"] = median_ms(lambda: model(*inputs), runs)
    if row["colorizer"]:
        colorizer = Colorizer(model, device="cpu")
        for width, height in photos:
            photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))
            count = large_runs if width * height > LARGE_PHOTO_PIXELS else runs
            ms = median_ms(lambda photo=photo: colorizer(photo), count)
            row["photos"][f"{width}x{height}"] = {"ms": ms, "peak_rss_mib": peak_rss_mib()}
    if torch.cuda.is_available():
        row["gpu"] = _gpu_throughput(model, gpu_batch, runs)
    return row


def _gpu_throughput(model, batch: int, runs: int) -> dict:
    import torch

    from .models import ColorizationModel

    model = model.cuda()
    inputs = tuple(t.cuda() for t in model.example_inputs(batch))
    # Colorizers are timed on what the pipeline runs (predict_ab: all sampling steps of a diffusion model).
    run = (lambda: model.predict_ab(inputs[0])) if isinstance(model, ColorizationModel) else (lambda: model(*inputs))
    result = {"batch": batch, "size": model.input_size, "device": torch.cuda.get_device_name()}
    with torch.inference_mode():
        for label, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
            with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
                ms = median_ms(run, runs, torch.cuda.synchronize)
            result[f"{label}_images_per_s"] = batch / ms * 1000
    return result


def json_from_fresh_process(
    command: list[str], threads: int | None = None, pythonpath: str | None = None, **variables: str
) -> dict:
    """Run a Python ``command`` in a new process and return the JSON its last line of output prints.

    A fresh process gives a measurement its own peak RSS, thread count (``OMP_NUM_THREADS``) and
    imports (``pythonpath``: time an older checkout); ``variables`` are more environment variables.
    A failure raises ``RuntimeError`` with the last line the process wrote to stderr.
    """
    environment = {**os.environ, **variables}
    if threads is not None:
        environment["OMP_NUM_THREADS"] = str(threads)
    if pythonpath is not None:
        environment["PYTHONPATH"] = str(pythonpath)
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if completed.returncode:
        raise RuntimeError((completed.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(completed.stdout.splitlines()[-1])


def run_case(case: str, kinds: dict[str, Callable[..., dict]]) -> None:
    """The child's side of a benchmark script re-run with ``--case JSON``: call ``kinds[case["kind"]]``
    with the case's other keys and print its result as JSON, for :func:`json_from_fresh_process`."""
    arguments = json.loads(case)
    print(json.dumps(kinds[arguments.pop("kind")](**arguments)))


def run_bench(models: list[str] | None = None, **settings) -> list[dict]:
    """Measure each model in a fresh subprocess, printing progress; returns one row per model.

    ``settings`` are :func:`measure`'s keyword arguments.
    """
    from .models import RECIPES

    names = models or sorted(RECIPES)
    unknown = [name for name in names if name not in RECIPES and not os.path.isdir(name)]
    if unknown:
        raise KeyError(f"neither registry models nor model folders: {', '.join(unknown)} (see `hfcolor models`)")
    rows = []
    for index, name in enumerate(names, 1):
        print(f"[{index}/{len(names)}] {name} ...", end=" ", flush=True, file=sys.stderr)
        spec = {"name": name, **settings}
        start = time.perf_counter()
        try:
            rows.append(json_from_fresh_process([sys.executable, "-m", "hfcolor.bench", json.dumps(spec)]))
        except RuntimeError as error:
            rows.append({"model": name, "error": str(error)})
            print(f"failed: {error}", file=sys.stderr)
            continue
        print(f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return rows


def environment() -> str:
    import torch

    gpu = f", CUDA: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA"
    return f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} cores{gpu}"


def markdown_table(rows: list[dict], photos: list[tuple[int, int]]) -> str:
    sizes = [f"{w}x{h}" for w, h in photos]
    gpu = any("gpu" in row for row in rows)
    headings = ["model", "params (M)", "fp16 MiB", "CPU forward ms (px)"]
    for size in sizes:
        headings += [f"{size} ms", "peak RSS MiB"]
    if gpu:
        headings += ["GPU fp32 img/s", "GPU bf16 img/s"]
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    for row in rows:
        if "error" in row:
            lines.append(f"| `{row['model']}` | failed: {row['error']} |" + " |" * (len(headings) - 2))
            continue
        cells = [f"`{row['model']}`", f"{row['params'] / 1e6:.2f}", f"{row['fp16_mib']:.1f}"]
        cells.append(f"{row['forward_ms']:.1f} ({row['forward_size']})")
        for size in sizes:
            photo = row["photos"].get(size)
            cells += [f"{photo['ms']:.0f}", f"{photo['peak_rss_mib']:.0f}"] if photo else ["—", "—"]
        if gpu:
            cells += [
                f"{row['gpu'][k]:.0f}" if "gpu" in row else "—" for k in ("fp32_images_per_s", "bf16_images_per_s")
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        (
            "Forward: one call of the network on random input (one denoising step for a diffusion model). End to "
            "end: Colorizer on a random photo, all sampling steps included; peak RSS of the model's own process so far."
        ),
    ]
    if gpu:
        row = next(row for row in rows if "gpu" in row)
        lines.append(
            f"GPU: {row['gpu']['device']}, batches of {row['gpu']['batch']} at each model's input size; "
            "colorizers timed on predict_ab, bf16 under autocast."
        )
    return "\n".join(lines)


def _worker() -> None:
    spec = json.loads(sys.argv[1])
    if "photos" in spec:
        spec["photos"] = [tuple(p) for p in spec["photos"]]
    print(json.dumps(measure(**spec)))


if __name__ == "__main__":
    _worker()
