"""Load test for the Space: many users at once, three hostile uploads among them.

    python benchmarks/space_load.py                                  # starts the Space here
    python benchmarks/space_load.py --url http://127.0.0.1:7860/     # a Space already running here

8 clients send 5 requests each, all at once; each request colorizes scikit-image's astronaut
(512x512) with two models. While they run, a non-image, a truncated PNG and a 20-megapixel image
are uploaded: each must get its clear message, and the app must still answer afterwards. Prints
p50/p95 latency (queue wait included) and, for a Space started here, the peak RSS of the process
that ran it; exits 1 if any request was not served or a check failed.

Started here, the app offers the shipped models, or tiny untrained ones saved to a temporary folder
when none are shipped (``--tiny`` forces them), so latency then measures the queue more than the
models. Only this machine is ever targeted.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import resource
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from skimage import data as skimage_data

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Test-size configs (a few thousand weights, as in tests/conftest.py): the load then measures the queue.
TINY_MODELS = {
    "bins_cnn.l2": {"widths": [4, 8, 4], "image_size": 32},
    "pix2pix_unet.seed003": {"base_channels": 4, "num_downs": 4, "image_size": 32},
}


def hostile_uploads(folder: Path) -> dict[Path, str]:
    """Files no one should be able to crash the app with -> what the message about each must say."""
    png = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).save(png, format="PNG")
    huge = io.BytesIO()
    Image.new("1", (20_000, 1_000)).save(huge, format="PNG")  # 20 megapixels in a few kB
    files = {
        "not_an_image.png": (b"%PDF-1.4 this is not a picture", "not an image"),
        "truncated.png": (png.getvalue()[: len(png.getvalue()) // 2], "truncated or corrupt"),
        "huge.png": (huge.getvalue(), "over the limit"),
    }
    for name, (content, _) in files.items():
        (folder / name).write_bytes(content)
    return {folder / name: expected for name, (_, expected) in files.items()}


def run_load(url: str, clients: int = 8, requests: int = 5, models: list[str] | None = None) -> dict:
    """Send the load to ``url``; returns latencies (s), failures and the hostile uploads' messages."""
    if urlparse(url).hostname not in LOCAL_HOSTS:
        raise ValueError(f"{url}: this load test only targets this machine ({', '.join(sorted(LOCAL_HOSTS))})")
    with tempfile.TemporaryDirectory(prefix="space-load-") as scratch:
        scratch = Path(scratch)
        photo = scratch / "astronaut.png"
        Image.fromarray(skimage_data.astronaut()).save(photo)
        hostile = hostile_uploads(scratch)
        users = [Client(url, verbose=False, analytics_enabled=False, download_files=scratch) for _ in range(clients)]
        if models is None:
            api = users[0].view_api(return_format="dict", print_info=False)
            models = api["named_endpoints"]["/compare"]["parameters"][1]["parameter_default"][:2]

        def colorize(client: Client, path: Path) -> str:
            return client.predict(handle_file(str(path)), models, 1, 25, 0, False, api_name="/compare")[0]

        def user(client: Client) -> tuple[list[float], list[str]]:
            latencies, failures = [], []
            for _ in range(requests):
                started = time.perf_counter()
                try:
                    message = colorize(client, photo)
                except Exception as error:  # noqa: BLE001  (a load test counts every kind of failure)
                    failures.append(f"{type(error).__name__}: {error}")
                    continue
                latencies.append(time.perf_counter() - started)
                if f"{len(models)} of {len(models)} models" not in message:
                    failures.append(f"served, but: {message}")
            return latencies, failures

        answers = {}

        def attacker() -> None:
            client = Client(url, verbose=False, analytics_enabled=False, download_files=scratch)
            for path, expected in hostile.items():
                time.sleep(0.5)  # spread among the users' requests
                try:
                    colorize(client, path)
                    answers[path.name] = (False, "accepted")
                except AppError as error:
                    answers[path.name] = (expected in str(error), str(error))

        started = time.perf_counter()
        hostile_thread = threading.Thread(target=attacker)
        hostile_thread.start()
        with ThreadPoolExecutor(clients) as pool:
            outcomes = list(pool.map(user, users))
        hostile_thread.join()
        elapsed = time.perf_counter() - started
        try:
            still_answers = f"{len(models)} of {len(models)} models" in colorize(users[0], photo)
        except Exception:  # noqa: BLE001
            still_answers = False
    return {
        "models": models,
        "latencies": [latency for latencies, _ in outcomes for latency in latencies],
        "failures": [failure for _, failures in outcomes for failure in failures],
        "expected": clients * requests,
        "elapsed": elapsed,
        "hostile": answers,
        "still_answers": still_answers,
    }


def start_space(tiny: bool, folder: Path) -> tuple[object, str]:
    spec = importlib.util.spec_from_file_location("hfcolor_space_app", ROOT / "space" / "app.py")
    space = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(space)
    store = space.store_from_env()
    if tiny or not store.names:
        from hfcolor import create_model

        for name, config in TINY_MODELS.items():
            create_model(name, pretrained_parts=False, **config).save_pretrained(folder / name)
        store = space.ModelStore.discover(list(TINY_MODELS), weights_dir=folder)
    store.load_all()
    demo = space.build_demo(store, examples_dir=folder / "examples")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    space.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a Space already running on this machine (default: start one here)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5, help="per client")
    parser.add_argument("--models", nargs="+", help="models per request (default: the first two offered)")
    parser.add_argument("--tiny", action="store_true", help="start the Space on tiny untrained models")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="space-models-") as folder:
        demo, url = (None, args.url) if args.url else start_space(args.tiny, Path(folder))
        try:
            report = run_load(url, args.clients, args.requests, args.models)
        finally:
            if demo is not None:
                demo.close()

    latencies = np.array(report["latencies"])
    print(f"{url}: {args.clients} clients x {args.requests} requests, models {', '.join(report['models'])}")
    print(f"served {len(latencies)}/{report['expected']} in {report['elapsed']:.1f} s")
    if len(latencies):
        p50, p95 = np.percentile(latencies, [50, 95])
        print(f"latency p50 {p50:.2f} s, p95 {p95:.2f} s, max {latencies.max():.2f} s")
    for failure in report["failures"]:
        print(f"FAILED: {failure}")
    for name, (clear, message) in report["hostile"].items():
        print(f"hostile {name}: {'ok' if clear else 'WRONG'}: {message}")
    print(f"still answers afterwards: {'yes' if report['still_answers'] else 'NO'}")
    if demo is not None:  # the Space ran in this process: its memory is this process's
        print(
            f"peak RSS of the Space and the clients: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
    ok = (
        len(latencies) == report["expected"]
        and not report["failures"]
        and len(report["hostile"]) == 3
        and all(clear for clear, _ in report["hostile"].values())
        and report["still_answers"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
