"""The README's screenshots and the Space's response times, as a user sees them, in Debian's chromium.

    python space/app.py &                                      # the main job, on http://127.0.0.1:7860
    python benchmarks/space_screenshot.py --out docs

Uploads scikit-image's colour "coffee" photo at 1 megapixel (so the page shows the truth and its
scores) and, on a desktop (1280x900) and a phone (390x844) screen:

* Colorize mode: presses Colorize and times the click to the result on screen;
* Compare mode: ticks every model (on the phone, keeps the preselected one), presses Compare and
  times the click to the first model's result, beside the fastest model's own time.

Writes ``space-colorize.jpg``, ``space-compare.jpg``, ``space-phone-colorize.jpg`` and
``space-phone-compare.jpg`` into ``--out`` and prints the times.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect, sync_playwright
from skimage import data as skimage_data

# Debian's chromium, headless and off the network; the Space's browser test launches it the same way.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
PHOTO_SIZE = (1224, 816)  # 1.0 megapixel


def colorize_mode(page, timeout: float) -> float:
    """Seconds from pressing Colorize to the result on screen."""
    started = time.perf_counter()
    page.locator("#colorize").click()
    expect(page.locator("#download a").first).to_be_visible(timeout=timeout)
    return time.perf_counter() - started


def compare_mode(page, every_model: bool, timeout: float) -> tuple[float, dict[str, float]]:
    """(seconds from pressing Compare to the first model's result, each model's own seconds)."""
    page.get_by_role("tab", name="Compare").click()
    boxes = page.locator("#models input[type=checkbox]")
    for index in range(boxes.count() if every_model else 0):
        boxes.nth(index).check()
    chosen = sum(boxes.nth(index).is_checked() for index in range(boxes.count()))
    started = time.perf_counter()
    page.locator("#compare").click()
    # input, truth, a model: results can come faster than the page is polled, so at least three.
    page.wait_for_function("document.querySelectorAll('#results .caption-label').length >= 3", timeout=timeout)
    first = time.perf_counter() - started
    expect(page.locator("#message")).to_contain_text(f"{chosen} of {chosen} models", timeout=timeout)
    times = {name: float(s) for name, s in re.findall(r"✓ (\S+), ([\d.]+) s", page.locator("#message").inner_text())}
    return first, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for the four screenshots")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the colorizations")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    timeout = args.timeout * 1000
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        photo = Path(folder) / "coffee.png"
        Image.fromarray(skimage_data.coffee()).resize(PHOTO_SIZE, Image.Resampling.LANCZOS).save(photo)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            for screen, (width, height) in {"": (1280, 900), "phone-": (390, 844)}.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(args.url)
                page.locator("#photo input[type=file]").set_input_files(str(photo))
                expect(page.locator("#upload-note")).to_contain_text("Colour photo", timeout=timeout)
                seconds = colorize_mode(page, timeout)
                print(f"{width}x{height} Colorize: the result showed {seconds:.2f} s after the click")
                page.screenshot(path=str(args.out / f"space-{screen}colorize.jpg"), full_page=True, quality=80)
                first, times = compare_mode(page, every_model=not screen, timeout=timeout)
                fastest = min(times.values(), default=float("nan"))
                print(f"{width}x{height} Compare ({len(times)} models): the first result showed {first:.2f} s after "
                      f"the click; the fastest model took {fastest:.2f} s; each: {times}")  # fmt: skip
                page.screenshot(path=str(args.out / f"space-{screen}compare.jpg"), full_page=True, quality=80)
                page.close()
        finally:
            browser.close()
    print(f"saved four screenshots in {args.out}")


if __name__ == "__main__":
    main()
