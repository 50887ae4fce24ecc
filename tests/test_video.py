"""Video: reading and writing with PyAV, the temporal step, the flicker measure and the CLI."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FPS, SIZE, panning, tiny_model, write_clip
from PIL import Image
from skimage import data as skimage_data

from hfcolor import Colorizer, color
from hfcolor.cli import main
from hfcolor.metrics import Flicker
from hfcolor.pipelines.video import VideoColorizer
from hfcolor.video_io import VideoReader, VideoReadError

av = pytest.importorskip("av", reason="video needs PyAV (pip install 'hfcolor[video]')")


def sound_packets(path: Path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as container:
        track = container.streams.audio[0]
        return [(float(p.pts * track.time_base), bytes(p)) for p in container.demux(track) if p.dts is not None]


def frame_count(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader.frames())


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.asarray(Image.fromarray(skimage_data.astronaut()).resize((256, 256)))


@pytest.fixture(scope="module")
def video():
    torch.manual_seed(0)
    return VideoColorizer(Colorizer(tiny_model("pix2pix_unet.seed003")))


@pytest.fixture()
def clip(tmp_path, astronaut) -> Path:
    return write_clip(tmp_path / "clip.mp4", panning(astronaut, 12))


def test_a_colorized_clip_keeps_every_frame_its_rate_size_and_sound(video, clip, tmp_path):
    written = video.colorize_file(clip, tmp_path / "out" / "clip.mp4")
    with VideoReader(tmp_path / "out" / "clip.mp4") as reader:
        info, frames = reader.info, list(reader.frames())
    assert written == len(frames) == 12 and info.fps == FPS and (info.width, info.height) == SIZE
    assert np.asarray(frames).std(axis=3).mean() > 1  # it has colour
    assert sound_packets(tmp_path / "out" / "clip.mp4") == sound_packets(clip)  # the same bytes at the same times


def test_a_frame_range_keeps_those_frames_and_their_sound(video, clip, tmp_path):
    assert video.colorize_file(clip, tmp_path / "part.mp4", start=4, stop=9) == 5
    assert frame_count(tmp_path / "part.mp4") == 5
    kept, whole = sound_packets(tmp_path / "part.mp4"), sound_packets(clip)
    assert 0 < len(kept) < len(whole) and {data for _, data in kept} <= {data for _, data in whole}
    assert 0 <= kept[0][0] < 1024 / 44100  # the sound starts with the first frame kept, to one AAC packet
    with pytest.raises(ValueError, match="no frames"):
        video.colorize_file(clip, tmp_path / "none.mp4", start=50)
    assert not (tmp_path / "none.mp4").exists() and not list(tmp_path.glob(".*partial"))


def test_a_silent_clip_stays_silent(video, tmp_path, astronaut):
    silent = write_clip(tmp_path / "silent.mp4", panning(astronaut, 3), sound=False)
    video.colorize_file(silent, tmp_path / "out.mp4")
    with VideoReader(tmp_path / "out.mp4") as reader:
        assert not reader.info.has_audio and sum(1 for _ in reader.frames()) == 3


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"%PDF-1.4 not a video", "not a video"), (None, "no such file"), ("sound only", "has no video track")],
)
def test_files_that_are_not_videos_are_named_and_nothing_is_written(video, tmp_path, content, problem):
    source = tmp_path / "input.mp4"
    if content == "sound only":
        with av.open(str(source), "w") as out:
            track = out.add_stream("aac", rate=44100)
            tone = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
            tone.sample_rate = 44100
            out.mux(track.encode(tone))
            out.mux(track.encode(None))
    elif content is not None:
        source.write_bytes(content)
    with pytest.raises(VideoReadError, match=problem) as error:
        video.colorize_file(source, tmp_path / "out" / "result.mp4")
    assert str(source) in str(error.value) and not (tmp_path / "out" / "result.mp4").exists()


def test_a_new_shot_starts_from_the_model_s_colours(video, tmp_path, astronaut):
    coffee = np.asarray(Image.fromarray(skimage_data.coffee()).resize((256, 256)))
    frames = panning(astronaut, 6) + panning(coffee, 6)
    steadied = list(video(frames))
    assert video.cuts == [6]
    alone = list(VideoColorizer(video.colorizer, temporal=0)(frames))
    assert np.array_equal(steadied[6], alone[6]) and np.array_equal(steadied[0], alone[0])


def test_where_the_flow_holds_the_carried_colours_get_the_temporal_weight(video):
    """A still frame: the flow is zero and holds everywhere, so the result is an exact blend."""
    lightness = torch.full((1, 32, 32), 50.0)
    lightness[:, 8:24, 8:24] = 70.0  # something for the flow to hold on to
    before, now = torch.full((2, 32, 32), 0.3), torch.full((2, 32, 32), -0.1)
    _, state = video.steady(lightness, before, None, 0)
    cuts = list(video.cuts)
    blended, _ = video.steady(lightness, now, state, 1)
    assert torch.allclose(blended, 0.8 * before + 0.2 * now, atol=1e-5) and video.cuts == cuts  # no new shot


def lab_frame(a: float, b: float) -> np.ndarray:
    lab = torch.tensor([55.0, a, b], dtype=torch.float64).view(3, 1, 1).expand(3, 48, 64).clone()
    lab[0, 12:36, 16:48] = 70.0  # texture the flow can see
    return np.round(color.lab_to_rgb(lab).permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def test_flicker_of_a_still_clip_whose_colour_alternates_is_the_jump():
    flickering, steady = Flicker(), Flicker()
    for index in range(6):
        flickering.add(lab_frame(20.0 if index % 2 else -20.0, 10.0))
        steady.add(lab_frame(20.0, 10.0))
    assert abs(flickering.value - 40.0) < 1.0  # a*: +20 then -20, every frame; 8-bit rounding aside
    assert steady.value < 0.5
    with pytest.raises(ValueError, match="uint8 RGB"):
        Flicker().add(np.zeros((4, 4), dtype=np.uint8))


def test_sampling_models_are_refused_for_video():
    with pytest.raises(ValueError, match="sampl"):
        VideoColorizer(Colorizer(tiny_model("diffusion.small")))


def test_the_cli_colorizes_a_video_beside_photos(tmp_path, clip, photo, capsys):
    torch.manual_seed(0)
    tiny_model("pix2pix_unet.seed003").save_pretrained(tmp_path / "model")
    photo.save(tmp_path / "photo.jpg")
    out = tmp_path / "out"
    command = ["colorize", str(clip), str(tmp_path / "photo.jpg"), "-o", str(out), "-m", str(tmp_path / "model")]
    assert main([*command, "--frames", "2:7"]) == 0
    assert frame_count(out / "clip.mp4") == 5 and (out / "photo.png").is_file()
    assert "5 frames" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*command, "--frames", "7:2"])
    assert main(["colorize", str(clip), "-o", str(tmp_path), "-m", str(tmp_path / "model")]) == 2  # over its input
