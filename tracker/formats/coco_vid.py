"""COCO-VID JSON (the video flavour of COCO used by ImageNet-VID/TAO-style loaders): every track of a video.

  {"info", "categories": [{"id": 1, "name": "person", "color": "#rrggbb"}, ...],
   "videos": [{"id": 1, "name", "instances": [{"id", "category_id"}, ...]}],
   "images": [{"id", "video_id", "frame_id" (0-based), "file_name", "width", "height"}],   every frame
   "annotations": [{"id", "image_id", "video_id", "instance_id", "category_id", "bbox": [x, y, w, h],
                    "area", "iscrowd": 0, "occluded": false}]}                              visible frames
A frame whose image has no annotation of a track is absent for it. Extensions (other readers ignore them
and see such frames as absent): an image lists the tracks that carry no annotation at all on it in
`"unannotated": [instance ids]` (`"annotated": false`: none of them does), the video lists every track in
`"instances"` (so a track absent on every frame survives), a category its label colour in "color".
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from dataclasses import dataclass, field

import numpy as np

from ..atomic import atomic_write_text
from ..errors import InputError
from ..limits import MAX_COORDINATE, MAX_FRAMES, check_file_size
from ..sources.base import GroundTruth

FORMAT = "coco-vid"
MAX_TRACKS = 10_000


def write_ground_truth(path: str | Path, boxes, absent=None, name: str = "sequence",
                       image_size: tuple[int, int] | None = None, category: str = "target",
                       instance_id: int = 1) -> Path:
    """Write one track (see `write_tracks`)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return write_tracks(path, [(instance_id, 1, boxes, absent)], [(1, category, None)], len(boxes), name=name,
                        image_size=image_size)


def write_tracks(path: str | Path, tracks, categories, num_frames: int, name: str = "sequence",
                 image_size: tuple[int, int] | None = None) -> Path:
    """Write tracks given as (instance id, category id, boxes, absent) of one video; `categories`:
    (id, name, colour or None)."""
    path = Path(path)
    tracks = sorted(tracks, key=lambda t: t[0])
    prepared = []
    for iid, cid, boxes, absent in tracks:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        absent = np.zeros(len(boxes), dtype=bool) if absent is None else np.asarray(absent, dtype=bool)
        prepared.append((iid, cid, boxes, absent))
    images, annotations = [], []
    for i in range(int(num_frames)):
        image = {"id": i + 1, "video_id": 1, "frame_id": i, "file_name": f"{name}/{i + 1:08d}.jpg"}
        if image_size is not None:
            image["width"], image["height"] = int(image_size[0]), int(image_size[1])
        unannotated = []
        for iid, cid, boxes, absent in prepared:
            box = boxes[i] if i < len(boxes) else np.full(4, np.nan)
            gone = i < len(absent) and absent[i]
            visible = not gone and bool(np.all(np.isfinite(box)))
            if not visible and not gone:
                unannotated.append(iid)
            if visible:
                x, y, w, h = (float(v) for v in box)
                annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "video_id": 1,
                                    "instance_id": iid, "category_id": cid, "bbox": [x, y, w, h],
                                    "area": w * h, "iscrowd": 0, "occluded": False})
        if prepared and len(unannotated) == len(prepared):
            image["annotated"] = False
        elif unannotated:
            image["unannotated"] = unannotated
        images.append(image)
    video = {"id": 1, "name": name, "instances": [{"id": iid, "category_id": cid} for iid, cid, _, _ in prepared]}
    if image_size is not None:
        video["width"], video["height"] = int(image_size[0]), int(image_size[1])
    cats = []
    for cid, cname, colour in categories:
        cats.append({"id": cid, "name": cname, **({"color": colour} if colour else {})})
    data = {"info": {"description": "exported by KeepTrack Studio"},
            "categories": cats, "videos": [video], "images": images, "annotations": annotations}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1))
    return path


@dataclass
class Track:
    instance_id: object
    category_id: object
    boxes: np.ndarray
    absent: np.ndarray


@dataclass
class Video:
    """Every track of one video of a COCO-VID file, and the file's categories (id -> (name, colour))."""

    path: Path
    name: str | None
    num_frames: int
    tracks: list[Track] = field(default_factory=list)
    categories: dict = field(default_factory=dict)
    image_size: tuple[int, int] | None = None


def _load(path: Path) -> dict:
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
    return data


def _instance(a) -> object:
    return a.get("instance_id", a.get("track_id", 1))


def read_video(path: str | Path, video: str | None = None) -> Video:
    """Every track of one video (`video`: its name; may be left out when the file has one)."""
    path = Path(path)
    data = _load(path)
    videos = data.get("videos") or [{"id": None, "name": None}]
    if not isinstance(videos, list) or not all(isinstance(v, dict) for v in videos):
        raise InputError(f"{path}: 'videos' must be a list of objects, got {_short(videos)}")
    if video is None:
        if len(videos) > 1:
            raise InputError(f"{path} holds {len(videos)} videos "
                             f"({', '.join(str(v.get('name'))[:40] for v in videos[:10])}); choose one")
        chosen = videos[0]
    else:
        match = [v for v in videos if v.get("name") == video]
        if not match:
            raise InputError(f"{path} has no video named {video!r}")
        chosen = match[0]
    vid = chosen.get("id")
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
    categories = {}
    for k, c in enumerate(data.get("categories") or []):
        if isinstance(c, dict) and _is_id(c.get("id")):
            colour = c.get("color")
            categories[c["id"]] = (str(c.get("name") or f"category {c['id']}")[:100],
                                   colour if isinstance(colour, str) else None)
    listed = chosen.get("instances") or []
    if not isinstance(listed, list) or not all(isinstance(x, dict) and _is_id(x.get("id")) for x in listed):
        raise InputError(f"{path}: the video's 'instances' must be a list of {{id, category_id}}")
    category_of = {x["id"]: x.get("category_id") for x in listed}
    for a in anns:
        iid = _instance(a)
        if _is_id(iid):
            category_of.setdefault(iid, a.get("category_id"))
    if len(category_of) > MAX_TRACKS:
        raise InputError(f"{path}: {len(category_of)} tracks, over the limit of {MAX_TRACKS}")
    n = max(frame_of.values(), default=-1) + 1
    unannotated: dict[int, set | None] = {}  # frame -> instance ids with no annotation there (None: all)
    present = np.zeros(n, dtype=bool)  # frames with no image entry are not annotated
    for im in images:
        f = frame_of[im["id"]]
        present[f] = True
        if im.get("annotated") is False:
            unannotated[f] = None
        elif isinstance(im.get("unannotated"), list):
            unannotated[f] = {x for x in im["unannotated"] if _is_id(x)}
    order = sorted(category_of, key=lambda i: (str(type(i)), i))
    tracks = {}
    for iid in order:
        absent = present.copy()
        for f, which in unannotated.items():
            if which is None or iid in which:
                absent[f] = False
        tracks[iid] = Track(iid, category_of[iid], np.full((n, 4), np.nan), absent)
    for a in anns:
        iid = _instance(a)
        if iid not in tracks:
            continue
        t = tracks[iid]
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
        if np.isfinite(t.boxes[i]).all():
            raise InputError(f"{path}: track {iid} has two annotations on frame {i}")
        if a.get("category_id") != t.category_id:
            raise InputError(f"{where}: track {iid} has category {_short(a.get('category_id'))} here but "
                             f"{_short(t.category_id)} elsewhere")
        t.boxes[i] = (x, y, w, h)
        t.absent[i] = False
    size = None
    if _is_int(chosen.get("width")) and _is_int(chosen.get("height")) and chosen["width"] > 0 and chosen["height"] > 0:
        size = (chosen["width"], chosen["height"])
    return Video(path, chosen.get("name") if isinstance(chosen.get("name"), str) else None, n,
                 list(tracks.values()), categories, size)


def read_ground_truth(path: str | Path, video: str | None = None, instance_id: int | None = None) -> GroundTruth:
    """One track of one video. `video` (name) and `instance_id` may be left out when there is only one."""
    v = read_video(path, video)
    ids = [t.instance_id for t in v.tracks]
    if instance_id is None:
        if len(ids) > 1:
            raise InputError(f"{v.path} holds {len(ids)} tracks ({ids[:20]}); choose one instance id")
        if not ids:
            return GroundTruth(np.full((v.num_frames, 4), np.nan), np.zeros(v.num_frames, dtype=bool), FORMAT,
                               v.path)
        instance_id = ids[0]
    elif instance_id not in ids:
        raise InputError(f"{v.path} has no track {instance_id!r}; its tracks are {ids[:20]}")
    t = v.tracks[ids.index(instance_id)]
    return GroundTruth(t.boxes, t.absent, FORMAT, v.path)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_id(v) -> bool:
    return _is_int(v) or isinstance(v, str)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
