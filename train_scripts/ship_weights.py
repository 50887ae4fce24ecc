"""Ship a trained model inside the package: fp16 safetensors, config and a model card with fresh numbers.

    python train_scripts/ship_weights.py RUN_DIR NAME --data ../shared/data/photos --notes "..."

RUN_DIR is a trainer output folder (train_config.json, summary-rank0.json, model/). The weights go,
in fp16, to hfcolor/pretrained/NAME, where ``from_pretrained(NAME)`` and the Space find them offline.
The shipped copy is then loaded by name, exactly as users load it, and scored with the evaluation
protocol on the validation split beside the gray baseline; the card gets the training record, that
table, a comparison image and the known failure modes (``--notes``), so `hfcolor evaluate` on the
same data reproduces the card.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from hfcolor import load_model
from hfcolor.data import publishable_photos
from hfcolor.evaluation import GRAY, Protocol, evaluate, evaluate_source
from hfcolor.models import RECIPES
from hfcolor.models.registry import SHIPPED_WEIGHTS

COMPARISON_CAPTION = "input, this model and the truth on four public-domain photos (scikit-image's), in gray"
# Shipped weights stay small: the package carries all of them.
MAX_TOTAL_MIB = 60
DATA_NOTE = (
    "\n\n`DATA` stands for a folder of datasets in Hub layout (a card and parquet files), such as a local copy"
    " of a Hub dataset; `DATA/photos` is the `photos` set: 3,950 train and 207 validation photos of scenes,"
    " objects and people (ADE20K, ImageNet, BSDS500, COCO), shorter side 256 px."
)


def training_record(run: Path, before: str | None = None) -> list[str]:
    config = json.loads((run / "train_config.json").read_text())
    summary = json.loads((run / "summary-rank0.json").read_text())
    options = " ".join(
        f"--{key} {' '.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in config.items()
        if value not in (None, False, {}, "", [])
    )
    sources = config["train_data"] if isinstance(config["train_data"], list) else [config["train_data"]]
    return [
        "## Training",
        "",
        *([f"- Before this run: {before}"] if before else []),
        f"- Recipe: `{config['config']}` ({config['objective']}, loss `{config['loss']}`), trained with hfcolor's trainer",
        (
            f"- Data: {', '.join(f'`{source}`' for source in sources)} split `{config['train_split']}` "
            f"at {config['resolution']} px "
            "(random-resized crops and flips)"
        ),
        f"- Steps: {summary['step']} x batch {config['train_batch_size']}, learning rate {config['learning_rate']}",
        (
            f"- Hardware and time: {summary['hardware']}, {summary['seconds'] / 60:.0f} min, "
            f"{summary['images_per_second']:.1f} training images/s"
        ),
        f"- Every option: `{options}`",
        "- Shipped in fp16 (trained in "
        + ("fp32" if config["mixed_precision"] == "no" else f"{config['mixed_precision']} mixed precision")
        + ").",
    ]


def comparison_picture(name: str, vividness: list[float]) -> None:
    """comparison.jpg beside the shipped weights: the input, this model and the truth on scikit-image's
    public-domain photos (the evaluation data may not be published)."""
    evaluation = evaluate([name], publishable_photos(), Protocol(fid_kid=False), grid_rows=4, vividness=vividness)
    # JPEG keeps the picture a few tens of kB; the numbers go into the card.
    evaluation.grid(tile=96).save(SHIPPED_WEIGHTS / name / "comparison.jpg", quality=85)


def evaluation_section(name: str, data: str, split: str, vividness: list[float], hints: list[int] = ()) -> str:
    """The card's "## Evaluation" section for the shipped copy of ``name``, scored now by the protocol
    exactly as users load it (with each number of simulated ``hints``, if any); its comparison.jpg is
    written beside the weights."""
    evaluation = evaluate_source(
        [name], data, split, protocol=Protocol(), grid_rows=0, vividness=vividness, hints=hints
    )
    comparison_picture(name, vividness)
    scores = evaluation.to_dict()["models"]
    gray_scores = scores.pop(GRAY)["scores"]
    table = evaluation.markdown().split("\n", 2)[2]  # without the "# hfcolor evaluation" title
    summaries = [
        f"- `{row}`: PSNR {row_scores['scores']['psnr'] - gray_scores['psnr']:+.2f} dB against the gray baseline; "
        f"colourfulness {row_scores['scores']['colorfulness'] / row_scores['scores']['colorfulness_true']:.0%} "
        "of the truth's."
        for row, row_scores in scores.items()
    ]
    settings = " --vividness " + " ".join(f"{v:g}" for v in vividness) if vividness else ""
    settings += " --hints " + " ".join(map(str, hints)) if hints else ""
    section = "\n".join(
        [
            "## Evaluation",
            "",
            f"Reproduce: `hfcolor evaluate --models {name} --data {data} --split {split}{settings}`",
            "",
            table,
            *summaries,
            "",
            f"![{COMPARISON_CAPTION}](comparison.jpg)",
        ]
    )
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="trainer output folder")
    parser.add_argument("name", help="registry name to ship it as (its recipe must match)")
    parser.add_argument("--data", required=True, help="evaluation data source (its validation split is used)")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--notes", required=True, help="known failure modes, Markdown")
    parser.add_argument("--before", help="Markdown: what the run started from (staged or continued training)")
    parser.add_argument(
        "--vividness", nargs="+", type=float, default=(), help="score a model that offers it at each of these settings"
    )
    parser.add_argument("--hints", nargs="+", type=int, default=(), help="score with this many simulated hints too")
    parser.add_argument(
        "--data_root", help="the folder of datasets, written DATA in the card (paths mean nothing elsewhere)"
    )
    args = parser.parse_args(argv)

    model = load_model(args.run / "model")
    recipe = RECIPES.get(args.name)
    differences = {k: v for k, v in (recipe.config if recipe else {}).items() if model.config.get(k) != v}
    if recipe is None or recipe.family.family != model.family or differences:
        print(f"{args.run}: not a model of recipe {args.name!r} ({model.family}, {differences})", file=sys.stderr)
        return 2
    folder = SHIPPED_WEIGHTS / args.name
    shutil.rmtree(folder, ignore_errors=True)
    model.to(torch.float16).save_pretrained(folder)

    strength = (
        [
            "",
            "## Colour strength",
            "",
            (
                f"`{args.name}` takes `vividness` from 0 (the most accurate colours) to 1 (the most colourful); "
                f'its default is {model.vividness:g}: `Colorizer.from_pretrained("{args.name}", vividness=0.8)`, '
                "or `hfcolor colorize PHOTOS -o OUT --vividness 0.8`."
            ),
        ]
        if "vividness" in getattr(model, "options", ())
        else []
    )
    details = "\n".join(
        [
            *training_record(args.run, args.before),
            *strength,
            "",
            evaluation_section(args.name, args.data, args.split, args.vividness, args.hints),
            "",
            "## Known failure modes",
            "",
            args.notes,
        ]
    )
    if args.data_root:
        details = details.replace(args.data_root.rstrip("/"), "DATA") + DATA_NOTE
    # save_pretrained never overwrites a card: the first one, written before these numbers, is replaced here.
    model.generate_model_card(details=details, repo_id=args.name, model_name=args.name).save(folder / "README.md")
    total = sum(f.stat().st_size for f in SHIPPED_WEIGHTS.rglob("*") if f.is_file()) / 2**20
    print(f"shipped {args.name} in {folder}; all shipped weights: {total:.1f} MiB (limit {MAX_TOTAL_MIB})")
    return 1 if total > MAX_TOTAL_MIB else 0


if __name__ == "__main__":
    sys.exit(main())
