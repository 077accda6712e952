"""Progress bars for long command-line work (eval, track, train-association): tqdm on standard error,
with rate and time left, shown only when standard error is a terminal (quiet in logs and pipes)."""
from __future__ import annotations

import sys


def progress_bar(total: int | None, desc: str, unit: str = "frame", stream=None, **options):
    """A tqdm bar over `total` units; disabled (a no-op with the same methods) off a terminal.
    `options` go to tqdm (e.g. mininterval)."""
    from tqdm import tqdm

    stream = sys.stderr if stream is None else stream
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    return tqdm(total=total, desc=desc, unit=unit, file=stream, disable=not is_tty, dynamic_ncols=True,
                leave=False, **options)
