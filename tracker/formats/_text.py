"""Small helpers shared by the text-based format modules written here (numbers, reading lines)."""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import InputError


def fmt_number(v: float) -> str:
    """Shortest faithful text for a coordinate: integers without a point, others to 10 significant digits."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return format(v, ".10g")


def read_lines(path: Path, what: str) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} file {path}: {exc}") from exc


def parse_numbers(text: str, path: Path, lineno: int, what: str) -> list[float]:
    """Numbers separated by commas and/or whitespace; InputError naming the file and line otherwise."""
    parts = [p for p in text.replace(",", " ").replace("\t", " ").split(" ") if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise InputError(f"{path}, line {lineno}: expected numbers in a {what} line, got {text.strip()!r}") from None
