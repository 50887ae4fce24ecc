import json
import math

import numpy as np
import pytest
import torch
from conftest import load_script, needs_inception, tiny_model, write_hub_dataset
from PIL import Image
from skimage import color as skcolor

from hfcolor import metrics
from hfcolor.cli import main
from hfcolor.color import AB_SCALE
from hfcolor.evaluation import GRAY, Protocol, evaluate, evaluate_source
from hfcolor.models import ColorizationModel

FAST = Protocol(image_size=32, fid_kid=False)
GRAYS = [Image.new("RGB", (40, 32), (v, v, v)) for v in (90, 118, 150)]


class ConstantAB(ColorizationModel):
    """Predicts the same a*b* (Lab units) everywhere."""

    family = "constant_ab_test"

    def __init__(self, a: float = 0.0, b: float = 0.0, image_size: int = 16):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, lightness):
        ab = torch.tensor([self.a, self.b], dtype=lightness.dtype) / AB_SCALE
        return ab.view(1, 2, 1, 1).expand(lightness.shape[0], 2, *lightness.shape[-2:])


def test_identical_images_score_perfectly():
    # A gray photo is exactly what the gray baseline predicts for its L*.
    scores = evaluate([], GRAYS, FAST, device="cpu", progress=False).results[GRAY].mean()
    assert scores["psnr"] == math.inf and scores["ssim"] == pytest.approx(1.0)
    assert scores["ab_l1"] == 0 and scores["frobenius"] == 0 and scores["colorfulness"] == 0
    assert scores["bin_accuracy_10"] == 1


def test_a_model_predicting_gray_scores_like_the_gray_baseline(photos):
    evaluation = evaluate([("zeros", ConstantAB())], photos, FAST, device="cpu", progress=False)
    assert evaluation.results["zeros"].scores == evaluation.results[GRAY].scores
    assert evaluation.results["zeros"].predicts == "ab" and evaluation.results[GRAY].predicts.startswith("ab = 0")


def test_a_known_shift_in_a_star_on_gray_truths():
    protocol = Protocol(image_size=32, fid_kid=False, num_bins=(9,))
    scores = evaluate([("shift", ConstantAB(a=30.0))], GRAYS, protocol, device="cpu", progress=False).results["shift"]
    mean = scores.mean()
    # truth a*b* = (0, 0), output (30, 0): L1 = 30 / 2, L2 = 900 / 2, up to 8-bit rounding
    assert mean["ab_l1"] == pytest.approx(15, abs=0.3) and mean["ab_l2"] == pytest.approx(450, abs=10)
    assert mean["colorfulness_true"] == 0 and mean["colorfulness_gap"] == mean["colorfulness"] > 5
    # 9 bins of 22.2 over [-100, 100]: 0 and 30 fall in different a* bins, the same b* bin
    assert mean["bin_accuracy_9"] == 0.5
    for gray, per_image in zip(GRAYS, scores.scores):
        truth = np.asarray(gray.resize((32, 32)))
        lightness = skcolor.rgb2lab(truth)[..., 0]
        expected = skcolor.lab2rgb(np.stack([lightness, np.full_like(lightness, 30.0), np.zeros_like(lightness)], -1))
        expected = np.round(expected * 255).astype(np.uint8)
        assert per_image["psnr"] == pytest.approx(metrics.psnr(expected, truth), abs=0.3)


@needs_inception
def test_fid_and_kid_with_the_shipped_inception(photos):
    evaluation = evaluate([], photos, Protocol(image_size=32), device="cpu", progress=False)
    gray = evaluation.results[GRAY]
    assert gray.fid > 0 and math.isfinite(gray.kid)
    assert "computed on 4 images" in evaluation.fid_kid_note and "unreliable" in evaluation.fid_kid_note


@pytest.fixture()
def photo_folder(tmp_path, photos):
    """Hub dataset layout with a validation split of four photos and one unreadable record."""
    return write_hub_dataset(tmp_path / "photos", {"validation": [*photos, b"not an image"]})


def test_evaluate_command_end_to_end(tmp_path, photo_folder, capsys):
    torch.manual_seed(0)
    models = []
    for name in ("pix2pix_unet.seed003", "bins_cnn_classifier.ce10"):
        tiny_model(name).save_pretrained(tmp_path / name)
        models.append(str(tmp_path / name))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    out = tmp_path / "out"
    code = main(
        ["evaluate", "--models", *models, str(broken), "--data", str(photo_folder), "--out", str(out)]
        + ["--size", "48", "--grid-tile", "40", "--inception", str(tmp_path / "missing.pt")]
    )
    assert code == 1  # one model failed; the others were still evaluated and written
    assert "cannot load model" in capsys.readouterr().err

    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == [GRAY, *models]
    assert str(broken) in results["failed"] and "config.json" in results["failed"][str(broken)]
    assert results["data"]["images"] == 4 and results["data"]["skipped"] == 1
    assert results["protocol"]["image_size"] == 48 and results["protocol"]["num_bins"] == [10, 30, 50]
    assert results["models"][models[1]]["predicts"] == "ab_bins"
    assert not results["fid_kid"]["computed"] and "not computed" in results["fid_kid"]["note"]

    markdown = (out / "results.md").read_text()
    assert "FID/KID: not computed: no InceptionV3 weights at" in markdown and str(broken) in markdown
    for name, entry in results["models"].items():
        row = next(line for line in markdown.splitlines() if line.startswith(f"| `{name}` |"))
        assert len(entry["per_image"]) == 4
        assert f"| {entry['scores']['psnr']:.2f} | {entry['scores']['ssim']:.4f} |" in row
        assert f"| {entry['scores']['bin_accuracy_10'] * 100:.1f} |" in row and row.endswith("| — | — |")

    grid = Image.open(out / "grid.png")
    # columns: input, two models, truth; rows: four images below a label strip
    assert grid.size == (4 * 40, 16 + 4 * 40)


def test_report_tables_score_what_exists_and_mark_what_does_not(tmp_path, photo_folder):
    report_tables = load_script("benchmarks/report_tables.py")
    tiny_model("pix2pix_unet.seed003").save_pretrained(tmp_path / "gan")
    report000 = {"GAN": str(tmp_path / "gan"), "CNN": "no_such_cnn"}
    evaluation = evaluate_source(report_tables.table_models(report000), str(photo_folder), protocol=FAST)
    tables = report_tables.report_tables(evaluation, report000)
    gan_row = next(line for line in tables.splitlines() if line.startswith(f"| GAN `{tmp_path / 'gan'}`"))
    psnr = float(gan_row.split("|")[4])
    assert psnr == pytest.approx(evaluation.results[str(tmp_path / "gan")].mean()["psnr"], abs=0.01)
    assert "| CNN `no_such_cnn` | failed |" in tables
    assert "| GAN, published | 4846186 | 31749 | 29.10 | 0.88 |" in tables
    assert "| ‖D‖F per image, ours (32 px) | no weights | no weights | no weights | no weights |" in tables
    assert "4 images" in tables and "41.5" in tables  # the data line and Table 2's published row


@needs_inception
def test_koalarization_embedding_swap_scores_the_model_with_another_photos_embedding(tmp_path, photo_folder, capsys):
    ablation = load_script("benchmarks/koalarization_embedding.py")
    torch.manual_seed(0)
    model = tiny_model("deep_koalarization.seed001_inception_small").eval()
    with torch.no_grad():
        model.fusion[0].weight.mul_(50)  # an untrained model barely hears its embedding; make it loud
    model.save_pretrained(tmp_path / "koala")
    data = ["--data", str(photo_folder), "--limit", "4"]
    assert ablation.main(["--model", str(tmp_path / "koala"), *data]) == 0
    out = capsys.readouterr().out
    assert f"| `{tmp_path / 'koala'}` |" in out and "another photo's embedding` |" in out
    l1_change = float(out.split("another photo's embedding: PSNR")[1].split("a*b* L1")[1].split(",")[0])
    assert abs(l1_change) > 0.05  # the swapped embedding reached the decoder
    tiny_model("pix2pix_unet.seed003").save_pretrained(tmp_path / "unet")
    with pytest.raises(SystemExit):
        ablation.main(["--model", str(tmp_path / "unet"), *data])
    assert "takes no image embedding" in capsys.readouterr().err
