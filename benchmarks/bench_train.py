"""Training throughput of each family: real data vs in-memory synthetic data, fp32 vs bf16, in one run.

    python benchmarks/bench_train.py --data ../shared/data/photos [--steps 8] [--batch 4] [--configs seed003_cgan ...]

For each recipe config it trains ``--steps`` steps four times (real / synthetic data x fp32 / bf16)
with the real-size model and prints images/s, timed from the end of the first step (warm-up and
loader start) to the end of the last. The real/synthetic ratio shows whether the loader keeps up
(goal >= 0.9).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from hfcolor import create_model

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIGS = [
    "seed000_cnn", "seed000_cgan", "seed001_unet", "seed001_koalarization", "seed003_resnet18_unet_pretrain",
    "seed004_l2", "seed004_ce10", "joint_bins_rebalanced", "diffusion",
]  # fmt: skip


def load_trainer():
    spec = importlib.util.spec_from_file_location("hfcolor_train", ROOT / "train_scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SyntheticBatches:
    """Random uint8 photos already in memory: what training costs with a free loader."""

    def __init__(self, batch: int, size: int, count: int):
        generator = torch.Generator().manual_seed(0)
        self.batches = [
            torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, generator=generator) for _ in range(count)
        ]

    def __call__(self, epoch):
        return self.batches


def images_per_second(train, argv, loader_factory=None) -> float:
    from accelerate.state import AcceleratorState

    with tempfile.TemporaryDirectory() as out:
        # One process runs many trainings with different precisions: accelerate's state is a singleton.
        AcceleratorState._reset_state(reset_partial_state=True)
        return train.main(argv(Path(out)), loader_factory)["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", required=True, help="a data source for the real-data runs (e.g. ../shared/data/photos)"
    )
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--validation_split", default="validation")
    args = parser.parse_args()
    train = load_trainer()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    precisions = ["no", "bf16"] if device == "cpu" or torch.cuda.is_bf16_supported() else ["no"]
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, {args.steps} steps"
    )
    header = f"{'recipe':<32} {'precision':>9} {'real img/s':>11} {'synthetic img/s':>16} {'ratio':>6}"
    print(header + "\n" + "-" * len(header))
    for name in args.configs:
        config = ROOT / "train_scripts" / "configs" / f"{name}.yaml"
        for precision in precisions:

            def argv(out, config=config, precision=precision):
                return [
                    "--config", str(config), "--init_from", "", "--train_data", args.data,
                    "--validation_split", args.validation_split, "--num_validation_images", "1",
                    "--train_batch_size", str(args.batch), "--max_train_steps", str(args.steps),
                    "--dataloader_num_workers", str(args.workers), "--mixed_precision", precision,
                    "--class_prior_batches", "2", "--report_to", "none", "--output_dir", str(out),
                    "--checkpointing_steps", "1000000", "--validation_steps", "1000000",
                ]  # fmt: skip

            real = images_per_second(train, argv)
            recipe = train.parse_args(argv("unused"))
            # The trainer's rule: --resolution, else the model's working size.
            size = recipe.resolution or create_model(recipe.model, **recipe.model_overrides).input_size
            synthetic = images_per_second(train, argv, SyntheticBatches(args.batch, size, args.steps + 1))
            print(f"{name:<32} {precision:>9} {real:>11.1f} {synthetic:>16.1f} {real / synthetic:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
