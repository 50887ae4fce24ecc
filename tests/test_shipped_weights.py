"""The weights hfcolor ships: found by name offline, strict fp16 safetensors, a card with measured numbers."""

import pytest
from safetensors import safe_open

from hfcolor import Colorizer
from hfcolor.models import RECIPES, available_weights
from hfcolor.models.registry import SHIPPED_WEIGHTS

SHIPPED = sorted(p.parent.name for p in SHIPPED_WEIGHTS.glob("*/config.json"))


def test_shipped_weights_stay_small():
    total = sum(f.stat().st_size for f in SHIPPED_WEIGHTS.rglob("*") if f.is_file())
    assert total < 60 * 2**20


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_by_name_and_colorizes(name, photo):
    assert name in RECIPES and available_weights()[name] == SHIPPED_WEIGHTS / name
    with safe_open(SHIPPED_WEIGHTS / name / "model.safetensors", "pt") as weights:
        # floats in fp16; counters (I64) and flags (BOOL) as they are
        assert {str(weights.get_slice(key).get_dtype()) for key in weights.keys()} <= {"F16", "I64", "BOOL"}  # noqa: SIM118 (safe_open is not iterable)
    colorizer = Colorizer.from_pretrained(name)  # strict key matching
    result = colorizer(photo.convert("L"))
    assert result.size == photo.size and result.mode == "RGB"
    card = (SHIPPED_WEIGHTS / name / "README.md").read_text()
    for section in ("## Training", "## Evaluation", "## Known failure modes", f"`{name}`", "comparison.jpg"):
        assert section in card
    assert (SHIPPED_WEIGHTS / name / "comparison.jpg").stat().st_size > 5_000
