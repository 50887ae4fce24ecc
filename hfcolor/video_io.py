"""Reading and writing video, a frame at a time, with PyAV (FFmpeg comes in its wheels).

Frames stream in and out, so memory does not grow with the clip. A written video keeps the
input's frame rate, size and every frame; its sound is copied over untouched (or re-encoded to
AAC when MP4 cannot hold the input's codec), trimmed to the frames kept. Output is H.264 MP4.
Anything that is not a readable video raises :class:`VideoReadError`, naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .image_io import DEFAULT_MAX_PIXELS, ImageReadError

if TYPE_CHECKING:
    from typing_extensions import Self

# File names taken for videos by the CLI.
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})
# x264's constant quality: 18 is visually lossless for most footage, at a few Mbit/s for 640x360.
H264_QUALITY = "18"


class VideoReadError(ImageReadError):
    """An input that cannot be used as a video; the message names the file and the problem."""


def _av():
    try:
        import av
    except ImportError as error:
        raise ImportError("video needs PyAV: pip install 'hfcolor[video]'") from error
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a written copy must keep: ``width`` x ``height`` at ``fps``; ``frames`` (None if the file
    does not say) and ``seconds`` of the whole clip; whether it has sound."""

    width: int
    height: int
    fps: Fraction
    frames: int | None
    seconds: float | None
    has_audio: bool


class VideoReader:
    """``with VideoReader("clip.mp4") as video: for rgb in video.frames(start, stop): ...``

    ``frames`` yields uint8 RGB arrays (H, W, 3), from frame ``start`` up to (not including) ``stop``.
    """

    def __init__(self, path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS):
        av = _av()
        self.path = Path(path)
        name = str(path)
        if not self.path.is_file():
            raise VideoReadError(name, "no such file" if not self.path.exists() else "is not a file")
        try:
            self.container = av.open(str(self.path))
        except (av.error.FFmpegError, ValueError) as error:
            raise VideoReadError(name, f"not a video, or a format that cannot be read ({error})") from error
        if not self.container.streams.video:
            self.container.close()
            raise VideoReadError(name, "has no video track")
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"  # FFmpeg's own decoding threads
        width, height = stream.codec_context.width, stream.codec_context.height
        if max_pixels is not None and width * height > max_pixels:
            self.container.close()
            raise VideoReadError(name, f"frames of {width}x{height} are over the limit of {max_pixels:,} pixels")
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            self.container.close()
            raise VideoReadError(name, "the video does not say its frame rate")
        seconds = float(self.container.duration / 1_000_000) if self.container.duration else None
        self.info = VideoInfo(
            width, height, Fraction(rate), stream.frames or None, seconds, bool(self.container.streams.audio)
        )
        self._stream = stream

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        av = _av()
        try:
            for index, frame in enumerate(self.container.decode(self._stream)):
                if stop is not None and index >= stop:
                    return
                if index >= start:
                    yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as error:
            raise VideoReadError(str(self.path), f"the video data is corrupt ({error})") from error

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """Writes H.264 MP4 frames to ``path`` at ``info.fps``, with the sound of ``sound_from`` from frame
    ``start`` on: to its end, or with ``trim``, only as far as the frames written. Atomic: the file
    appears complete or not at all.

    ``with VideoWriter("out.mp4", reader.info, sound_from="clip.mp4") as out: out.write(rgb)``
    """

    def __init__(
        self,
        path: str | os.PathLike,
        info: VideoInfo,
        sound_from: str | os.PathLike | None = None,
        start: int = 0,
        trim: bool = False,
    ):
        av = _av()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        self.fps, self.written, self.trim = info.fps, 0, trim
        self.container = av.open(str(self.partial), "w", format="mp4")
        self.video = self.container.add_stream("libx264", rate=info.fps)
        self.video.width, self.video.height = info.width, info.height
        # 4:2:0 needs even sides; 4:4:4 keeps an odd-sized video whole (fewer players take it).
        self.video.pix_fmt = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"
        self.video.options = {"crf": H264_QUALITY, "preset": "fast"}
        self.sound = _Sound(sound_from, self.container, start / info.fps) if sound_from and info.has_audio else None

    def write(self, rgb: np.ndarray) -> None:
        av = _av()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base = self.written, 1 / self.fps
        self.container.mux(self.video.encode(frame))
        self.written += 1
        if self.sound:
            self.sound.copy_until(self.written / self.fps)

    def close(self, keep: bool = True) -> None:
        try:
            if keep:
                self.container.mux(self.video.encode(None))
                if self.sound:
                    self.sound.copy_until(self.written / self.fps if self.trim else float("inf"), last=True)
            self.container.close()
            if self.sound:
                self.sound.close()
            if keep:
                os.replace(self.partial, self.path)
        finally:
            self.partial.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, *exc) -> None:
        self.close(keep=kind is None)


class _Sound:
    """The source's first audio track, copied (or re-encoded to AAC) from ``offset`` seconds on, in step
    with the video written: packets are muxed as the video reaches their time, so none pile up."""

    def __init__(self, source: str | os.PathLike, output, offset: float):
        av = _av()
        self.input, self.output = av.open(str(source)), output
        self.track = self.input.streams.audio[0]
        self.offset = offset
        self.copy = self.track.codec_context.name in ("aac", "mp3", "alac", "opus", "ac3", "eac3", "flac")
        if self.copy:
            self.stream = output.add_stream_from_template(self.track)
        else:  # e.g. PCM from a camera's AVI or MOV: MP4 wants a compressed codec
            self.stream = output.add_stream("aac", rate=self.track.codec_context.sample_rate)
            self.stream.layout = self.track.codec_context.layout
        self.packets = self.input.demux(self.track)
        self.pending = None
        self.shift = round(offset / self.track.time_base) if self.track.time_base else 0

    def copy_until(self, seconds: float, last: bool = False) -> None:
        """Mux the sound up to ``seconds`` of the written video (``last``: flush what is left of that span)."""
        while True:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                break
            if packet.dts is None or packet.pts is None:  # the demuxer's end-of-stream marker
                continue
            start = float(packet.pts * self.track.time_base) - self.offset
            if start >= seconds:
                self.pending = packet
                break
            if start < 0:
                continue
            self._mux(packet)
        if last:
            self._flush()

    def _mux(self, packet) -> None:
        if self.copy:
            packet.pts -= self.shift
            packet.dts -= self.shift
            packet.stream = self.stream
            self.output.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            self.output.mux(self.stream.encode(frame))

    def _flush(self) -> None:
        if not self.copy:
            self.output.mux(self.stream.encode(None))

    def close(self) -> None:
        self.input.close()
