"""Score every shipped model again and rewrite the numbers in its card.

    python train_scripts/refresh_cards.py --data DATA/photos [--data_root DATA] [NAME ...]

Run it after any change to what the evaluation protocol measures (the colour pipeline, a metric):
each card's "## Evaluation" section and comparison.jpg are replaced by fresh ones, scored as
``ship_weights.py`` scores them (the split, vividness and hints settings are read from the card's own
"Reproduce" line), and every table row that changed is printed, old and new, so a change that
moves the numbers is seen. ``--data_root`` writes that folder as ``DATA`` throughout the card.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import ship_weights

SECTION = re.compile(r"## Evaluation\n.*?(?=\n## |\Z)", re.DOTALL)


def refresh(name: str, data: str, data_root: str | None) -> list[str]:
    """Rewrite ``name``'s card; returns the table rows that changed, as "- old" / "+ new" lines."""
    path = ship_weights.SHIPPED_WEIGHTS / name / "README.md"
    card = path.read_text()
    reproduce = re.search(r"^Reproduce: `hfcolor evaluate (.*)`$", card, re.MULTILINE)
    if reproduce is None or SECTION.search(card) is None:
        raise ValueError(f"{path}: no evaluation section with a Reproduce line to refresh")
    split = re.search(r"--split (\S+)", reproduce.group(1))
    vividness = re.search(r"--vividness ([\d. ]+)", reproduce.group(1))
    hints = re.search(r"--hints ([\d ]+)", reproduce.group(1))
    section = ship_weights.evaluation_section(
        name,
        data,
        split.group(1) if split else "validation",
        [float(v) for v in vividness.group(1).split()] if vividness else [],
        [int(n) for n in hints.group(1).split()] if hints else [],
    )
    old_rows = [line for line in SECTION.search(card).group(0).splitlines() if line.startswith("| `")]
    card = SECTION.sub(lambda _: section + "\n", card, count=1)  # the match ends before the blank line
    if data_root:
        card = card.replace(data_root.rstrip("/"), "DATA")
        card = card if ship_weights.DATA_NOTE.strip() in card else card.rstrip("\n") + ship_weights.DATA_NOTE + "\n"
    path.write_text(card)
    new_rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [f"- {old}\n+ {new}" for old, new in zip(old_rows, new_rows) if old != new]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="shipped models (default: all of them)")
    parser.add_argument("--data", required=True, help="the evaluation data the cards were scored on")
    parser.add_argument("--data_root", help="the folder of datasets, written DATA in the cards")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.parent.name for p in Path(ship_weights.SHIPPED_WEIGHTS).glob("*/README.md"))
    for name in names:
        changes = refresh(name, args.data, args.data_root)
        print(f"{name}: " + ("numbers unchanged" if not changes else f"{len(changes)} rows changed"))
        for change in changes:
            print(change)
    return 0


if __name__ == "__main__":
    sys.exit(main())
