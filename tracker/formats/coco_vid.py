"""COCO-VID JSON (the video flavour of COCO used by ImageNet-VID/TAO-style loaders), one track.

  {"info", "categories": [{"id": 1, "name": "target"}],
   "videos": [{"id": 1, "name"}],
   "images": [{"id", "video_id", "frame_id" (0-based), "file_name", "width", "height"}],   every frame
   "annotations": [{"id", "image_id", "video_id", "instance_id", "category_id", "bbox": [x, y, w, h],
                    "area", "iscrowd": 0, "occluded": false}]}                              visible frames
A frame whose image has no annotation of the track is absent. Frames that carry no annotation at
all get `"annotated": false` on their image entry (an extension; other readers see them as absent).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import InputError
from ..limits import MAX_COORDINATE, MAX_FRAMES, check_file_size
from ..sources.base import GroundTruth

FORMAT = "coco-vid"


def write_ground_truth(path: str | Path, boxes, absent=None, name: str = "sequence",
                       image_size: tuple[int, int] | None = None, category: str = "target",
                       instance_id: int = 1) -> Path:
    path = Path(path)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    absent = np.zeros(len(boxes), dtype=bool) if absent is None else np.asarray(absent, dtype=bool)
    images, annotations = [], []
    for i, box in enumerate(boxes):
        image = {"id": i + 1, "video_id": 1, "frame_id": i, "file_name": f"{name}/{i + 1:08d}.jpg"}
        if image_size is not None:
            image["width"], image["height"] = int(image_size[0]), int(image_size[1])
        visible = not absent[i] and bool(np.all(np.isfinite(box)))
        if not visible and not absent[i]:
            image["annotated"] = False
        images.append(image)
        if visible:
            x, y, w, h = (float(v) for v in box)
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "video_id": 1,
                                "instance_id": instance_id, "category_id": 1, "bbox": [x, y, w, h],
                                "area": w * h, "iscrowd": 0, "occluded": False})
    video = {"id": 1, "name": name}
    if image_size is not None:
        video["width"], video["height"] = int(image_size[0]), int(image_size[1])
    data = {"info": {"description": "exported by KeepTrack Studio"},
            "categories": [{"id": 1, "name": category}], "videos": [video],
            "images": images, "annotations": annotations}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1))
    return path


def read_ground_truth(path: str | Path, video: str | None = None, instance_id: int | None = None) -> GroundTruth:
    """One track of one video. `video` (name) and `instance_id` may be left out when there is only one."""
    path = Path(path)
    check_file_size(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"COCO-VID file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deep") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise InputError(f"{path} is not COCO-VID JSON (needs 'images' and 'annotations' lists)")
    videos = data.get("videos") or [{"id": None, "name": None}]
    if not isinstance(videos, list) or not all(isinstance(v, dict) for v in videos):
        raise InputError(f"{path}: 'videos' must be a list of objects, got {_short(videos)}")
    if video is None:
        if len(videos) > 1:
            raise InputError(f"{path} holds {len(videos)} videos "
                             f"({', '.join(str(v.get('name'))[:40] for v in videos[:10])}); choose one")
        vid = videos[0].get("id")
    else:
        match = [v for v in videos if v.get("name") == video]
        if not match:
            raise InputError(f"{path} has no video named {video!r}")
        vid = match[0].get("id")
    images = [im for im in data["images"] if not isinstance(im, dict) or vid is None or im.get("video_id") == vid]
    frame_of: dict = {}
    for k, im in enumerate(images):
        if not isinstance(im, dict):
            raise InputError(f"{path}: images[{k}] is not an object ({_short(im)})")
        image_id = im.get("id")
        if not _is_id(image_id):
            raise InputError(f"{path}: image {_short(im)} has no usable id")
        if image_id in frame_of:
            raise InputError(f"{path}: two images have id {image_id!r}")
        if "frame_id" in im:
            frame = im["frame_id"]
            if not _is_int(frame) or not 0 <= frame < MAX_FRAMES:
                raise InputError(f"{path}: image id {image_id!r} has frame_id {_short(frame)}; frames are "
                                 f"whole numbers 0..{MAX_FRAMES - 1}")
            frame_of[image_id] = int(frame)
        else:
            frame_of[image_id] = None  # ordered by id below
    unnumbered = sorted((i for i, f in frame_of.items() if f is None), key=lambda i: (str(type(i)), i))
    if unnumbered:
        if len(unnumbered) != len(frame_of):
            raise InputError(f"{path}: some images have a frame_id and some do not")
        if len(unnumbered) > MAX_FRAMES:
            raise InputError(f"{path}: {len(unnumbered)} images, over the limit of {MAX_FRAMES} frames")
        frame_of = {i: k for k, i in enumerate(unnumbered)}
    taken: dict[int, object] = {}
    for image_id, frame in frame_of.items():
        if frame in taken:
            raise InputError(f"{path}: images {taken[frame]!r} and {image_id!r} are both frame {frame}")
        taken[frame] = image_id
    anns = []
    for k, a in enumerate(data["annotations"]):
        if not isinstance(a, dict):
            raise InputError(f"{path}: annotations[{k}] is not an object ({_short(a)})")
        if a.get("image_id") in frame_of if _is_id(a.get("image_id")) else False:
            anns.append(a)
    ids = sorted({a.get("instance_id", a.get("track_id", 1)) for a in anns if _is_id(a.get("instance_id", a.get("track_id", 1)))},
                 key=lambda i: (str(type(i)), i))
    if instance_id is None:
        if len(ids) > 1:
            raise InputError(f"{path} holds {len(ids)} tracks ({ids[:20]}); choose one instance id")
        instance_id = ids[0] if ids else 1
    n = max(frame_of.values(), default=-1) + 1
    boxes = np.full((n, 4), np.nan)
    absent = np.zeros(n, dtype=bool)  # frames with no image entry are not annotated
    for im in images:
        absent[frame_of[im["id"]]] = im.get("annotated") is not False
    done = np.zeros(n, dtype=bool)
    for a in anns:
        if a.get("instance_id", a.get("track_id", 1)) != instance_id:
            continue
        i = frame_of[a["image_id"]]
        where = f"{path}: annotation id {_short(a.get('id'))} (frame {i})"
        bbox = a.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            raise InputError(f"{where}: malformed COCO-VID entry: bbox must be a list of four numbers [x, y, w, h], got {_short(bbox)}")
        x, y, w, h = (float(v) for v in bbox)
        if not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for v in (x, y, w, h)):
            raise InputError(f"{where}: bbox {bbox} has a non-finite or huge value")
        if w <= 0 or h <= 0:
            raise InputError(f"{where}: empty bbox {bbox} (width and height must be positive)")
        if done[i]:
            raise InputError(f"{path}: track {instance_id} has two annotations on frame {i}")
        done[i] = True
        boxes[i] = (x, y, w, h)
        absent[i] = False
    return GroundTruth(boxes, absent, FORMAT, path)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_id(v) -> bool:
    return _is_int(v) or isinstance(v, str)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
