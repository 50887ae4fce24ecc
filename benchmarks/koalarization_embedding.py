"""Does a Deep Koalarization model use its image embedding? Score it with its own and with another photo's.

    python benchmarks/koalarization_embedding.py --data ../shared/data/photos --split validation

The fused embedding is the family's whole idea: colours that depend on what the picture shows. If
the model learned to use it, handing it the embedding of a different photo (the next one in the
evaluation batch) should cost accuracy; if the scores do not move, the decoder ignores it. Both
variants go through the evaluation protocol of ``hfcolor evaluate``, beside the gray baseline.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from hfcolor import load_model
from hfcolor.evaluation import Protocol, evaluate_source
from hfcolor.models import ColorizationModel


class AnotherPhotosEmbedding(ColorizationModel):
    """The model, fed the embedding of the next photo in its batch instead of its own."""

    family = "deep_koalarization"

    def __init__(self, model: ColorizationModel):
        super().__init__()
        self.model = model

    @property
    def input_size(self) -> int:
        return self.model.input_size

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        if lightness.shape[0] < 2:
            raise ValueError("swapping embeddings needs at least two photos per batch")
        return self.model(lightness, embedding=self.model.image_embedding(lightness).roll(1, dims=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="deep_koalarization.seed001_inception_small")
    parser.add_argument("--data", required=True, help="any hfcolor data source")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--limit", type=int, help="score only the first N photos")
    args = parser.parse_args(argv)

    model = load_model(args.model)
    if "embedding" not in model.conditions:
        parser.error(f"{args.model} is a {model.family} model, which takes no image embedding")
    swapped = f"{args.model} + another photo's embedding"
    evaluation = evaluate_source(
        [(args.model, model), (swapped, AnotherPhotosEmbedding(model))],
        args.data,
        args.split,
        args.limit,
        Protocol(fid_kid=False),
        grid_rows=0,
    )
    print(evaluation.markdown())
    own, other = (evaluation.results[name].mean() for name in (args.model, swapped))
    print(
        f"\nanother photo's embedding: PSNR {other['psnr'] - own['psnr']:+.2f} dB, "
        f"a*b* L1 {other['ab_l1'] - own['ab_l1']:+.2f}, colourfulness {other['colorfulness'] - own['colorfulness']:+.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
