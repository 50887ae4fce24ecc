"""Should the flagship's training compute the frozen InceptionV3 features on the fly, or store them once?

    python benchmarks/flagship_feature_cost.py --photos 13784

Times, at the recipe's size and batch, one training step of ``inception_colorizer.base`` (encoder
forward, decoder forward and backward, Adam) and the encoder's forward alone. Stored features would
save the encoder's share of every step, at the price of one encoder pass over the data up front,
the disk they take (fp16) and fixed crops (no random-resized crops). It prints both costs for
1, 2 and 5 epochs over ``--photos`` photos. Run it alone on the machine: it measures time.
"""

from __future__ import annotations

import argparse

import torch

from hfcolor import create_model
from hfcolor.bench import median_ms
from hfcolor.color import gray_rgb
from hfcolor.objectives import SupervisedObjective


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=13_784, help="training photos in one epoch")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = create_model("inception_colorizer.base").train()
    size = model.input_size
    lightness = torch.rand(args.batch, 1, size, size) * 2 - 1
    ab = torch.rand(args.batch, 2, size, size) * 0.6 - 0.3
    objective = SupervisedObjective("l2+rebalanced_cross_entropy", reconstruction_weight=100.0)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def train_step():
        objective(model, lightness, ab).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step = median_ms(train_step, args.runs) / 1000 / args.batch
    encoder = median_ms(lambda: model.encoder(gray_rgb(lightness) * 255), args.runs) / 1000 / args.batch
    maps = model.encoder(gray_rgb(lightness[:1]) * 255)
    stored_bytes = sum(m.numel() for m in maps) * 2  # fp16
    print(f"{torch.get_num_threads()} threads, {size} px, batch {args.batch}, median of {args.runs}")
    print(f"training step, features on the fly: {step * 1000:.0f} ms/photo")
    print(f"encoder forward alone:              {encoder * 1000:.0f} ms/photo ({encoder / step:.0%} of the step)")
    print(f"training step, features stored:     {(step - encoder) * 1000:.0f} ms/photo (estimate: step - encoder)")
    print(
        f"stored features: {stored_bytes / 2**10:.0f} KiB/photo, {stored_bytes * args.photos / 2**30:.1f} GiB for all"
    )
    print("epochs | on the fly | stored (one encoder pass first)")
    for epochs in (1, 2, 5):
        on_the_fly = epochs * args.photos * step / 60
        stored = (args.photos * encoder + epochs * args.photos * (step - encoder)) / 60
        print(f"{epochs:6d} | {on_the_fly:7.0f} min | {stored:7.0f} min")


if __name__ == "__main__":
    main()
