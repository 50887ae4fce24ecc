"""`hfcolor bench`: size, speed and memory of registry models and saved folders, each in its own process."""

from conftest import tiny_model

from hfcolor.cli import main


def test_bench_measures_saved_folders_and_marks_what_a_discriminator_lacks(tmp_path, capsys):
    for name in ("pix2pix_unet.seed003", "patchgan.seed004"):
        tiny_model(name).save_pretrained(tmp_path / name)
    unet, patchgan = (str(tmp_path / name) for name in ("pix2pix_unet.seed003", "patchgan.seed004"))
    code = main(["bench", "--models", unet, patchgan, "--runs", "1", "--forward-size", "32", "--photos", "48x40"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"| `{unet}` |" in out and "48x40 ms" in out
    row = next(line for line in out.splitlines() if line.startswith(f"| `{patchgan}` |"))
    assert row.endswith("| — | — |")  # a discriminator has no end-to-end colorization


def test_bench_refuses_what_is_neither_a_recipe_nor_a_folder(tmp_path, capsys):
    assert main(["bench", "--models", str(tmp_path / "missing")]) != 0
    assert "neither registry models nor model folders" in capsys.readouterr().err
