import datasets
import numpy as np
import pytest
import torch
from conftest import load_script, write_hub_dataset

from hfcolor.data import (
    PRESETS,
    PUBLISHABLE_PHOTOS,
    ColorizationStream,
    DatasetPhotos,
    PhotoTransform,
    batch_to_model_space,
    center_crop,
    load_images,
    publishable_photos,
)
from hfcolor.metrics import is_black_and_white


@pytest.fixture()
def hub_layout(tmp_path, photos):
    """A Hub-layout dataset folder: train (the photos and one bad record) and validation (2 photos)."""
    train = [*photos, b"not an image"]
    return write_hub_dataset(tmp_path / "photos", {"train": train, "validation": train[:2]}, labels=True)


def test_hub_layout_folder_is_map_style_by_default(hub_layout):
    images = load_images(str(hub_layout))
    assert isinstance(images, datasets.Dataset) and images.column_names == ["image"] and len(images) == 5
    assert len(load_images(str(hub_layout), split="validation")) == 2
    assert isinstance(load_images(str(hub_layout), streaming=True), datasets.IterableDataset)


def test_missing_split_is_a_clear_error(hub_layout):
    with pytest.raises(ValueError, match="test"):
        load_images(str(hub_layout), split="test")


def test_parquet_glob(hub_layout):
    images = load_images(str(hub_layout / "data" / "train-*.parquet"))
    assert len(images) == 5
    with pytest.raises(FileNotFoundError, match="no parquet files"):
        load_images(str(hub_layout / "nothing-*.parquet"))


def test_plain_image_folder(tmp_path, photos):
    for index, image in enumerate(photos):
        image.save(tmp_path / f"{index}.png")
    images = load_images(str(tmp_path))
    assert len(images) == len(photos)
    stream = ColorizationStream(images, size=32, train=False)
    assert len(list(stream)) == len(photos)


def test_bad_records_are_skipped_and_counted(hub_layout):
    stream = ColorizationStream(load_images(str(hub_layout)), size=32, train=True, seed=0)
    tensors = list(stream)
    assert len(tensors) == 4 and stream.skipped == 1
    assert all(t.shape == (3, 32, 32) and t.dtype == torch.uint8 for t in tensors)


@pytest.mark.parametrize("streaming", [False, True])
def test_dataset_photos_decode_in_order_and_skip_unreadable_records(tmp_path, photos, streaming):
    folder = write_hub_dataset(tmp_path / "photos", {"validation": [photos[0], b"not an image", *photos[1:]]})
    every = DatasetPhotos(str(folder), streaming=streaming)
    decoded = list(every)
    assert len(decoded) == len(photos) and every.skipped == 1
    assert all(np.array_equal(np.asarray(d), np.asarray(p)) for d, p in zip(decoded, photos))
    assert every.describe() == {"source": str(folder), "split": "validation", "limit": None, "skipped": 1}
    # The limit counts readable photos: the unreadable second record does not use up one of the two.
    two = DatasetPhotos(str(folder), limit=2, streaming=streaming)
    limited = list(two)
    assert len(two) == len(limited) == 2 and two.skipped == 1
    assert np.array_equal(np.asarray(limited[1]), np.asarray(photos[1]))


@pytest.mark.parametrize("streaming, workers", [(True, 0), (False, 2)])
def test_streaming_and_dataloader_workers_see_each_record_once(hub_layout, streaming, workers):
    stream = ColorizationStream(load_images(str(hub_layout), streaming=streaming), size=16, train=False)
    loader = torch.utils.data.DataLoader(stream, batch_size=1, num_workers=workers)
    batches = [batch[0] for batch in loader]
    assert len(batches) == 4
    assert len({tuple(b.flatten()[:64].tolist()) for b in batches}) == 4  # no record twice


def test_ranks_get_disjoint_data(hub_layout):
    images = load_images(str(hub_layout))
    parts = [list(ColorizationStream(images, 16, train=False, rank=r, world_size=2)) for r in range(2)]
    assert len(parts[0]) + len(parts[1]) == 4
    for a in parts[0]:
        assert not any(torch.equal(a, b) for b in parts[1])


def test_transforms(photo):
    crop = center_crop(photo, 32)
    assert crop.size == (32, 32)
    train = PhotoTransform(24, train=True)
    assert train(photo).shape == (3, 24, 24)
    evaluate = PhotoTransform(24, train=False)
    assert torch.equal(evaluate(photo), evaluate(photo))  # deterministic


def test_batch_to_model_space_ranges(photo):
    batch = torch.stack([PhotoTransform(16, train=False)(photo)] * 2)
    lightness, ab = batch_to_model_space(batch)
    assert lightness.shape == (2, 1, 16, 16) and ab.shape == (2, 2, 16, 16)
    assert lightness.abs().max() <= 1 and ab.abs().max() <= 1 and ab.abs().max() > 0.05


def test_presets_name_real_hub_datasets():
    assert PRESETS["coco"].repo_id == "detection-datasets/coco"
    assert PRESETS["cifar10"].split_names["validation"] == "test"
    assert "/" in PRESETS["ncd"].repo_id


def test_push_dataset_builds_an_ncd_style_hub_folder(tmp_path, photos):
    push_dataset = load_script("train_scripts/push_dataset.py")
    for name, image in zip(["apple", "apple", "lemon"], photos):
        (tmp_path / "ncd" / name).mkdir(parents=True, exist_ok=True)
        image.save(tmp_path / "ncd" / name / f"{len(list((tmp_path / 'ncd' / name).iterdir()))}.jpg")
    (tmp_path / "ncd" / "lemon" / "broken.jpg").write_bytes(b"not a jpeg")
    push_dataset.main([str(tmp_path / "ncd"), "--save_to", str(tmp_path / "hub")])
    dataset = datasets.load_dataset(str(tmp_path / "hub"), split="train")
    assert len(dataset) == 3 and dataset.features["class"].names == ["apple", "lemon"]
    assert len(load_images(str(tmp_path / "hub"))) == 3
    with pytest.raises(SystemExit):  # argparse: "give --repo_id to push, or --save_to for a local folder"
        push_dataset.main([str(tmp_path / "ncd")])


def test_publishable_photos_are_colour_photos_at_the_size_asked():
    photos = publishable_photos(64)
    assert len(photos) == len(PUBLISHABLE_PHOTOS) == 4
    assert all(photo.mode == "RGB" and max(photo.size) == 64 for photo in photos)
    assert not any(is_black_and_white(photo) for photo in photos)  # a truth to compare the colorizations with
