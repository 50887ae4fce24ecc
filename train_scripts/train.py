"""Train any hfcolor model from a recipe config, on one CPU or many GPUs.

    accelerate launch train_scripts/train.py --config train_scripts/configs/seed003_cgan.yaml
    python train_scripts/train.py --config ... --train_data /path/to/photos --max_train_steps 200

Every YAML key is a command-line option (``--key value``); the command line wins. Two CPU
processes really run as two ranks with ``accelerate launch --multi_gpu --num_processes 2`` (the
Accelerator is created with ``cpu=True`` when there is no GPU; a plain ``--cpu`` launch runs one).

Checkpoints (``checkpoint-STEP``) hold models, optimisers, schedulers, RNG states and the data
position; ``--resume_from_checkpoint latest`` continues exactly where a run stopped, and SIGTERM
or Ctrl-C write one before exiting. Resume only from checkpoints you made: optimiser and RNG
states are pickles. The final model is exported with ``save_pretrained`` into ``OUTPUT_DIR/model``.

Validation runs the evaluation protocol (:func:`hfcolor.evaluation.evaluate`, which colorizes
through :class:`hfcolor.pipelines.Colorizer` like the CLI and the Space) on the first
``--num_validation_images`` photos of the validation split, at ``--resolution``; it writes
``validation/step-STEP.png`` and ``validation/metrics.jsonl``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

# Before torch loads OpenMP: idle threads that spin slow everything else on the machine (hfcolor.hardware).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed
from PIL import Image
from tqdm.auto import tqdm

from hfcolor import create_model, load_model
from hfcolor.data import (
    STOP_SIGNALS,
    ColorizationStream,
    DatasetPhotos,
    batch_to_model_space,
    ignore_stop_signals,
    load_images,
    stop_signals_blocked,
)
from hfcolor.evaluation import Evaluation, Protocol, evaluate
from hfcolor.hardware import warn_if_bfloat16_is_emulated
from hfcolor.hub import hub_unreachable_reason
from hfcolor.models import RECIPES
from hfcolor.objectives import AdversarialObjective, DiffusionObjective, SupervisedObjective, target_for, unwrapped

OBJECTIVES = ("supervised", "adversarial", "diffusion")
LR_SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine", "piecewise_constant")
CHECKPOINT = re.compile(r"checkpoint-\d+")
# Options whose values are secrets: used, never written (train_config.json, cards, TensorBoard, logs).
SECRET_OPTIONS = ("hub_token",)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    # No abbreviations: every option is spelled out, so a secret's value is always found to redact it.
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("--config", help="YAML recipe; its keys are defaults for the options below")
    # what to train
    p.add_argument("--model", help="registry recipe of the colorizer, e.g. pix2pix_unet.seed003")
    p.add_argument("--model_overrides", type=json.loads, default={}, help="JSON dict of model config changes")
    p.add_argument("--init_from", help="start from a trained model folder or Hub id (staged recipes)")
    p.add_argument("--objective", choices=OBJECTIVES, default="supervised")
    p.add_argument(
        "--loss",
        default="l2",
        help="l1, l2, smooth_l1, cross_entropy, rebalanced_cross_entropy, or a two-headed model's "
        "REGRESSION+CLASSIFICATION (e.g. l2+rebalanced_cross_entropy)",
    )
    p.add_argument("--smooth_l1_beta", type=float, default=1.0)
    p.add_argument("--discriminator", help="registry recipe of the discriminator (adversarial)")
    p.add_argument("--discriminator_overrides", type=json.loads, default={})
    p.add_argument("--adversarial_loss", choices=("bce", "eps_log"), default="bce")
    p.add_argument(
        "--reconstruction_weight",
        type=float,
        default=100.0,
        help="lambda of the L1/L2 term beside an adversarial or a classification term",
    )
    p.add_argument("--real_label", type=float, default=1.0)
    p.add_argument("--fake_label", type=float, default=0.0)
    p.add_argument("--eps", type=float, default=1e-2, help="report 001's log buffer (eps_log)")
    p.add_argument("--discriminator_scale", type=float, default=0.5)
    p.add_argument("--class_prior_batches", type=int, default=50, help="batches counted for class rebalancing")
    # data
    p.add_argument(
        "--train_data",
        nargs="+",
        default=["coco"],
        help="preset, Hub id, Hub-layout folder, parquet glob or image folder; several are concatenated",
    )
    p.add_argument("--train_split", default="train")
    p.add_argument("--validation_data", help="defaults to --train_data")
    p.add_argument("--validation_split", default="validation")
    p.add_argument("--streaming", type=_bool, default=None, help="default: stream Hub data, read local data")
    p.add_argument("--resolution", type=int, help="default: the model's working size")
    p.add_argument("--dataloader_num_workers", type=int, default=2)
    p.add_argument("--shuffle_buffer", type=int, default=1000)
    # optimisation
    p.add_argument("--train_batch_size", type=int, default=16)
    p.add_argument("--max_train_steps", type=int, default=1000)
    p.add_argument(
        "--max_train_minutes",
        type=float,
        help="also stop after this many minutes of this run, exporting the model as usual",
    )
    p.add_argument("--learning_rate", type=float, default=2e-4)
    p.add_argument("--discriminator_learning_rate", type=float, help="defaults to --learning_rate")
    p.add_argument("--adam_beta1", type=float, default=0.9)
    p.add_argument("--adam_beta2", type=float, default=0.999)
    p.add_argument("--weight_decay", type=float, default=0.0)
    p.add_argument("--lr_scheduler", choices=LR_SCHEDULES, default="constant", help="how the learning rate moves")
    p.add_argument("--lr_warmup_steps", type=int, default=0)
    p.add_argument("--lr_step_rules", help="piecewise_constant rules, e.g. '1:15000,0.1' (x1 until 15000, then x0.1)")
    p.add_argument("--max_grad_norm", type=float, default=0.0, help="0 disables clipping")
    p.add_argument("--gradient_accumulation_steps", type=int, default=1)
    p.add_argument("--mixed_precision", choices=("no", "fp16", "bf16"), default="no")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    # bookkeeping
    p.add_argument("--output_dir", default="outputs/run")
    p.add_argument("--checkpointing_steps", type=int, default=500)
    p.add_argument("--checkpoints_total_limit", type=int, default=3)
    p.add_argument("--resume_from_checkpoint", help="a checkpoint folder, or 'latest'")
    p.add_argument("--validation_steps", type=int, default=500)
    p.add_argument("--num_validation_images", type=int, default=8)
    p.add_argument("--report_to", default="tensorboard", help="tensorboard, or none")
    p.add_argument("--push_to_hub", action="store_true")
    p.add_argument("--hub_model_id", help="ORG/NAME to push checkpoints and the final model to")
    p.add_argument(
        "--hub_token",
        help="better: the HF_TOKEN environment variable or `hf auth login`; never written to any file or log",
    )

    known, _ = p.parse_known_args(argv)
    if known.config:
        recipe = yaml.safe_load(Path(known.config).read_text()) or {}
        unknown = sorted(set(recipe) - set(vars(known)))
        if unknown:
            p.error(f"{known.config}: unknown keys {unknown}")
        if set(SECRET_OPTIONS) & set(recipe):
            p.error(f"{known.config}: keep secrets ({', '.join(SECRET_OPTIONS)}) out of recipe files; use HF_TOKEN")
        p.set_defaults(**recipe)
    args = p.parse_args(argv)
    if not args.model:
        p.error("--model is required (in the config or on the command line)")
    for option in ("model", "discriminator"):
        name = getattr(args, option)
        if name and name not in RECIPES:
            p.error(f"--{option} {name}: not a registered recipe; `hfcolor models` lists them")
    if args.objective == "adversarial" and not args.discriminator:
        p.error("an adversarial recipe needs --discriminator")
    if args.objective == "adversarial" and args.gradient_accumulation_steps != 1:
        p.error("adversarial recipes update D and G in turn every batch: use --gradient_accumulation_steps 1")
    if args.push_to_hub and not args.hub_model_id:
        p.error("--push_to_hub needs --hub_model_id ORG/NAME")

    if isinstance(args.train_data, str):  # a YAML recipe may give one source as a plain string
        args.train_data = [args.train_data]
    args.validation_data = args.validation_data or args.train_data[0]
    args.discriminator_learning_rate = args.discriminator_learning_rate or args.learning_rate
    return args


def _bool(text: str) -> bool:
    return text.lower() in ("1", "true", "yes")


def recordable(args: argparse.Namespace) -> dict:
    """The options as configs, cards and trackers record them: secrets left out."""
    return {key: value for key, value in vars(args).items() if key not in SECRET_OPTIONS}


def redacted(argv: list[str]) -> list[str]:
    """The command line with the value of every secret option replaced by ``***``."""
    words, hide_next = [], False
    for word in argv:
        name, equals, _ = word.partition("=")
        secret = name.startswith("--") and name[2:] in SECRET_OPTIONS
        words.append("***" if hide_next else f"{name}=***" if secret and equals else word)
        hide_next = secret and not equals
    return words


# ------------------------------------------------------------------------------------------
# Hub: fail in seconds, before any training, when a push could not work.


def check_hub_access(repo_id: str, token: str | None) -> None:
    from huggingface_hub import HfApi

    problem = hub_unreachable_reason()
    if problem:
        raise SystemExit(f"--push_to_hub: {problem}, so nothing could be pushed; fix that or drop --push_to_hub")
    api = HfApi(token=token)
    try:
        user = api.whoami()["name"]
    except Exception as error:  # noqa: BLE001 - no token, or a revoked one, whatever the HTTP client raises
        raise SystemExit(
            f"--push_to_hub: no valid Hugging Face token ({error}); run `hf auth login` or pass --hub_token"
        )
    api.create_repo(repo_id, exist_ok=True)
    print(f"pushing to https://huggingface.co/{repo_id} as {user}")


# ------------------------------------------------------------------------------------------


class TrainingProgress:
    """Step and data position, saved in every checkpoint beside the models and RNG states."""

    def __init__(self):
        self.step, self.epoch, self.batches_done_in_epoch = 0, 0, 0
        self.seconds = 0.0  # training time of the runs before this one, so a resumed run reports the total

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)


class StopRequest:
    """While active, SIGTERM or a first Ctrl-C asks the loop to checkpoint and stop after the current step."""

    SIGNALS = STOP_SIGNALS  # the ones loader workers ignore (hfcolor.data.ignore_stop_signals)

    def __enter__(self):
        self.signal_number = 0
        self.previous = {number: signal.signal(number, self._handle) for number in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def _handle(self, number, frame):
        self.signal_number = number
        signal.signal(number, self.previous[number])  # a second Ctrl-C stops at once


def checkpoints(output_dir: Path) -> list[Path]:
    """The trainer's own ``checkpoint-<step>`` folders, oldest first (``checkpoint-old`` and the like are not)."""
    found = [path for path in output_dir.glob("checkpoint-*") if path.is_dir() and CHECKPOINT.fullmatch(path.name)]
    return sorted(found, key=lambda path: int(path.name.split("-")[1]))


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = checkpoints(output_dir)
    return found[-1] if found else None


def prune_checkpoints(output_dir: Path, keep: int) -> None:
    found = checkpoints(output_dir)
    for old in found[: max(0, len(found) - keep)]:
        shutil.rmtree(old)


def resume(accelerator, output_dir: Path, which: str) -> Path:
    """Load a checkpoint; with ``latest``, a damaged newest one gives way to the newest intact one, with a warning."""
    if which == "latest":
        candidates = checkpoints(output_dir)[::-1]
        if not candidates:
            raise SystemExit(f"--resume_from_checkpoint latest: no checkpoint found in {output_dir}")
    else:
        candidates = [Path(which)]
        if not candidates[0].is_dir():
            raise SystemExit(f"--resume_from_checkpoint {which}: no such checkpoint folder")
    problems = []
    for checkpoint in candidates:
        try:
            accelerator.load_state(str(checkpoint))
        # A damaged checkpoint fails in whatever its files' readers raise (safetensors, torch, pickle, OS).
        except Exception as error:  # noqa: BLE001
            files = ", ".join(sorted(path.name for path in checkpoint.iterdir())) or "no files"
            problems.append(f"{checkpoint} cannot be loaded ({type(error).__name__}: {error}; it holds {files})")
            continue
        for problem in problems:
            accelerator.print(f"warning: {problem}; resuming from {checkpoint} instead")
        return checkpoint
    raise SystemExit("--resume_from_checkpoint: " + "; ".join(problems))


def build_models(args, accelerator):
    if args.init_from:
        model = load_model(args.init_from)
        expected = args.model.split(".")[0]
        if model.family != expected:
            raise SystemExit(
                f"--init_from {args.init_from} holds a {model.family!r} model, the recipe trains {expected!r}"
            )
    else:
        model = create_model(args.model, **args.model_overrides)
    discriminator = None
    if args.objective == "adversarial":
        discriminator = create_model(args.discriminator, **args.discriminator_overrides)
    return model.train(), discriminator


def build_objective(args):
    if args.objective == "supervised":
        return SupervisedObjective(args.loss, args.smooth_l1_beta, args.reconstruction_weight)
    if args.objective == "diffusion":
        return DiffusionObjective()
    return AdversarialObjective(
        reconstruction=args.loss,
        reconstruction_weight=args.reconstruction_weight,
        adversarial=args.adversarial_loss,
        real_label=args.real_label,
        fake_label=args.fake_label,
        eps=args.eps,
        discriminator_scale=args.discriminator_scale,
        smooth_l1_beta=args.smooth_l1_beta,
    )


def make_optimizer(args, network, learning_rate):
    parameters = [p for p in network.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(
        parameters, lr=learning_rate, betas=(args.adam_beta1, args.adam_beta2), weight_decay=args.weight_decay
    )
    factor = lr_factor(args.lr_scheduler, args.lr_warmup_steps, args.max_train_steps, args.lr_step_rules)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def lr_factor(name: str, warmup_steps: int, total_steps: int, step_rules: str | None = None):
    """The learning rate's multiplier at each step, as diffusers' ``get_scheduler`` has it (written
    out, as nanoGPT does, because importing diffusers.optimization costs every run 1.5 s)."""

    def warmup(step: int) -> float:
        return step / max(1, warmup_steps)

    def progress(step: int) -> float:
        return (step - warmup_steps) / max(1, total_steps - warmup_steps)

    if name == "constant":
        return lambda step: 1.0
    if name == "constant_with_warmup":
        return lambda step: warmup(step) if step < warmup_steps else 1.0
    if name == "linear":
        return lambda step: warmup(step) if step < warmup_steps else max(0.0, 1 - progress(step))
    if name == "cosine":
        return lambda step: (
            warmup(step) if step < warmup_steps else max(0.0, 0.5 * (1 + math.cos(math.pi * progress(step))))
        )
    if name == "piecewise_constant":  # "1:15000,0.1": x1 before step 15000, x0.1 after (no warm-up)
        *rules, last = (step_rules or "").split(",")
        try:
            bounds = sorted((int(until), float(value)) for value, until in (rule.split(":") for rule in rules))
            last = float(last)
        except ValueError:
            raise ValueError(f"--lr_step_rules {step_rules!r}: expected 'FACTOR:UNTIL_STEP,...,FACTOR'") from None
        return lambda step: next((value for until, value in bounds if step < until), last)
    raise ValueError(f"unknown --lr_scheduler {name!r}; choose one of {LR_SCHEDULES}")


def train_loader(args, accelerator, epoch: int, conditions: tuple[str, ...] = ()):
    """A fresh loader per epoch: its generator is seeded by (seed, epoch), so a resumed run replays the same order.

    ``conditions``: the model's inputs that may come from dataset columns of those names.
    """
    images = load_images(args.train_data, args.train_split, args.streaming, columns=conditions)
    stream = ColorizationStream(
        images,
        args.resolution,
        train=True,
        rank=accelerator.process_index,
        world_size=accelerator.num_processes,
        seed=args.seed,
        shuffle_buffer=args.shuffle_buffer,
    )
    stream.set_epoch(epoch)
    generator = torch.Generator().manual_seed(args.seed * 1_000_003 + epoch)
    return torch.utils.data.DataLoader(
        stream,
        batch_size=args.train_batch_size,
        num_workers=args.dataloader_num_workers,
        generator=generator,
        worker_init_fn=ignore_stop_signals,
        persistent_workers=False,
        drop_last=True,
    )


def no_batch_message(args) -> str:
    """Why a whole pass over the data gave no batch: how many images could be read, and what is needed."""
    counting = ColorizationStream(load_images(args.train_data, args.train_split, args.streaming), 8, train=False)
    with quiet(logging.getLogger("hfcolor.data")):
        usable = sum(1 for _ in counting)
    return (
        f"no batch can be formed: {' '.join(args.train_data)} (split {args.train_split}) holds {usable} readable "
        f"image(s) and {counting.skipped} unreadable one(s), and a batch needs {args.train_batch_size} per process; "
        "add images or lower --train_batch_size"
    )


@contextlib.contextmanager
def quiet(logger: logging.Logger):
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def split_batch(batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A loader batch -> (uint8 RGB, the model's conditions by name).

    ColorizationStream gives RGB alone, or (RGB, {name: value}) where the data holds columns named
    after the model's conditions.
    """
    if isinstance(batch, (list, tuple)):
        rgb, conditions = batch
        return rgb, dict(conditions)
    return batch, {}


def count_class_prior(args, accelerator, model) -> None:
    """Zhang et al.'s rebalancing needs the training set's a*b* histogram: count it on a few batches."""
    counts = None
    for index, rgb in enumerate(train_loader(args, accelerator, epoch=0)):
        if index == args.class_prior_batches:
            break
        _, ab = batch_to_model_space(rgb)
        batch_counts = model.count_classes(ab)
        counts = batch_counts if counts is None else counts + batch_counts
    counts = accelerator.reduce(counts.to(accelerator.device), reduction="sum").cpu()
    model.set_class_weights(counts)


def hardware(accelerator) -> str:
    if accelerator.device.type == "cuda":
        name = torch.cuda.get_device_name(accelerator.device)
    else:
        name = f"{torch.get_num_threads()}-thread CPU"
    return f"{accelerator.num_processes} x {name}"


# ------------------------------------------------------------------------------------------
# One run: its state, and the functions main() calls in turn.


@dataclass
class Run:
    """What the loop's functions share. ``model`` and ``discriminator`` are as ``accelerator.prepare`` returned them."""

    args: argparse.Namespace
    argv: list[str]
    accelerator: Accelerator
    objective: object
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    lr_scheduler: object
    discriminator: torch.nn.Module | None
    d_optimizer: torch.optim.Optimizer | None
    d_scheduler: object
    progress: TrainingProgress
    # The model's inputs that may come from dataset columns (``model.data_conditions()``).
    conditions: tuple[str, ...]
    validation_photos: list[Image.Image]  # on the main process only
    earlier_seconds: float = 0.0  # training time of the runs this one resumed
    started: float = field(default_factory=time.perf_counter)
    metrics: dict[str, float] = field(default_factory=dict)  # the last validation's
    losses: dict[str, float] = field(default_factory=dict)  # the last step's, mean over processes
    batch_checksums: list[int] = field(default_factory=list)  # the first 100 batches: which data each rank saw
    step_ends: list[float] = field(default_factory=list)
    hub_uploads: list = field(default_factory=list)
    reported_missing_conditions: bool = False

    @property
    def output_dir(self) -> Path:
        return Path(self.args.output_dir)

    def seconds(self) -> float:
        """Training time so far, the runs this one resumed included."""
        return self.earlier_seconds + time.perf_counter() - self.started

    def unwrapped(self, network: torch.nn.Module) -> torch.nn.Module:
        return unwrapped(self.accelerator.unwrap_model(network))


def start_run(args, argv: list[str]) -> Run:
    """Models, optimisers and data position, from a checkpoint if asked; the options and trackers set up."""
    output_dir = Path(args.output_dir)
    accelerator = Accelerator(
        cpu=args.cpu or not torch.cuda.is_available(),
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
    )
    warn_if_bfloat16_is_emulated(accelerator.device, torch.bfloat16 if args.mixed_precision == "bf16" else None)
    set_seed(args.seed)
    model, discriminator = build_models(args, accelerator)
    conditions = model.data_conditions()
    args.resolution = args.resolution or model.input_size
    objective = build_objective(args)
    if "rebalanced_cross_entropy" in args.loss.split("+") and not args.init_from:
        count_class_prior(args, accelerator, model)

    optimizer, lr_scheduler = make_optimizer(args, model, args.learning_rate)
    model, optimizer, lr_scheduler = accelerator.prepare(model, optimizer, lr_scheduler)
    d_optimizer = d_scheduler = None
    if discriminator is not None:
        d_optimizer, d_scheduler = make_optimizer(args, discriminator, args.discriminator_learning_rate)
        discriminator, d_optimizer, d_scheduler = accelerator.prepare(discriminator, d_optimizer, d_scheduler)
    progress = TrainingProgress()
    accelerator.register_for_checkpointing(progress)
    if args.resume_from_checkpoint:
        checkpoint = resume(accelerator, output_dir, args.resume_from_checkpoint)
        accelerator.print(f"resumed from {checkpoint} at step {progress.step}")

    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "train_config.json").write_text(json.dumps(recordable(args), indent=2, default=str))
        if args.report_to != "none":
            accelerator.init_trackers(
                "hfcolor", config={k: v for k, v in recordable(args).items() if isinstance(v, (int, float, str, bool))}
            )
    return Run(
        args=args,
        argv=argv,
        accelerator=accelerator,
        objective=objective,
        model=model,
        optimizer=optimizer,
        lr_scheduler=lr_scheduler,
        discriminator=discriminator,
        d_optimizer=d_optimizer,
        d_scheduler=d_scheduler,
        progress=progress,
        conditions=conditions,
        validation_photos=read_validation_photos(args) if accelerator.is_main_process else [],
        earlier_seconds=progress.seconds,
    )


def training_batches(run: Run, loader_factory=None) -> Iterator:
    """Loader batches, epoch after epoch, without end; a resumed run replays its epoch's order up to where it stopped."""
    progress = run.progress
    while True:
        if loader_factory:
            loader = loader_factory(progress.epoch)
        else:
            loader = train_loader(run.args, run.accelerator, progress.epoch, run.conditions)
        with stop_signals_blocked():
            batches = iter(loader)  # forks the loader's workers
        formed = 0
        for index, batch in enumerate(batches):
            formed += 1
            if index < progress.batches_done_in_epoch:
                continue
            # Counted when handed out: checkpoints are written between steps, after it was trained on.
            progress.batches_done_in_epoch = index + 1
            yield batch
        if not formed:
            raise SystemExit(no_batch_message(run.args))
        progress.epoch += 1
        progress.batches_done_in_epoch = 0


def optimisation_step(run: Run, batches: Iterator) -> dict[str, float]:
    """One optimiser step: micro-batches until the accelerator syncs the gradients; returns the losses.

    A non-finite loss stops the run before any checkpoint holds the broken weights.
    """
    accelerator = run.accelerator
    trainables = [network for network in (run.model, run.discriminator) if network is not None]
    synced = False
    while not synced:
        rgb, conditions = split_batch(next(batches))
        report_missing_conditions(run, conditions)
        if len(run.batch_checksums) < 100:
            run.batch_checksums.append(int(rgb.sum()))
        lightness, ab = batch_to_model_space(rgb.to(accelerator.device))
        conditions = {name: value.to(accelerator.device) for name, value in conditions.items()}
        conditions.update(run.unwrapped(run.model).training_conditions(lightness, ab))
        with accelerator.accumulate(*trainables):
            losses = train_step(run, lightness, ab, conditions)
        synced = accelerator.sync_gradients
    run.progress.step += 1
    # Every rank gets the same means, so every rank takes the same decision below.
    run.losses = {name: accelerator.gather(value.detach()[None]).mean().item() for name, value in losses.items()}
    bad = [name for name, value in run.losses.items() if not math.isfinite(value)]
    if bad:
        raise SystemExit(
            f"step {run.progress.step}: the {', '.join(bad)} loss became {run.losses[bad[0]]}; stopping. "
            f"Last checkpoint: {latest_checkpoint(run.output_dir)}. Try a lower --learning_rate, "
            "--max_grad_norm 1, or --mixed_precision no."
        )
    accelerator.log(
        {**{f"loss/{name}": value for name, value in run.losses.items()}, "lr": run.lr_scheduler.get_last_lr()[0]},
        step=run.progress.step,
    )
    run.step_ends.append(time.perf_counter())
    return run.losses


def report_missing_conditions(run: Run, conditions: dict) -> None:
    """Say once when the data lacks a column the model could read instead of computing it."""
    missing = [name for name in run.conditions if name not in conditions]
    if missing and not run.reported_missing_conditions:
        run.reported_missing_conditions = True
        run.accelerator.print(
            f"{' '.join(run.args.train_data)} holds no precomputed {', '.join(missing)} column, so the model computes "
            "it on every batch (slow); train_scripts/shrink_dataset.py --embed_for MODEL adds embeddings"
        )


def train_step(run: Run, lightness, ab, conditions: dict) -> dict[str, torch.Tensor]:
    """One (micro-)batch: backward and step for each (network, optimiser, scheduler); returns the losses.

    ``conditions`` are the generator's further inputs by name (a precomputed ``embedding``), usually none.
    """
    model, objective = run.model, run.objective
    if run.discriminator is None:
        loss = objective(model, lightness, ab, **conditions)
        run.accelerator.backward(loss)
        _clip_and_step(run, model, run.optimizer, run.lr_scheduler)
        return {"generator": loss}
    target = target_for(run.unwrapped(model), lightness, ab)
    fake = model(lightness, **conditions)
    # Discriminator first, on a detached colorization; then the generator against the updated D.
    d_loss = objective.discriminator_loss(run.discriminator, lightness, fake, target)
    run.accelerator.backward(d_loss)
    _clip_and_step(run, run.discriminator, run.d_optimizer, run.d_scheduler)
    g_loss = objective.generator_loss(run.discriminator, lightness, fake, target)
    run.accelerator.backward(g_loss)
    _clip_and_step(run, model, run.optimizer, run.lr_scheduler)
    run.d_optimizer.zero_grad(set_to_none=True)  # the generator's backward also reached D's weights
    return {"generator": g_loss, "discriminator": d_loss}


def _clip_and_step(run: Run, network, optimizer, scheduler) -> None:
    if run.args.max_grad_norm and run.accelerator.sync_gradients:
        run.accelerator.clip_grad_norm_(network.parameters(), run.args.max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def save_checkpoint(run: Run) -> None:
    """``checkpoint-STEP`` on every rank (accelerate writes each rank's RNG state); the oldest pruned; pushed if asked."""
    folder = run.output_dir / f"checkpoint-{run.progress.step}"
    run.progress.seconds = run.seconds()
    run.accelerator.save_state(str(folder))
    if not run.accelerator.is_main_process:
        return
    prune_checkpoints(run.output_dir, run.args.checkpoints_total_limit)
    if run.args.push_to_hub:
        from huggingface_hub import upload_folder

        # In the background: training goes on while it uploads; export waits for them all.
        run.hub_uploads.append(
            upload_folder(
                repo_id=run.args.hub_model_id,
                folder_path=folder,
                path_in_repo=folder.name,
                token=run.args.hub_token,
                run_as_future=True,
            )
        )


def agreed_stop(run: Run, signal_number: int) -> tuple[int, bool]:
    """(the stop signal received, whether --max_train_minutes is up), as every rank sees them.

    One reduction carries both requests, so that every rank stops at the same step.
    """
    args = run.args
    out_of_time = bool(args.max_train_minutes) and time.perf_counter() - run.started > args.max_train_minutes * 60
    requests = torch.tensor([float(signal_number), float(out_of_time)], device=run.accelerator.device)
    if run.accelerator.num_processes > 1:
        requests = run.accelerator.reduce(requests, reduction="max")
    return int(requests[0].item()), bool(requests[1].item())


def exit_on_signal(run: Run, signal_number: int) -> NoReturn:
    """Checkpoint (unless this step's is written already) and exit as the signal would have, 128 + its number."""
    if run.progress.step % run.args.checkpointing_steps:
        save_checkpoint(run)
    run.accelerator.print(
        f"\nstopped by signal at step {run.progress.step}; checkpoint in {latest_checkpoint(run.output_dir)}; "
        "continue with --resume_from_checkpoint latest"
    )
    run.accelerator.end_training()
    raise SystemExit(128 + signal_number)


# ------------------------------------------------------------------------------------------
# Validation: the evaluation protocol on a few photos, so that its numbers are the ones
# `hfcolor evaluate` gives the exported model and its pictures what users will see.

VALIDATION_METRICS = ("psnr", "ssim", "ab_l1", "colorfulness", "colorfulness_true")


def read_validation_photos(args) -> list[Image.Image]:
    """The first --num_validation_images readable photos of the validation split, read once."""
    source = DatasetPhotos(args.validation_data, args.validation_split, args.num_validation_images, args.streaming)
    photos = list(source)
    if not photos:
        raise SystemExit(
            f"no readable validation images in {args.validation_data} (split {args.validation_split}, "
            f"{source.skipped} unreadable)"
        )
    return photos


def validate(model, photos: list[Image.Image], args, device: torch.device) -> Evaluation:
    """Score ``model`` and the gray baseline on ``photos`` through the evaluation protocol (hfcolor.pipelines.Colorizer).

    Training is left as it was: the model goes back to training mode (the pipeline puts it in eval
    mode), and evaluate's seeding for sampling models does not reach the RNG that training draws from.
    """
    protocol = Protocol(image_size=args.resolution, fid_kid=False, num_bins=(10,))
    was_training = model.training
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        try:
            evaluation = evaluate(
                [(args.model, model)], photos, protocol, device=device, progress=False, grid_rows=len(photos)
            )
        finally:
            model.train(was_training)
    if args.model in evaluation.failed:  # evaluate records a failing model and goes on; training must not
        raise RuntimeError(f"validation: {evaluation.failed[args.model]}")
    return evaluation


def run_validation(run: Run) -> None:
    """Validate on the main process and record it: grid picture, metrics.jsonl, trackers; the others wait."""
    accelerator, step = run.accelerator, run.progress.step
    if accelerator.is_main_process:
        evaluation = validate(run.unwrapped(run.model), run.validation_photos, run.args, accelerator.device)
        scores = evaluation.results[run.args.model].mean()
        run.metrics = {key: scores[key] for key in VALIDATION_METRICS}
        grid = evaluation.grid(tile=run.args.resolution)  # input | model | truth, one row per photo
        folder = run.output_dir / "validation"
        folder.mkdir(exist_ok=True)
        grid.save(folder / f"step-{step:06d}.png")
        # A plain record beside TensorBoard's, for validation curves over steps and time.
        with open(folder / "metrics.jsonl", "a") as record:
            record.write(json.dumps({"step": step, "seconds": run.seconds(), **run.metrics}) + "\n")
        accelerator.log({f"validation/{key}": value for key, value in run.metrics.items()}, step=step)
        if run.args.report_to == "tensorboard":
            tracker = accelerator.get_tracker("tensorboard")
            tracker.writer.add_image("validation/grid", np.asarray(grid), step, dataformats="HWC")
    accelerator.wait_for_everyone()


# ------------------------------------------------------------------------------------------
# The end of a run: summary, model and card.


def summarize(run: Run, seconds: float) -> dict:
    args, accelerator = run.args, run.accelerator
    timed = run.step_ends
    images = args.train_batch_size * args.gradient_accumulation_steps * accelerator.num_processes
    return {
        "step": run.progress.step,
        "seconds": seconds,
        # Throughput after the first step, which pays for warm-up and loader start.
        "images_per_second": (len(timed) - 1) * images / (timed[-1] - timed[0]) if len(timed) > 1 else float("nan"),
        "validation": run.metrics,
        "hardware": hardware(accelerator),
        "rank": accelerator.process_index,
        "batch_checksums": run.batch_checksums,
        "loss": run.losses,
    }


def save_final_model(run: Run, seconds: float) -> Path:
    """``OUTPUT_DIR/model`` (and ``discriminator``), with a card that says how it was trained and validated."""
    args, accelerator = run.args, run.accelerator
    folder = run.output_dir / "model"
    shutil.rmtree(folder, ignore_errors=True)
    command = "accelerate launch train_scripts/train.py " + " ".join(redacted(run.argv))
    details = "\n".join(
        [
            "## Training",
            f"- Recipe: `{args.config or 'command line'}` ({args.objective}, loss `{args.loss}`)",
            (
                f"- Data: {', '.join(f'`{source}`' for source in args.train_data)} split `{args.train_split}` "
                f"at {args.resolution} px"
            ),
            (
                f"- Steps: {run.progress.step} x batch {args.train_batch_size} x "
                f"{accelerator.num_processes} process(es) x accumulation {args.gradient_accumulation_steps}"
            ),
            f"- Hardware: {hardware(accelerator)}, {seconds / 60:.1f} min",
            f"- Command: `{command}`",
            "",
            "## Validation (last evaluation during training)",
            "",
            "| metric | value |",
            "|---|---|",
            *[f"| {key} | {value:.4f} |" for key, value in run.metrics.items()],
        ]
    )
    run.unwrapped(run.model).save_pretrained(folder, model_card_kwargs={"details": details})
    if run.discriminator is not None:
        run.unwrapped(run.discriminator).save_pretrained(run.output_dir / "discriminator")
    return folder


def export(run: Run, seconds: float) -> None:
    """Save the final model; with --push_to_hub, upload it once the checkpoints' uploads are done."""
    folder = save_final_model(run, seconds)
    if run.args.push_to_hub:
        from huggingface_hub import upload_folder

        for upload in run.hub_uploads:
            upload.result()
        upload_folder(
            repo_id=run.args.hub_model_id,
            folder_path=folder,
            token=run.args.hub_token,
            commit_message=f"final model, step {run.progress.step}",
        )
    run.accelerator.print(f"saved {folder}")


def main(argv: list[str] | None = None, loader_factory=None) -> dict:
    """Train; returns a summary. ``loader_factory(epoch)`` replaces the data (the benchmark's synthetic data)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.push_to_hub:
        check_hub_access(args.hub_model_id, args.hub_token)
    run = start_run(args, argv)
    accelerator = run.accelerator

    out_of_time = False
    with (
        StopRequest() as stop,
        contextlib.closing(training_batches(run, loader_factory)) as batches,
        tqdm(
            total=args.max_train_steps,
            initial=run.progress.step,
            desc="training",
            disable=not accelerator.is_local_main_process,
        ) as bar,
    ):
        while run.progress.step < args.max_train_steps and not out_of_time:
            losses = optimisation_step(run, batches)
            bar.update(1)
            bar.set_postfix({name: f"{value:.4f}" for name, value in losses.items()})
            if run.progress.step % args.checkpointing_steps == 0:
                save_checkpoint(run)
            if run.progress.step % args.validation_steps == 0:
                run_validation(run)
            signal_number, out_of_time = agreed_stop(run, stop.signal_number)
            if signal_number:
                exit_on_signal(run, signal_number)

    seconds = run.seconds()
    # The card and the summary describe the exported model, so its last step is validated too.
    if run.progress.step % args.validation_steps or not run.metrics:
        run_validation(run)
    summary = summarize(run, seconds)
    (run.output_dir / f"summary-rank{accelerator.process_index}.json").write_text(json.dumps(summary, indent=2))
    if accelerator.is_main_process:
        export(run, seconds)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary


if __name__ == "__main__":
    main()
