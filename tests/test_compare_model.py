"""The studio comparison's Qt-free model (app/compare.py): reading trackers from result files, research
records and engine results, per-frame IoU and success curves equal to `eval`'s, and the searches for the
next failure and the next identity switch."""
from __future__ import annotations

import numpy as np
import pytest
from test_eval_protocol import SubPixelEngine, gt_rows, make_otb, table_rows

from app.compare import (
    CURRENT_RUN, Comparison, SequenceInfo, TrackerBoxes, boxes_from_records, evaluated_frames, load_trackers,
    result_files, score_tracker,
)
from main import main
from tracker.annotation.document import AnnotationDocument
from tracker.errors import InputError
from tracker.evaluation.runner import evaluate_engines
from tracker.formats.pytracking import write_boxes
from tracker.formats.research import write_research
from tracker.result import Candidate, FrameResult
from tracker.sources import open_source


def info_of(folder) -> SequenceInfo:
    with open_source(folder) as source:
        return SequenceInfo.of(source, len(source))


def shifted(gt, dx):
    b = np.asarray(gt, float).copy()
    b[:, 0] += dx
    return b


@pytest.fixture()
def seq(tmp_path):
    return make_otb(tmp_path, "Seq", gt_rows(20))


def test_result_files_are_found_as_eval_writes_them(tmp_path, seq):
    evaluate_engines({"sub": SubPixelEngine}, [seq], results_root=tmp_path / "res")
    evaluate_engines({"sub": SubPixelEngine}, [seq], results_root=tmp_path / "res", run_id=2)
    root = tmp_path / "res"
    assert [n for n, _ in result_files(root, "Seq")] == ["sub", "sub_002"]
    assert result_files(root / "sub/default", "Seq") == [("sub", root / "sub/default/Seq.txt")]
    assert result_files(root / "sub/default/Seq.txt", "Seq")[0][0] == "sub"
    (tmp_path / "mine.txt").write_text("1\t2\t3\t4\n")
    assert result_files(tmp_path / "mine.txt", "Seq") == [("mine", tmp_path / "mine.txt")]
    with pytest.raises(InputError, match=r"res.sub: no result for sequence Other"):
        result_files(root / "sub", "Other")


def test_a_complete_tracker_scores_what_eval_prints(tmp_path, seq, capsys):
    assert main(["eval", str(seq), "--engines", "csrt", "--results", str(tmp_path / "res")]) == 0
    printed = table_rows(capsys.readouterr().out)[("csrt", "Seq")]
    info = info_of(seq)
    [entry], errors, _ = load_trackers([tmp_path / "res"], info)
    assert errors == [] and entry.name == "csrt"
    assert f"{entry.metrics.auc:.1f}" == printed[1]
    assert f"{entry.metrics.precision:.1f}" == printed[2]
    assert entry.iou[0] == 1.0  # the initialisation frame is the ground truth, as scored
    assert not np.isnan(entry.iou).any()


def test_a_late_start_puts_the_file_where_eval_starts(tmp_path):
    folder = make_otb(tmp_path, "Late", gt_rows(9), files=12, cfg={"startFrame": 4, "endFrame": 12})
    [ev] = evaluate_engines({"sub": SubPixelEngine}, [folder], results_root=tmp_path / "res")
    info = info_of(folder)
    assert evaluated_frames(info) == (3, 12, None)
    [entry], *_ = load_trackers([tmp_path / "res/sub/default/Late.txt"], info)
    assert np.isnan(entry.tracker.boxes[:3]).all() and np.isnan(entry.iou[:3]).all()
    assert np.allclose(entry.tracker.boxes[3:], ev.run.boxes)
    assert entry.metrics.auc == ev.metrics.auc


def test_bad_files_are_named_and_the_others_still_load(tmp_path, seq):
    gt = np.asarray(gt_rows(20))
    write_boxes(tmp_path / "good.txt", gt)
    write_boxes(tmp_path / "short.txt", gt[:12])
    nan = gt.copy()
    nan[5, 2] = np.nan
    (tmp_path / "nan.txt").write_text("".join(",".join(str(v) for v in r) + "\n" for r in nan))
    (tmp_path / "junk.txt").write_text("1,2,3\n")
    entries, errors, _ = load_trackers([tmp_path / n for n in ("short.txt", "good.txt", "nan.txt", "junk.txt",
                                                            "missing.txt")], info_of(seq))
    assert [e.name for e in entries] == ["good"]
    assert len(errors) == 4
    assert "short.txt: 12 boxes for 20 frames" in errors[0]
    assert "nan.txt: box 6 (of 20) is NaN" in errors[1]
    assert "junk.txt, line 1" in errors[2]
    assert "missing.txt: no such file" in errors[3]


def test_engine_results_give_ids_and_keep_the_previous_box_where_none(seq):
    info = info_of(seq)
    gt = np.asarray(gt_rows(20))
    records = {i: FrameResult(i, tuple(gt[i]), selected_id=1 if i < 8 else 4,
                              candidates=(Candidate(0, 0, 1.0, 1),)) for i in range(12)}
    records[5] = FrameResult(5, None, selected_id=None)
    t = boxes_from_records(CURRENT_RUN, records, 20, "run")
    assert np.allclose(t.boxes[5], gt[4]) and np.isnan(t.boxes[12:]).all()
    assert np.isnan(t.ids[5]) and t.ids[7] == 1 and t.ids[8] == 4
    entry = score_tracker(t, info)
    assert entry.metrics is None and "boxes on 12 of the 20 evaluated frames" in entry.why
    assert entry.iou[0] == 1.0 and np.isnan(entry.iou[12:]).all()
    no_ids = boxes_from_records("csrt", {0: FrameResult(0, tuple(gt[0]))}, 20, "run")
    assert no_ids.ids is None


def test_research_records_load_with_their_ids(tmp_path, seq):
    gt = np.asarray(gt_rows(20))
    doc = AnnotationDocument(20, str(seq), "Seq", (64, 48))
    doc._replace({}, {i: FrameResult(i, tuple(shifted(gt, 1)[i]), selected_id=i // 10) for i in range(20)})
    write_research(tmp_path / "run.jsonl", doc)
    [entry], errors, _ = load_trackers([tmp_path / "run.jsonl"], info_of(seq))
    assert errors == [] and entry.name == "run"
    assert entry.metrics is not None and entry.tracker.ids[15] == 1
    short = AnnotationDocument(7, str(seq), "Seq", (64, 48))
    write_research(tmp_path / "short.jsonl", short)
    _, errors, _ = load_trackers([tmp_path / "short.jsonl"], info_of(seq))
    assert "short.jsonl: a research record of 7 frames; Seq has 20" in errors[0]


def test_next_failure_jumps_to_where_iou_drops_below_the_threshold(seq):
    info = info_of(seq)
    gt = np.asarray(gt_rows(20))
    boxes = gt.copy()
    boxes[5:8, 0] += 15  # IoU ~0.2 on 5..7
    boxes[12, 0] += 6  # IoU ~0.5 on 12
    boxes[15:, 0] += 30  # lost from 15 on
    c = Comparison()
    c.reset(info)
    c.put(score_tracker(TrackerBoxes("t", "test", boxes), info))
    assert c.failures().tolist() == [5, 15]
    assert c.next_failure(0) == 5 and c.next_failure(5) == 15 and c.next_failure(16) is None
    assert c.next_failure(15, direction=-1) == 5 and c.next_failure(5, direction=-1) is None
    iou12 = c.entries["t"].iou[12]
    c.set_threshold(iou12 + 0.01)
    assert c.failures().tolist() == [5, 12, 15]
    with pytest.raises(InputError, match="between 0 and 1"):
        c.set_threshold(1.5)


def test_next_id_switch_and_trackers_without_ids(seq):
    info = info_of(seq)
    gt = np.asarray(gt_rows(20))
    ids = {i: (3 if i < 6 else 9 if i < 14 else 3) for i in range(20)}
    records = {i: FrameResult(i, tuple(gt[i]), selected_id=None if i in (10, 11) else ids[i]) for i in range(20)}
    c = Comparison()
    c.reset(info)
    c.put(score_tracker(boxes_from_records(CURRENT_RUN, records, 20, "run"), info))
    c.put(score_tracker(TrackerBoxes("file", "f.txt", gt.copy()), info))
    assert c.selected == CURRENT_RUN
    assert c.id_switches().tolist() == [6, 14]
    assert c.next_id_switch(6) == 14 and c.next_id_switch(14, -1) == 6 and c.next_id_switch(14) is None
    c.select("file")
    with pytest.raises(InputError, match="file has no object ids"):
        c.next_id_switch(0)
    assert c.select_next() == CURRENT_RUN


def test_comparison_colours_legend_and_replacement(seq):
    info = info_of(seq)
    gt = np.asarray(gt_rows(20))
    c = Comparison()
    changes = []
    c.events.changed.connect(lambda: changes.append(1))
    c.reset(info)
    for name, dx in (("near", 1), ("far", 6), ("mid", 3)):
        c.put(score_tracker(TrackerBoxes(name, name, shifted(gt, dx)), info))
    assert len(set(c.colors.values())) == 3
    legend = c.success_legend()
    assert [n for n, _, _ in legend] == ["near", "mid", "far"]
    assert legend[0][1] == f"near [{c.entries['near'].metrics.auc:.1f}]"
    colour = c.colors["far"]
    c.put(score_tracker(TrackerBoxes("far", "again", shifted(gt, 0)), info))
    assert c.colors["far"] == colour and c.names == ["near", "far", "mid"]
    name, col, box, iou, oid = c.at(3)[0]
    assert name == "near" and box == tuple(shifted(gt, 1)[3]) and 0 < iou < 1 and oid is None
    c.remove("near")
    assert c.selected == "far" and len(changes) == 6  # reset, 4 puts, remove


def test_the_current_run_alone_draws_nothing_beside_another_tracker_it_is_drawn(seq):
    info = info_of(seq)
    gt = np.asarray(gt_rows(20))
    c = Comparison()
    c.reset(info)
    c.put(score_tracker(TrackerBoxes(CURRENT_RUN, "run", shifted(gt, 0)), info))
    assert c.overlay(3) == []  # the studio's own box, already drawn
    c.put(score_tracker(TrackerBoxes("near", "near", shifted(gt, 1)), info))
    texts = [d.text for d in c.overlay(3) if hasattr(d, "text")]
    assert texts == [CURRENT_RUN, "near"]


def test_footage_without_ground_truth_is_compared_unscored(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2
    for k in range(6):
        cv2.imwrite(str(folder / f"{k:05d}.png"), np.full((32, 32, 3), 10 * k, np.uint8))
    info = info_of(folder)
    write_boxes(tmp_path / "t.txt", [[1, 2, 10, 10]] * 6)
    [entry], errors, _ = load_trackers([tmp_path / "t.txt"], info)
    assert errors == [] and entry.metrics is None and "has no ground truth" in entry.why
    assert np.isnan(entry.iou).all() and entry.tracker.boxes[5].tolist() == [1, 2, 10, 10]
    c = Comparison()
    c.reset(info)
    c.put(entry)
    assert not c.scored and "no ground truth" in c.note
    assert c.next_failure(0) is None


def test_a_multi_object_file_gives_the_selected_targets_track_by_id_then_label(tmp_path, seq):
    from test_compare_gui import _tracks_document
    from tracker.formats.registry import write_annotations

    gt = np.asarray(gt_rows(20))
    doc = _tracks_document([(4, "car", shifted(gt, 4)), (5, "person", shifted(gt, 5)), (6, "car", shifted(gt, 6))])
    write_annotations(doc, tmp_path / "v.json", "coco-vid")
    info = info_of(seq)
    [entry], errors, choices = load_trackers([tmp_path / "v.json"], info, target=(9, "person"))  # by label
    assert errors == choices == [] and entry.name == "v (track 5)" and np.allclose(entry.tracker.boxes, shifted(gt, 5))
    [entry], *_ = load_trackers([tmp_path / "v.json"], info, target=(6, "object"))  # by id
    assert entry.name == "v (track 6)"
    entries, errors, [choice] = load_trackers([tmp_path / "v.json"], info, target=(1, "car"))  # two cars: ask
    assert entries == errors == [] and [t for t, _ in choice.tracks] == [4, 5, 6]
    [entry], *_ = load_trackers([tmp_path / "v.json"], info, target=(1, "car"), tracks={str(choice.path): 4})
    assert entry.name == "v (track 4)" and np.allclose(entry.tracker.boxes, shifted(gt, 4))
    _, [error], _ = load_trackers([tmp_path / "v.json"], info, tracks={str(tmp_path / "v.json"): 8})
    assert "v.json has no track 8; its tracks are [4, 5, 6]" in error
    _, [], [choice] = load_trackers([tmp_path / "v.json"], info)  # no selected target: asked too
    assert "the studio has no selected target" in choice.question
