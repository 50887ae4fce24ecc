import json
import math

import numpy as np
import pytest
from PIL import Image

from hfcolor import metrics
from hfcolor.evaluation import GRAY, Evaluation, ModelResult, Protocol
from hfcolor.evaluation_report import grid, markdown, save

RED, GREEN, GRAY_RGB = (200, 30, 30), (30, 160, 60), (90, 90, 90)


def plain(rgb) -> Image.Image:
    return Image.new("RGB", (8, 8), rgb)


@pytest.fixture()
def evaluation() -> Evaluation:
    """Two red truths: ``gray`` makes them gray, ``greens`` green, ``copy`` returns them unchanged."""
    truths = [plain(RED)] * 2

    def result(name: str, predicts: str, rgb) -> ModelResult:
        scores = [metrics.score(np.array(plain(rgb)), np.array(truth), (10,)) for truth in truths]
        return ModelResult(name, predicts, None, scores, samples=[plain(rgb)] * 2)

    green = result("greens", "ab", GREEN)
    green.fid, green.kid = 12.345, 0.012345
    results = {GRAY: result(GRAY, "ab = 0 (baseline)", GRAY_RGB), green.name: green, "copy": result("copy", "ab", RED)}
    return Evaluation(
        Protocol(image_size=8, num_bins=(10,), fid_kid=False),
        results,
        {"broken": "cannot load: no config.json"},
        truths,
        images=2,
        fid_kid_note="not computed: switched off.",
        environment={},
        data={"source": "photos", "split": "validation", "limit": None, "skipped": 3},
    )


def row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))


def test_markdown_formats_each_column(evaluation):
    text = markdown(evaluation)
    assert text.startswith(
        "# hfcolor evaluation\n\nData: `photos` split `validation`, 2 images (3 unreadable skipped)."
    )
    assert "| model | predicts | PSNR ↑ | SSIM ↑ |" in text and "| bins 10 % ↑ | FID ↓ | KID ↓ |" in text
    # identical images: PSNR is infinite, bin accuracy is shown in percent, a missing FID/KID is a dash
    assert row(text, "copy").startswith("| `copy` | ab | ∞ | 1.0000 | 0.00 | 0.0 | 0.00 |")
    assert row(text, "copy").endswith("| 0.0 | 100.0 | — | — |")
    mean = evaluation.results["greens"].mean()
    assert row(text, "greens").startswith(f"| `greens` | ab | {mean['psnr']:.2f} | {mean['ssim']:.4f} |")
    assert row(text, "greens").endswith(f"| {mean['bin_accuracy_10'] * 100:.1f} | 12.3 | 0.0123 |")
    assert text.endswith(
        "FID/KID: not computed: switched off.\n\nModels that could not be evaluated:\n\n"
        "- `broken`: cannot load: no config.json\n"
    )


def test_grid_puts_input_models_and_truth_side_by_side(evaluation):
    picture = grid(evaluation, tile=20)
    header = 16  # the label strip is at least 16 px high
    assert picture.size == (4 * 20, header + 2 * 20)
    centres = [picture.getpixel((column * 20 + 10, header + 20 + 10)) for column in range(4)]
    # gray's output stands for the input (L*), then each model in order, then the truth
    assert centres == [GRAY_RGB, GREEN, RED, RED]


def test_save_writes_what_the_report_shows(evaluation, tmp_path):
    paths = evaluation.save(tmp_path / "out", tile=20)  # the method callers use delegates to the report module
    assert {path.name for path in paths.values()} == {"results.json", "results.md", "grid.png"}
    results = json.loads(paths["json"].read_text())
    assert results["models"]["copy"]["scores"]["psnr"] == math.inf and results["data"]["skipped"] == 3
    assert paths["markdown"].read_text() == markdown(evaluation)
    assert np.array_equal(np.asarray(Image.open(paths["grid"])), np.asarray(grid(evaluation, 20)))
    assert save(evaluation, tmp_path / "again", 20)["markdown"].read_text() == evaluation.markdown()
