"""Many targets through every format: MOT and COCO-VID (and research/project) carry every target with its id
and label; the single-object formats write one sequence per target (label-id) or the selected one."""
import configparser
import json

import numpy as np
import pytest

from tracker.annotation import AnnotationDocument, FrameAnnotation
from tracker.annotation.document import Label, Target, TargetOrigin
from tracker.cli import main as cli_main
from tracker.errors import InputError
from tracker.formats.registry import FORMATS, read_annotations, target_paths, write_annotations

MANY = [n for n, f in FORMATS.items() if f.many_targets]
SINGLE = [n for n, f in FORMATS.items() if not f.many_targets]
SINGLE_TARGETS = {"otb": "out/groundtruth_rect.txt", "lasot": "out", "got10k": "out", "vot": "out/groundtruth.txt",
                  "pytracking": "out/seq.txt"}
MANY_TARGETS = {"mot": "MOT-01", "coco-vid": "seq.json", "research": "seq.jsonl", "project": "seq.ktproj"}
CARRIES_ABSENT = {"lasot", "got10k", "vot", "pytracking"}


def three_targets(n=12, source=None) -> AnnotationDocument:
    """Three targets (ids 2, 5, 9 — not 1, 2, 3 — with two labels), boxes, absent and unannotated frames."""
    labels = (Label("person", "#e69f00"), Label("car", "#0072b2"), Label("unused", "#999999"))
    targets = (Target(2, "person"), Target(5, "person", origin=TargetOrigin(3, 11, 2)), Target(9, "car"))
    doc = AnnotationDocument(n, source=source, name="seq", image_size=(640, 360), labels=labels, targets=targets)
    frames = {}
    for k, t in enumerate(targets):
        for i in range(n):
            if (i + k) % 5 == 4:
                frames[(t.id, i)] = FrameAnnotation.manual(None)  # absent
            elif i == 7 + k:
                continue  # not annotated
            else:
                frames[(t.id, i)] = FrameAnnotation.manual((10.0 + 100 * k + i, 20.0 + k, 30.0 + k, 40.0))
    doc._apply(frames, notify=False)
    doc.select(5)
    return doc


def same_tracks(a, b, absent=True):
    for t in a.targets:
        ta, tb = a.track(t.id), b.track(t.id)
        np.testing.assert_allclose(ta.boxes(), tb.boxes(), atol=1e-6)
        if absent:
            assert ta.absent().tolist() == tb.absent().tolist(), f"target {t.id}"
            assert ta.annotated().tolist() == tb.annotated().tolist(), f"target {t.id}"


@pytest.mark.parametrize("fmt", MANY)
def test_multi_target_formats_round_trip_ids_labels_boxes_absence(tmp_path, fmt):
    doc = three_targets()
    write_annotations(doc, tmp_path / MANY_TARGETS[fmt], fmt)
    back = read_annotations(tmp_path / MANY_TARGETS[fmt], fmt)
    assert [(t.id, t.label) for t in back.targets] == [(2, "person"), (5, "person"), (9, "car")]
    assert [lab.name for lab in back.labels] == ["person", "car", "unused"]
    same_tracks(doc, back)
    if fmt in ("coco-vid", "research", "project"):
        assert back.labels == doc.labels  # colours too
    if fmt in ("research", "project"):
        assert back.differences(doc) == [] and back.target(5).origin == TargetOrigin(3, 11, 2)
        assert back.selected == 5


@pytest.mark.parametrize("fmt", SINGLE)
def test_single_object_formats_write_one_sequence_per_target_named_label_id(tmp_path, fmt):
    doc = three_targets()
    out = tmp_path / SINGLE_TARGETS[fmt]
    write_annotations(doc, out, fmt)
    where = target_paths(doc, out, fmt)
    assert sorted(p.relative_to(tmp_path).parts[1] for p in where.values()) == sorted(
        ["person-2", "person-5", "car-9"] if fmt != "pytracking" else ["person-2.txt", "person-5.txt", "car-9.txt"])
    for tid, path in where.items():
        back = read_annotations(path, fmt)
        np.testing.assert_allclose(back.boxes(), doc.track(tid).boxes()[:len(back)], atol=1e-3)
        if fmt in CARRIES_ABSENT:
            assert back.absent().tolist() == doc.track(tid).absent().tolist()[:len(back)]
    # or just the selected target, at the path itself
    write_annotations(doc, tmp_path / "sel" / out.relative_to(tmp_path), fmt, targets="selected")
    back = read_annotations(tmp_path / "sel" / out.relative_to(tmp_path), fmt)
    np.testing.assert_allclose(back.boxes(), doc.track(5).boxes()[:len(back)], atol=1e-3)


def test_per_target_export_is_all_or_nothing(tmp_path):
    doc = three_targets()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "car-9").write_text("a file where the folder must go")
    with pytest.raises(InputError):
        write_annotations(doc, tmp_path / "out", "lasot")
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == [tmp_path / "out" / "car-9"]


def test_mot_export_writes_a_true_seqinfo(tmp_path):
    seq = tmp_path / "data" / "Walk"
    (seq / "img").mkdir(parents=True)
    for i in range(12):
        (seq / "img" / f"{i + 1:04d}.jpg").write_bytes(b"")
    doc = three_targets(source=str(seq))
    write_annotations(doc, tmp_path / "export" / "MOT-Walk", "mot")
    cfg = configparser.ConfigParser()
    cfg.read(tmp_path / "export" / "MOT-Walk" / "seqinfo.ini")
    s = cfg["Sequence"]
    assert (s["imWidth"], s["imHeight"], s["seqLength"], s["imExt"]) == ("640", "360", "12", ".jpg")
    assert (tmp_path / "export" / "MOT-Walk" / s["imDir"]).resolve() == (seq / "img").resolve()
    assert dict(cfg["Labels"]) == {"1": "person", "2": "car", "3": "unused"}
    lines = (tmp_path / "export" / "MOT-Walk" / "gt" / "gt.txt").read_text().splitlines()
    assert lines[0].split(",")[:2] == ["1", "2"] and lines[2].split(",")[:2] == ["1", "9"]
    assert lines[2].split(",")[7] == "2"  # car: class 2
    # a video source has no image folder: no imDir is claimed
    video = tmp_path / "v.avi"
    video.write_bytes(b"")
    write_annotations(three_targets(source=str(video)), tmp_path / "export" / "MOT-v", "mot")
    text = (tmp_path / "export" / "MOT-v" / "seqinfo.ini").read_text()
    assert "imDir" not in text and "imWidth=640" in text


@pytest.mark.parametrize("line, message", [
    ("1,abc,10,20,30,40,1,1,1", "line 2: the track id must be an integer, got 'abc'"),
    ("1,2.5,10,20,30,40,1,1,1", "line 2: the track id must be an integer, got '2.5'"),
])
def test_mot_ids_that_are_not_integers_name_file_and_line(tmp_path, line, message):
    f = tmp_path / "gt.txt"
    f.write_text("1,1,10,20,30,40,1,1,1\n" + line + "\n")
    with pytest.raises(InputError, match=message) as err:
        read_annotations(f, "mot")
    assert str(f) in str(err.value)


def test_mot_track_that_changes_class_or_repeats_a_frame_is_refused(tmp_path):
    f = tmp_path / "gt.txt"
    f.write_text("1,1,10,20,30,40,1,1,1\n2,1,10,20,30,40,1,3,1\n")
    with pytest.raises(InputError, match="line 2: track 1 has class 3 here but class 1 on line 1"):
        read_annotations(f, "mot")


def test_coco_vid_unknown_category_and_bad_instance_ids_are_refused(tmp_path):
    f = tmp_path / "v.json"
    f.write_text(json.dumps({"categories": [{"id": 1, "name": "person"}], "videos": [{"id": 1, "name": "v"}],
                             "images": [{"id": 1, "video_id": 1, "frame_id": 0}],
                             "annotations": [{"id": 1, "image_id": 1, "instance_id": 3, "category_id": 4,
                                              "bbox": [1, 1, 5, 5]}]}))
    with pytest.raises(InputError, match="track 3 has category 4, which is not in the file's categories"):
        read_annotations(f, "coco-vid")
    data = json.loads(f.read_text())
    data["annotations"][0].update(category_id=1, instance_id="a")
    f.write_text(json.dumps(data))
    with pytest.raises(InputError, match="track id 'a' cannot be a target id"):
        read_annotations(f, "coco-vid")


def test_convert_three_track_mot_to_coco_vid_and_back(tmp_path, capsys):
    doc = three_targets()
    write_annotations(doc, tmp_path / "MOT-01", "mot")
    assert cli_main(["convert", str(tmp_path / "MOT-01"), "--to", "coco-vid", str(tmp_path / "c.json")]) == 0
    assert "3 targets" in capsys.readouterr().out
    assert cli_main(["convert", str(tmp_path / "c.json"), "--to", "mot", str(tmp_path / "MOT-02")]) == 0
    back = read_annotations(tmp_path / "MOT-02", "mot")
    assert [(t.id, t.label) for t in back.targets] == [(2, "person"), (5, "person"), (9, "car")]
    same_tracks(doc, back)
    assert cli_main(["convert", str(tmp_path / "MOT-01"), "--object-id", "9", "--to", "lasot",
                     str(tmp_path / "car")]) == 0
    np.testing.assert_allclose(read_annotations(tmp_path / "car", "lasot").boxes(), doc.track(9).boxes())
