"""Every exportable format: export, import, same document (as far as the format can carry it);
checked on made-up documents and on the real OTB ground truth in ../shared/data/otb."""
import numpy as np
import pytest

from tracker.annotation import AnnotationDocument, FrameAnnotation, History
from tracker.annotation.edits import replace_all, set_box
from tracker.errors import InputError
from tracker.formats.registry import FORMATS, detect_format, read_annotations, write_annotations
from tracker.result import Candidate, FrameResult, ScoreMap

OTB_SEQUENCES = ["Coke", "Couple", "Crossing", "Deer", "Football1", "Subway"]

# where each format's export goes, relative to a temporary folder
TARGETS = {"otb": "Seq/groundtruth_rect.txt", "lasot": "seq-1", "got10k": "GOT-10k_Val_000001",
           "mot": "MOT-01", "coco-vid": "seq.json", "vot": "seq/groundtruth.txt",
           "pytracking": "keeptrack/default/seq.txt", "research": "seq.jsonl", "project": "seq.ktproj"}
CARRIES_ABSENT = {"lasot", "got10k", "mot", "coco-vid", "vot", "pytracking", "research", "project"}
CARRIES_PROVENANCE = {"research", "project"}


def rich_document(integer: bool = False) -> AnnotationDocument:
    """Manual, tracked and interpolated boxes, absent frames and frames without annotation."""
    rng = np.random.default_rng(7)
    n = 30
    doc = AnnotationDocument(n, source="/data/seq", image_size=(640, 480))
    frames = {}
    for i in range(n):
        x, y = rng.uniform(0, 500, 2)
        w, h = rng.uniform(5, 100, 2)
        box = tuple(float(np.floor(v)) if integer else round(float(v), 3) for v in (x, y, w, h))
        if i in (4, 5, 17):
            frames[i] = FrameAnnotation.manual(None) if i != 17 else FrameAnnotation.tracked(None, "kcf", 0.1)
        elif i in (9, 10, 29):
            continue  # not annotated (also the last frame: the length must survive)
        elif i % 7 == 0:
            frames[i] = FrameAnnotation.manual(box)
        elif i % 5 == 0:
            frames[i] = FrameAnnotation.interpolated(box)
        else:
            frames[i] = FrameAnnotation.tracked(box, "kcf", round(float(rng.uniform(0.3, 1)), 6))
    doc._replace(frames, {3: FrameResult(3, doc[3].box if doc[3] else None, 0.7,
                                         candidates=(Candidate(1.5, 2.5, 0.7, 0), Candidate(9, 9, 0.2, 1)),
                                         selected_id=0,
                                         score_map=ScoreMap(np.arange(6, dtype=np.float32).reshape(2, 3),
                                                            0, 0, 16, 16))})
    return doc


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_then_import_gives_the_same_document(tmp_path, fmt):
    doc = rich_document(integer=fmt == "pytracking")
    if fmt not in CARRIES_ABSENT:  # OTB has no way to say "absent": such frames come back without a box
        doc._replace({i: None for i in np.flatnonzero(doc.absent())})
    written = write_annotations(doc, tmp_path / TARGETS[fmt], fmt)
    assert written.exists()
    assert detect_format(tmp_path / TARGETS[fmt]) == fmt
    back = read_annotations(tmp_path / TARGETS[fmt], fmt)
    assert back.differences(doc, provenance=fmt in CARRIES_PROVENANCE, debug=fmt in CARRIES_PROVENANCE) == []
    if fmt == "pytracking":  # tracked boxes with their presence scores
        assert back[1].presence == doc[1].presence and back[1].provenance.value == "tracked"
    if fmt == "research":
        r, orig = back.debug_record(3), doc.debug_record(3)
        assert r.candidates == orig.candidates and r.selected_id == 0
        np.testing.assert_array_equal(r.score_map.values, orig.score_map.values)
    # a second round trip changes nothing (the exported text is stable)
    write_annotations(back, tmp_path / "again" / TARGETS[fmt], fmt)
    assert read_annotations(tmp_path / "again" / TARGETS[fmt], fmt).differences(back) == []


@pytest.mark.parametrize("sequence", OTB_SEQUENCES)
def test_real_otb_ground_truth_survives_every_format(tmp_path, otb, sequence):
    doc = read_annotations(otb / sequence, "otb")
    assert doc.name == sequence and len(doc) >= 70 and not doc.absent().any()
    raw = np.loadtxt(str(otb / sequence / "groundtruth_rect.txt").replace("\\", "/"),
                     delimiter="," if "," in (otb / sequence / "groundtruth_rect.txt").read_text() else None)
    np.testing.assert_array_equal(doc.boxes(), raw)
    for fmt in FORMATS:
        target = tmp_path / fmt / TARGETS[fmt]
        write_annotations(doc, target, fmt)
        back = read_annotations(target, fmt)
        assert back.differences(doc, provenance=False) == [], fmt


def test_format_rules_of_the_written_files(tmp_path):
    doc = AnnotationDocument.from_arrays(np.array([[1, 2, 3, 4], [np.nan] * 4, [5.5, 6, 7, 8]]),
                                         np.array([False, True, False]))
    write_annotations(doc, tmp_path / "lasot", "lasot")
    assert (tmp_path / "lasot/groundtruth.txt").read_text().splitlines()[0] == "1,2,3,4"
    assert (tmp_path / "lasot/full_occlusion.txt").read_text() == "0,1,0\n"  # one comma-separated line
    write_annotations(doc, tmp_path / "got", "got10k")
    assert (tmp_path / "got/absence.label").read_text() == "0\n1\n0\n"  # one label per line
    write_annotations(doc, tmp_path / "r/seq.txt", "pytracking")
    assert (tmp_path / "r/seq.txt").read_text() == "1\t2\t3\t4\n-1\t-1\t-1\t-1\n5.5\t6\t7\t8\n"  # tab, floats kept
    frac = AnnotationDocument.from_arrays(np.array([[5.9, -0.5, 10.99, 20.5]]))
    write_annotations(frac, tmp_path / "r/frac.txt", "pytracking")
    # sub-pixel boxes kept (to 1/1000 px), not truncated as pytracking's %d does: the files score as eval prints
    assert (tmp_path / "r/frac.txt").read_text() == "5.9\t-0.5\t10.99\t20.5\n"
    write_annotations(doc, tmp_path / "mot", "mot")
    lines = (tmp_path / "mot/gt/gt.txt").read_text().splitlines()
    assert lines[0] == "1,1,1,2,3,4,1,1,1"  # 1-based frame, id, box, consider, class, visibility
    assert lines[1].startswith("2,1,") and lines[1].endswith(",0,1,0")  # absent: not considered, invisible
    assert "seqLength=3" in (tmp_path / "mot/seqinfo.ini").read_text()
    write_annotations(doc, tmp_path / "seq.txt", "vot")
    assert (tmp_path / "seq.txt").read_text() == "1,2,3,4\nnan,nan,nan,nan\n5.5,6,7,8\n"


def test_malformed_import_names_the_line_and_leaves_the_open_document_alone(tmp_path):
    doc = AnnotationDocument(5)
    h = History(doc)
    h.execute(set_box(doc, 0, (1, 1, 4, 4)))
    bad = tmp_path / "Seq" / "groundtruth_rect.txt"
    bad.parent.mkdir()
    bad.write_text("1,2,3,4\n5,6,seven,8\n")
    with pytest.raises(InputError, match=r"groundtruth_rect.txt, line 2"):
        h.execute(replace_all(doc, read_annotations(bad), "import"))
    assert doc.annotated_frames() == [0] and len(h) == 1


def test_unknown_format_and_undetectable_input(tmp_path):
    with pytest.raises(InputError, match="unknown annotation format 'yolo'.*known formats: otb"):
        write_annotations(AnnotationDocument(1), tmp_path / "x", "yolo")
    (tmp_path / "boxes.txt").write_text("1,2,3,4\n")
    with pytest.raises(InputError, match="cannot tell the annotation format.*--from"):
        read_annotations(tmp_path / "boxes.txt")
    with pytest.raises(InputError, match="does not exist"):
        read_annotations(tmp_path / "missing.json")
    with pytest.raises(InputError, match="<sequence>.txt"):
        write_annotations(AnnotationDocument(1), tmp_path / "folder", "pytracking")
