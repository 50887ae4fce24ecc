"""The README's screenshot: the Space as a user sees it, on the shipped weights, in Debian's chromium.

    python space/app.py &                                      # the main job, on http://127.0.0.1:7860
    python benchmarks/space_screenshot.py --out docs/space.jpg

Uploads scikit-image's colour "coffee" photo (so the page shows the truth and its metrics table),
keeps the preselected model (the flagship) or, with ``--all-models``, ticks every offered model,
presses Colorize and saves the whole page.
"""

from __future__ import annotations

import argparse
import tempfile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--out", type=Path, default=Path("docs/space.jpg"))
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the colorizations")
    parser.add_argument("--all-models", action="store_true", help="tick every model, not only the preselected one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        photo = Path(folder) / "coffee.png"
        Image.fromarray(skimage_data.coffee()).save(photo)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(args.url)
            page.locator("#photo input[type=file]").set_input_files(str(photo))
            page.locator("#photo img").first.wait_for()
            if args.all_models:
                boxes = page.locator("#models input[type=checkbox]")
                for index in range(boxes.count()):
                    boxes.nth(index).check()
            page.locator("#colorize").click()
            expect(page.locator("#metrics")).to_be_visible(timeout=args.timeout * 1000)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
        finally:
            browser.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
