"""`open_path`: the reader for a path, chosen from what is there (used by `open_source`).

    a folder with groundtruth_rect.txt (+ img/)        OTB sequence   (SequenceSource)
    a folder with groundtruth.txt + img/               LaSOT sequence (SequenceSource)
    a folder with groundtruth.txt and no img/          GOT-10k sequence (SequenceSource)
    a folder with image files                          image folder   (ImageFolderSource)
    a folder with no images but an img/ of them        image folder of img/
    a file with a video extension, or any other file OpenCV opens as a video: VideoSource
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .base import FrameSource
from .folder import IMAGE_EXTENSIONS, ImageFolderSource, image_files
from .sequence import detect_format, open_sequence
from .video import VideoSource


def open_path(path: str | Path) -> FrameSource:
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        if detect_format(path) is not None:
            return open_sequence(path)
        if not image_files(path) and (path / "img").is_dir():
            frames = image_files(path / "img")
            if frames:
                return ImageFolderSource(path, files=frames)  # named after the folder, not "img"
        return ImageFolderSource(path)  # raises InputError naming the folder when it holds no images
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise InputError(f"{path}: a single image is not a sequence; open the folder that holds the frames")
    return VideoSource(path)  # by extension or, failing that, by OpenCV opening it; InputError if neither
