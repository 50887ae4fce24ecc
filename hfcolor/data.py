"""Photo datasets for training and evaluation, built on 🤗 datasets.

:func:`load_images` turns a *source* into a 🤗 dataset with one undecoded ``image`` column:

* a preset name: ``coco``, ``ncd``, ``cifar10`` (see :data:`PRESETS`);
* a Hub dataset id (``user/name``), streamed by default;
* a local folder in Hub dataset layout (``README.md`` + ``data/*.parquet``);
* a parquet glob (``/data/train-*.parquet``);
* a plain folder of images (datasets' ``imagefolder``).

:class:`ColorizationStream` decodes those records with the safe loader of :mod:`hfcolor.image_io`,
skips (and counts) the ones that fail, crops them to a fixed size and yields uint8 RGB tensors.
Lab conversion is left to the training device (:func:`hfcolor.color.rgb_to_model_space`), where
it is cheap, so loader workers only decode and resize. :class:`DatasetPhotos` decodes and skips
the same way but yields whole photos, for evaluation.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import logging
import math
import os
import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .color import rgb_to_model_space
from .image_io import DEFAULT_MAX_PIXELS, ImageReadError, load_image

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    repo_id: str
    split_names: dict[str, str] = field(default_factory=dict)  # our split name -> the dataset's
    about: str = ""


def _presets() -> dict[str, Preset]:
    return {
        # detection-datasets/coco holds COCO 2017 train/val as parquet with the JPEGs embedded, so it
        # streams with no loading script and no second download of images from URLs.
        "coco": Preset("detection-datasets/coco", {"validation": "val"}, "MS-COCO 2017 (118k train, 5k val)"),
        # The Natural-Color Dataset (report 001) is not on the Hub: push it with
        # train_scripts/push_dataset.py and point HFCOLOR_NCD_DATASET at your copy.
        "ncd": Preset(
            os.environ.get("HFCOLOR_NCD_DATASET", "hfcolor/natural-color-dataset"),
            {},
            "Natural-Color Dataset: 723 fruit and vegetable photos in 20 classes",
        ),
        "cifar10": Preset("uoft-cs/cifar10", {"validation": "test"}, "CIFAR-10, 32x32 (report 004's baseline)"),
    }


PRESETS = _presets()

# scikit-image's colour photos that are public domain or CC0 (so its docstrings say): the pictures
# the project publishes (model cards, README), since the training and evaluation sets' terms forbid it.
PUBLISHABLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def publishable_photos(max_side: int = 256) -> list[Image.Image]:
    """:data:`PUBLISHABLE_PHOTOS` as RGB images, their longer side at most ``max_side``."""
    from skimage import data as skimage_data

    photos = [Image.fromarray(getattr(skimage_data, name)()).convert("RGB") for name in PUBLISHABLE_PHOTOS]
    for photo in photos:
        photo.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return photos


def _require_datasets():
    try:
        import datasets
    except ImportError as error:  # datasets is a training/evaluation extra, not a core dependency
        raise ImportError("hfcolor's data layer needs 🤗 datasets: pip install 'hfcolor[train]'") from error
    return datasets


def load_images(
    source: str | list[str], split: str = "train", streaming: bool | None = None, columns: Sequence[str] = ()
):
    """Open ``source`` as a 🤗 ``Dataset`` (map-style) or ``IterableDataset`` (streaming).

    A list of sources gives their ``split``s concatenated, in that order (shuffling is the stream's job).
    The result has a column ``image`` holding undecoded ``{"bytes", "path"}`` records, so a
    corrupt file never breaks iteration: :class:`ColorizationStream` decodes and filters them.
    Of ``columns`` (a model's conditions, by name, e.g. ``embedding``), those the data has are kept too.
    ``streaming`` defaults to True for Hub ids and False for local data.
    """
    datasets = _require_datasets()
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("no data source given")
        parts = [load_images(one, split, streaming, columns) for one in source]
        return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    preset = PRESETS.get(source)
    path = Path(source)
    if preset is not None:
        args, kwargs, local = (preset.repo_id,), {}, False
        split = preset.split_names.get(split, split)
    elif any(ch in source for ch in "*?[") and source.endswith(".parquet"):
        files = sorted(glob.glob(source))
        if not files:
            raise FileNotFoundError(f"no parquet files match {source!r}")
        args, kwargs, local = ("parquet",), {"data_files": {split: files}}, True
    elif path.is_dir():
        if any(path.rglob("*.parquet")):
            args, kwargs, local = (str(path),), {}, True
        else:
            args, kwargs, local = ("imagefolder",), {"data_dir": str(path)}, True
    elif path.exists():
        raise ValueError(f"{source}: a data source must be a folder, a parquet glob, a preset or a Hub dataset id")
    else:
        args, kwargs, local = (source,), {}, False
    streaming = (not local) if streaming is None else streaming
    try:
        dataset = datasets.load_dataset(*args, split=split, streaming=streaming, **kwargs)
    except ValueError as error:
        if "split" in str(error).lower():
            raise ValueError(f"{source}: has no split {split!r} ({error})") from error
        raise
    column = _image_column(dataset, source)
    kept = [name for name in columns if name in (dataset.column_names or []) and name != column]
    dataset = dataset.select_columns([column, *kept])
    if column != "image":
        dataset = dataset.rename_column(column, "image")
    return dataset.cast_column("image", datasets.Image(decode=False))


def _image_column(dataset, source: str) -> str:
    datasets = _require_datasets()
    features = dataset.features or {}
    for name, feature in features.items():
        if isinstance(feature, datasets.Image):
            return name
    for name in ("image", "img"):
        if name in (dataset.column_names or []):
            return name
    raise ValueError(f"{source}: no image column among {list(features) or dataset.column_names}")


def open_record(record: dict, name: str, max_pixels: int | None) -> Image.Image:
    """Decode one undecoded ``{"bytes", "path"}`` image record safely; ``name`` goes into the error."""
    if record.get("bytes"):
        return load_image(record["bytes"], max_pixels)
    if record.get("path"):
        return load_image(record["path"], max_pixels)
    raise ImageReadError(name, "the record holds neither image bytes nor a path")


class _SkipsUnreadable:
    """Decodes :func:`load_images` records, skipping the ones that fail and counting them in ``skipped``."""

    skipped = 0

    def _readable(self, records, max_pixels: int | None):
        """(record, decoded photo) for each record that decodes, in order."""
        for index, record in enumerate(records):
            name = record["image"].get("path") or f"record {index}"
            try:
                photo = open_record(record["image"], name, max_pixels)
            except ImageReadError as error:
                self.skipped += 1
                # Every one of the first ten, then every hundredth: a folder of bad files must not flood the log.
                if self.skipped <= 10 or self.skipped % 100 == 0:
                    logger.warning("skipping an unreadable image (%d so far): %s", self.skipped, error)
                continue
            yield record, photo


class DatasetPhotos(_SkipsUnreadable):
    """Decoded photos of any :func:`load_images` source, in order, at most ``limit``.

    Unreadable records are skipped and counted in ``skipped``, as in training.
    """

    def __init__(self, source: str, split: str = "validation", limit: int | None = None, streaming: bool | None = None):
        self.records = load_images(source, split, streaming)
        self.source, self.split, self.limit = source, split, limit

    def __len__(self) -> int:
        try:
            available = len(self.records)
        except TypeError:  # a streaming dataset does not know its length
            available = self.limit or 0
        return min(available, self.limit) if self.limit is not None else available

    def __iter__(self):
        photos = (photo for _, photo in self._readable(self.records, DEFAULT_MAX_PIXELS))
        return itertools.islice(photos, self.limit)

    def describe(self) -> dict:
        return {"source": self.source, "split": self.split, "limit": self.limit, "skipped": self.skipped}


class PhotoTransform:
    """Crop a photo to ``size`` x ``size``: random-resized crop and flip for training, centre crop for evaluation.

    Randomness comes from ``rng`` (a ``random.Random``), never the global state, so a stream can
    replay exactly the same crops when a run resumes.
    """

    def __init__(
        self, size: int, train: bool, scale: tuple[float, float] = (0.5, 1.0), rng: random.Random | None = None
    ):
        self.size, self.train, self.scale = size, train, scale
        self.rng = rng or random.Random(0)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = self._random_resized_crop(image) if self.train else center_crop(image, self.size)
        if self.train and self.rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)

    def _random_resized_crop(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        area = width * height
        for _ in range(10):
            target = area * self.rng.uniform(*self.scale)
            aspect = math.exp(self.rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                left, top = self.rng.randint(0, width - w), self.rng.randint(0, height - h)
                return image.resize(
                    (self.size, self.size), Image.Resampling.BICUBIC, box=(left, top, left + w, top + h)
                )
        return center_crop(image, self.size)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """The largest centred square, resized to ``size`` (the evaluation protocol's crop)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.resize((size, size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))


class ColorizationStream(_SkipsUnreadable, torch.utils.data.IterableDataset):
    """Decoded, cropped uint8 RGB tensors (3, size, size) from a :func:`load_images` dataset.

    Where the dataset kept further columns (a model's conditions, see :func:`load_images`), it
    yields ``(rgb, {name: float32 tensor})`` instead: such a condition belongs to the whole photo,
    whatever the crop.

    Sharding happens exactly once, with 🤗 datasets' own tools: ``split_dataset_by_node`` gives each
    of ``world_size`` processes its part, and inside a process 🤗 ``IterableDataset`` splits its
    shards among DataLoader workers by itself. A DataLoader over this stream must therefore not be
    passed through ``accelerator.prepare`` (which would shard or dispatch the batches a second
    time); the trainer moves its batches to the device itself.

    A record that fails to decode is skipped with a warning and counted in ``skipped`` (per
    process; with DataLoader workers each worker counts its own).
    """

    def __init__(
        self,
        images,
        size: int,
        train: bool,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle_buffer: int = 1000,
        num_shards: int = 16,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
    ):
        datasets = _require_datasets()
        super().__init__()
        if isinstance(images, datasets.Dataset):
            images = images.to_iterable_dataset(num_shards=max(1, min(num_shards, len(images))))
        if train:
            images = images.shuffle(seed=seed, buffer_size=shuffle_buffer)
        if world_size > 1:
            from datasets.distributed import split_dataset_by_node

            images = split_dataset_by_node(images, rank=rank, world_size=world_size)
        self.images, self.size, self.train, self.max_pixels = images, size, train, max_pixels
        self.seed, self.rank, self.epoch = seed, rank, 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for a new epoch; call before the DataLoader creates its iterator (and its workers)."""
        self.epoch = epoch
        self.images.set_epoch(epoch)

    def __iter__(self):
        worker = torch.utils.data.get_worker_info()
        # Crops depend only on (seed, epoch, rank, worker): a resumed run replays them exactly.
        rng = random.Random(f"{self.seed}-{self.epoch}-{self.rank}-{worker.id if worker else 0}")
        transform = PhotoTransform(self.size, self.train, rng=rng)
        for record, image in self._readable(self.images, self.max_pixels):
            conditions = {
                name: torch.tensor(value, dtype=torch.float32) for name, value in record.items() if name != "image"
            }
            yield (transform(image), conditions) if conditions else transform(image)


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def stop_signals_blocked():
    """Hold SIGINT and SIGTERM back while DataLoader workers are forked (``iter(loader)``).

    The workers start with them blocked, so one sent to the whole process group in that moment (as
    ``timeout``, systemd, Slurm and Kubernetes do) cannot kill a worker before
    :func:`ignore_stop_signals` runs; the main process gets it as soon as the block ends.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def ignore_stop_signals(worker_id: int) -> None:
    """A DataLoader ``worker_init_fn``: SIGINT and SIGTERM are the main process's to handle, so that it
    can still write its checkpoint; the workers end when it closes the loader."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked since the fork: see stop_signals_blocked


def batch_to_model_space(rgb_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A uint8 batch (B, 3, H, W) from the loader -> normalised (L, a*b*) on the batch's device."""
    return rgb_to_model_space(rgb_uint8.float() / 255.0)
