"""Train many recipes side by side on one machine and collect their models by name.

    python train_scripts/train_zoo.py train_scripts/zoo.yaml --data ../shared/data --out runs/zoo [--jobs ...]
    HFCOLOR_WEIGHTS_DIR=runs/zoo/weights hfcolor evaluate --models resnet18_gray.seed000 --data ...

The plan maps a job name to trainer options (``config`` and any ``--key`` of train.py). Each job runs
train.py in its own process; its model lands in OUT/weights/NAME, so a job named after a registry
recipe loads by that name through ``HFCOLOR_WEIGHTS_DIR``. A job whose ``init_from`` names another
job starts when that one has finished and begins from its model (staged recipes). Top-level keys
starting with ``x-`` are not jobs: they hold options that jobs share through YAML anchors.

Why side by side: the seeds' networks are small, so one of them leaves a large GPU mostly idle while
its data loader works; several at once keep it busy. ``--minutes`` caps each job's training time
(train.py's ``--max_train_minutes``), which keeps a batch of jobs inside a fixed time slot.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "train_scripts" / "train.py"


def load_plan(path: Path) -> dict[str, dict]:
    """Job name -> trainer options; ``x-`` keys only hold options shared through YAML anchors."""
    return {name: job for name, job in yaml.safe_load(path.read_text()).items() if not name.startswith("x-")}


def trainer_command(job: dict, runs: Path, name: str, plan: dict, args) -> list[str]:
    options = {"max_train_minutes": args.minutes, **job, "output_dir": runs / name}
    command = [sys.executable, str(TRAIN)]
    for key, value in options.items():
        if value is None or value is False:
            continue
        if value is True:  # a switch such as --cpu
            command.append(f"--{key}")
            continue
        if key == "init_from" and value in plan:
            value = runs / value / "model"
        if isinstance(value, dict):
            value = json.dumps(value)
        command += [f"--{key}", str(value).replace("{data}", args.data)]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plan", type=Path, help="YAML mapping job name -> trainer options")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", default="../shared/data", help="replaces {data} in the plan's data sources")
    parser.add_argument("--jobs", nargs="+", help="run only these jobs (default: all)")
    parser.add_argument("--minutes", type=float, help="training-time cap per job (a job's own value wins)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per job")
    args = parser.parse_args(argv)

    plan = load_plan(args.plan)
    names = args.jobs or list(plan)
    unknown = [name for name in names if name not in plan]
    if unknown:
        parser.error(f"{args.plan} has no jobs {unknown}; it has {sorted(plan)}")
    runs, weights, logs = args.out / "runs", args.out / "weights", args.out / "logs"
    for folder in (runs, weights, logs):
        folder.mkdir(parents=True, exist_ok=True)
    finished = {name: threading.Event() for name in names}
    codes: dict[str, int] = {}
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}

    def run(name: str) -> None:
        job = plan[name]
        dependency = job.get("init_from")
        if dependency in finished:
            finished[dependency].wait()
            if codes[dependency]:
                codes[name] = -1
                finished[name].set()
                return
        command = trainer_command(job, runs, name, plan, args)
        with open(logs / f"{name}.log", "w") as log:
            log.write(" ".join(command) + "\n")
            log.flush()
            codes[name] = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        if codes[name] == 0:
            shutil.copytree(runs / name / "model", weights / name, dirs_exist_ok=True)
        finished[name].set()

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    print("| job | exit | steps | images/s | minutes | PSNR | colourfulness (truth) |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        summary_file = runs / name / "summary-rank0.json"
        if codes[name] or not summary_file.exists():
            reason = "dependency failed" if codes[name] == -1 else f"see {logs / name}.log"
            print(f"| {name} | {codes[name]} | {reason} | | | | |")
            continue
        summary = json.loads(summary_file.read_text())
        validation = summary["validation"]
        print(
            f"| {name} | 0 | {summary['step']} | {summary['images_per_second']:.0f} | {summary['seconds'] / 60:.1f} "
            f"| {validation['psnr']:.2f} | {validation['colorfulness']:.1f} ({validation['colorfulness_true']:.1f}) |"
        )
    return 1 if any(codes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
