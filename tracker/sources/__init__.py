"""Frame sources: video files, image folders, benchmark sequence folders. All yield RGB uint8 frames."""
from .base import FrameSource, GroundTruth, open_source

__all__ = ["FrameSource", "GroundTruth", "open_source"]
