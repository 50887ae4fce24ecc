import gc
import io

import numpy as np
import pytest
import torch
from PIL import Image

from hfcolor.image_io import ImageReadError, image_lightness, load_image, save_image


def saved(tmp_path, image: Image.Image, name: str, **options):
    path = tmp_path / name
    image.save(path, **options)
    return path


@pytest.mark.parametrize(
    "name, options",
    [("a.jpg", {"quality": 95}), ("a.png", {}), ("a.webp", {"lossless": True}), ("a.tif", {}), ("a.bmp", {})],
)
def test_common_formats_open_as_rgb(tmp_path, photo, name, options):
    loaded = load_image(saved(tmp_path, photo, name, **options))
    assert loaded.mode == "RGB" and loaded.size == photo.size
    tolerance = 12 if name.endswith(".jpg") else 0
    assert np.abs(np.asarray(loaded, dtype=int) - np.asarray(photo, dtype=int)).mean() <= tolerance


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.getpixel((5, 5))[0] > 200


# An unclosed file warns when it is collected; these make that warning fail the test.
@pytest.mark.filterwarnings("error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning")
def test_reading_closes_the_files_it_opens(tmp_path, photo):
    frames = [Image.new("RGB", (20, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])  # PIL keeps its file open
    load_image(tmp_path / "anim.gif")
    data = saved(tmp_path, photo, "whole.jpg").read_bytes()
    (tmp_path / "half.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError):
        load_image(tmp_path / "half.jpg")
    gc.collect()


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (8, 8), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    image.info["transparency"] = 0
    loaded = load_image(saved(tmp_path, image, "p.png", transparency=0))
    assert loaded.getpixel((0, 0)) == (255, 0, 0)
    assert loaded.getpixel((4, 4)) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(tmp_path, mode):
    image = Image.new(mode, (4, 4), (0, 0, 0, 0) if mode == "RGBA" else (0, 0))
    image.putpixel((1, 1), (0, 0, 0, 255) if mode == "RGBA" else (0, 255))
    loaded = load_image(saved(tmp_path, image, f"{mode}.png"))
    assert loaded.getpixel((0, 0)) == (255, 255, 255) and loaded.getpixel((1, 1)) == (0, 0, 0)


def test_cmyk_jpeg(tmp_path):
    image = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    loaded = load_image(saved(tmp_path, image, "cmyk.jpg"))
    r, g, b = loaded.getpixel((4, 4))
    assert r > 200 and g < 60 and b < 60


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path):
    ramp = (np.linspace(0, 65535, 64).reshape(8, 8)).astype(np.uint16)
    path = tmp_path / "gray16.png"
    Image.fromarray(ramp).save(path)
    loaded = np.asarray(load_image(path))
    assert loaded.shape == (8, 8, 3)
    assert loaded[0, 0, 0] == 0 and loaded[-1, -1, 0] == 255 and 120 < loaded[4, 0, 0] < 136


def test_gray_image_gives_equal_channels_and_exact_lightness(tmp_path):
    gray = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4, mode="L")
    loaded = load_image(saved(tmp_path, gray, "gray.png"))
    array = np.asarray(loaded)
    assert (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all()
    lightness = image_lightness(loaded)
    assert lightness.shape == (1, 8, 8) and lightness.min() >= 0 and lightness.max() <= 100
    # kept gray (what a colorizer asks for), the photo is one channel with the same L*
    kept = load_image(saved(tmp_path, gray, "gray.png"), keep_gray=True)
    assert kept.mode == "L" and torch.allclose(image_lightness(kept), lightness, atol=1e-4)
    with pytest.raises(ValueError, match="mode CMYK"):
        image_lightness(Image.new("CMYK", (4, 4)))


def test_keep_gray_keeps_only_gray_photos_gray(tmp_path, photo):
    ramp = (np.linspace(0, 65535, 64).reshape(8, 8)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "gray16.png")
    gray16 = load_image(tmp_path / "gray16.png", keep_gray=True)
    assert gray16.mode == "L" and np.asarray(gray16)[-1, -1] == 255
    assert load_image(photo, keep_gray=True).mode == "RGB"
    assert load_image(Image.new("LA", (4, 4)), keep_gray=True).mode == "RGB"  # composited on white


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (30, 10), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 5, 10))  # white stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif.tobytes(), quality=95)
    loaded = load_image(path)
    assert loaded.size == (10, 30)
    assert loaded.getpixel((5, 1))[0] > 200  # the stripe is now at the top
    out = save_image(loaded, tmp_path / "out.png")
    assert Image.open(out).size == (10, 30)  # saved upright, no orientation tag left to re-rotate


def test_bytes_arrays_and_file_objects(photo):
    buffer = io.BytesIO()
    photo.save(buffer, format="PNG")
    assert load_image(buffer.getvalue()).size == photo.size
    buffer.seek(0)
    assert load_image(buffer).size == photo.size
    assert load_image(np.asarray(photo)).size == photo.size
    with pytest.raises(ImageReadError, match="uint8"):
        load_image(np.zeros((4, 4, 3), dtype=np.float32))


def test_truncated_file_names_the_file(tmp_path, photo):
    path = saved(tmp_path, photo, "whole.jpg")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ImageReadError, match=r"truncated\.jpg: .*truncated or corrupt"):
        load_image(truncated)


def test_corrupt_data_inside_a_valid_header(tmp_path, photo):
    data = bytearray(saved(tmp_path, photo, "whole.png").read_bytes())
    data[100:400] = b"\x00" * 300
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=r"corrupt\.png: "):
        load_image(bad)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is a text file with a .jpg suffix")
    with pytest.raises(ImageReadError, match=r"notes\.jpg: not an image"):
        load_image(path)


def test_empty_missing_and_folder(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty\.png: the file is empty"):
        load_image(empty)
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        load_image(tmp_path)


def test_zero_size_image():
    with pytest.raises(ImageReadError, match="zero size"):
        load_image(Image.new("RGB", (0, 5)))


def test_pixel_limit_refuses_decompression_bombs(tmp_path):
    path = saved(tmp_path, Image.new("L", (4000, 3000)), "big.png")
    with pytest.raises(
        ImageReadError, match=r"big\.png: the image is 4000x3000 = 12,000,000 pixels, over the limit of 1,000,000"
    ):
        load_image(path, max_pixels=1_000_000)
    assert load_image(path, max_pixels=None).size == (4000, 3000)


def test_save_png_and_jpeg_only(tmp_path, photo):
    assert Image.open(save_image(photo, tmp_path / "x.png")).format == "PNG"
    assert Image.open(save_image(photo, tmp_path / "sub" / "x.JPG")).format == "JPEG"
    with pytest.raises(ValueError, match="cannot save as '.gif'"):
        save_image(photo, tmp_path / "x.gif")
