"""A least-recently-used cache of decoded frames, bounded in megabytes. Not thread-safe by itself:
the sources that own one call it under their own lock."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np


class FrameCache:
    """Frames by index; the least recently used are dropped once the total exceeds `max_mb`.

    A frame larger than the whole budget is not kept (`max_mb=0` disables caching).
    """

    def __init__(self, max_mb: float = 256.0):
        if max_mb < 0:
            raise ValueError(f"cache size must be >= 0 MB, got {max_mb}")
        self.max_bytes = int(max_mb * 1024 * 1024)
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._frames)

    def __contains__(self, index: int) -> bool:
        return index in self._frames

    def get(self, index: int) -> np.ndarray | None:
        frame = self._frames.get(index)
        if frame is not None:
            self._frames.move_to_end(index)
        return frame

    def put(self, index: int, frame: np.ndarray) -> None:
        if frame.nbytes > self.max_bytes:
            return
        old = self._frames.pop(index, None)
        if old is not None:
            self.nbytes -= old.nbytes
        self._frames[index] = frame
        self.nbytes += frame.nbytes
        while self.nbytes > self.max_bytes:
            _, dropped = self._frames.popitem(last=False)
            self.nbytes -= dropped.nbytes

    def drop(self, index: int) -> None:
        old = self._frames.pop(index, None)
        if old is not None:
            self.nbytes -= old.nbytes

    def clear(self) -> None:
        self._frames.clear()
        self.nbytes = 0
