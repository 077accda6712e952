"""Qt-free parts of the studio: overlays, box parsing, engine choice, the sample generator."""
from __future__ import annotations

import numpy as np
import pytest

from app import overlays as ov
from app.engines import choose_engine, engine_status
from app.main_window import parse_box
from tracker.errors import InputError
from tracker.paths import RESOURCES
from tracker.registry import EngineInfo
from tracker.result import Assignment, Candidate, Flag, FrameResult, ScoreMap


def _result(i=3, flag=Flag.NORMAL):
    prev = (Candidate(100, 50, 0.8, 1), Candidate(140, 60, 0.4, 2))
    cur = (Candidate(104, 52, 0.9, 1), Candidate(150, 61, 0.3, 2), Candidate(20, 20, 0.1, 7))
    probs = np.full((3, 4), 0.05)
    return FrameResult(
        i, (90.0, 40.0, 30.0, 24.0), presence=0.7, flag=flag, search_area=(50.0, 10.0, 120.0, 90.0),
        score_map=ScoreMap(np.array([[0.0, 0.5], [1.0, -0.2]], np.float32), 60.0, 20.0, 10.0, 8.0),
        candidates=cur, selected_id=1,
        assignment=Assignment(probs, prev, (0, 1, -1)), timings={"backbone": 0.01, "classifier": 0.002},
    )


def test_candidate_overlay_positions_colours_and_ids():
    items = ov.candidates(_result())
    circles = [d for d in items if isinstance(d, ov.Circle)]
    texts = [d for d in items if isinstance(d, ov.Text)]
    assert [(c.x, c.y) for c in circles] == [(104, 52), (150, 61), (20, 20)]
    assert [c.color for c in circles] == [ov.id_color(1), ov.id_color(2), ov.id_color(7)]
    assert [t.text.split(":")[0] for t in texts] == ["1", "2", "7"]
    assert ov.id_color(1) != ov.id_color(2)
    # a text sits beside its circle, to the right
    assert all(t.x > c.x and abs(t.y - c.y) <= c.radius for c, t in zip(circles, texts))


def test_selected_match_lines_box_and_search_area():
    r = _result()
    (ring,) = ov.selected(r)
    assert (ring.x, ring.y) == (104, 52) and ring.color == ov.SELECTED_COLOR
    lines = [d for d in ov.matches(r) if isinstance(d, ov.Line)]
    # candidate 0 matched row 0, candidate 1 matched row 1, candidate 2 unmatched
    assert [(ln.x1, ln.y1, ln.x2, ln.y2) for ln in lines] == [(100, 50, 104, 52), (140, 60, 150, 61)]
    (box,) = ov.tracked_box(r)
    assert (box.x, box.y, box.w, box.h) == (90, 40, 30, 24) and box.color == ov.FLAG_COLORS[Flag.NORMAL]
    (lost,) = ov.tracked_box(_result(flag=Flag.NOT_FOUND))
    assert lost.color == ov.FLAG_COLORS[Flag.NOT_FOUND] and lost.dashed
    (area,) = ov.search_area(r)
    assert (area.x, area.y, area.w, area.h) == (50, 10, 120, 90)


def test_score_map_heatmap_covers_its_image_rect_and_is_scaled():
    (hm,) = ov.score_map(_result())
    assert (hm.x, hm.y, hm.w, hm.h) == (55.0, 16.0, 20.0, 16.0)  # ScoreMap.image_rect()
    assert hm.values.max() == pytest.approx(1.0) and hm.values.min() == 0.0  # negatives shown as 0
    assert hm.values[0, 1] == pytest.approx(0.5)


def test_build_overlays_respects_toggles_and_empty_results():
    r = _result()
    on = ov.build_overlays(r, {}, gt_box=(5, 5, 10, 10))
    assert all(on[o.key] for o in ov.OVERLAYS)
    off = ov.build_overlays(r, {"candidates": False})
    assert off["candidates"] == [] and off["box"]
    assert all(v == [] for v in ov.build_overlays(None, {}).values())
    bare = FrameResult(0, None)
    assert all(v == [] for v in ov.build_overlays(bare, {}).values())
    (gt,) = ov.build_overlays(None, {}, gt_box=np.array([1.0, 2.0, 3.0, 4.0]))["ground_truth"]
    assert (gt.x, gt.y, gt.w, gt.h) == (1, 2, 3, 4) and gt.dashed
    assert ov.build_overlays(None, {}, gt_box=np.full(4, np.nan))["ground_truth"] == []  # unannotated frame
    assert ov.build_overlays(None, {"ground_truth": False}, gt_box=(1, 2, 3, 4))["ground_truth"] == []


def test_parse_box():
    assert parse_box("10, 20, 30, 40") == (10, 20, 30, 40)
    assert parse_box("1.5 2 3 4") == (1.5, 2, 3, 4)
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,4,5"):
        with pytest.raises(InputError, match="four numbers"):
            parse_box(bad)


def test_engine_choice_falls_back_and_says_why(monkeypatch):
    import app.engines as eng

    infos = [EngineInfo("missing", "no_such_module_xyz:make", "absent"),
             EngineInfo("heavy", "tracker.registry:create_engine", "needs weights", needs_weights=True),
             EngineInfo("ok", "tracker.registry:create_engine", "present")]
    monkeypatch.setattr(eng, "available_engines", lambda: infos)
    monkeypatch.setattr(eng, "DEFAULT_ENGINE", "missing")
    name, note = choose_engine(None, {})
    assert name == "ok" and "missing is not available: not built into this copy" in note and "using ok" in note
    assert engine_status(infos[1], {})[0] is False  # no weight slots known for it
    monkeypatch.setitem(eng.ENGINE_WEIGHTS, "heavy", {"base_weights": "super_dimp"})
    assert "super_dimp.pth.tar" in engine_status(infos[1], {})[1]
    assert engine_status(infos[1], {"super_dimp": "/x.pth"})[0] is True
    assert choose_engine("heavy", {"super_dimp": "/x.pth"}) == ("heavy", "")


def test_sample_is_reproducible(tmp_path):
    """The committed sample is exactly what resources/make_sample.py writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sample", RESOURCES / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    boxes = mod.render(tmp_path)
    committed = (RESOURCES / "sample" / "groundtruth_rect.txt").read_text()
    assert (tmp_path / "groundtruth_rect.txt").read_text() == committed
    assert len(boxes) == mod.NUM_FRAMES == len(list((RESOURCES / "sample" / "img").glob("*.jpg")))
    import cv2

    for name in ("0001.jpg", "0060.jpg"):  # pixels, not bytes: another JPEG library may encode differently
        fresh = cv2.imread(str(tmp_path / "img" / name)).astype(int)
        kept = cv2.imread(str(RESOURCES / "sample" / "img" / name)).astype(int)
        assert np.abs(fresh - kept).max() <= 3


def test_weights_are_validated_before_use(tmp_path):
    from app.engines import ENGINE_WEIGHTS, engine_params, validate_weight_file

    assert validate_weight_file("keep_track", str(tmp_path / "absent.pth.tar"))[0].endswith("no such file")
    weights = {"super_dimp_simple": "/w/sds.pth.tar", "keep_track": "/w/kt.pth.tar", "super_dimp": ""}
    assert engine_params("keeptrack", weights) == {"base_weights": "/w/sds.pth.tar",
                                                   "association_weights": "/w/kt.pth.tar"}
    assert engine_params("superdimp", weights) == {} and engine_params("csrt", weights) == {}
    assert set(ENGINE_WEIGHTS) == {"keeptrack", "keeptrack-fast", "superdimp"}
    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(b"this is not a checkpoint")
    try:
        import tracker.checkpoints  # noqa: F401
    except ImportError:
        pytest.skip("this copy has no tracker.checkpoints: only existence is checked")
    problems = validate_weight_file("keep_track", str(junk))
    assert problems and "junk.pth.tar" in problems[0]


def test_weights_dialog_refuses_a_bad_file_and_unlocks_engines(qtbot, tmp_path, monkeypatch):
    """The dialog lists the problems and keeps the file out; with fitting files the engines become usable."""
    import app.engines as eng
    from app.dialogs import WeightsDialog
    from tracker.registry import engine_info

    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(b"not a checkpoint")
    dlg = WeightsDialog({})
    qtbot.addWidget(dlg)
    dlg.edits["keep_track"].setText(str(junk))
    assert dlg.save() is False and "junk.pth.tar" in dlg.problems.text()
    # with files the checker accepts (stubbed: no real checkpoints here), keeptrack becomes usable
    monkeypatch.setattr(eng, "validate_weight_file", lambda kind, path: [])
    monkeypatch.setattr("app.dialogs.validate_weight_file", lambda kind, path: [])
    dlg.edits["super_dimp_simple"].setText(str(junk))
    assert dlg.save() is True
    assert dlg.weights["keep_track"] == str(junk)
    info = engine_info("keeptrack")
    if eng.module_present(info.target):
        assert eng.engine_status(info, dlg.weights) == (True, "")
    assert eng.engine_status(engine_info("superdimp"), dlg.weights)[0] is False


def test_labels_are_placed_off_targets_circles_and_each_other():
    target = (50.0, 50.0, 40.0, 30.0)
    r = FrameResult(3, target, 0.9, candidates=(Candidate(70, 65, 0.9, 1), Candidate(75, 68, 0.5, 2),
                                                Candidate(88, 60, 0.4, 3)), selected_id=1)
    items = ov.candidates(r) + ov.tracked_box(r)
    texts = [d for d in items if isinstance(d, ov.Text)]
    clear = [(d.x, d.y, d.w, d.h) for d in items if isinstance(d, ov.Rect) and d.keep_clear]
    clear += [(c.x - c.radius, c.y - c.radius, 2 * c.radius, 2 * c.radius) for c in items if isinstance(c, ov.Circle)]
    sizes = [(20.0, 8.0)] * len(texts)
    placed = ov.place_labels(texts, sizes, clear, bounds=(0, 0, 200, 150))
    rects = [(x, y, w, h) for (x, y), (w, h) in zip(placed, sizes)]
    for k, a in enumerate(rects):
        assert not any(ov.rects_intersect(a, c) for c in clear)
        assert not any(ov.rects_intersect(a, b) for b in rects[k + 1:])
        assert 0 <= a[0] and a[0] + a[2] <= 200 and 0 <= a[1] and a[1] + a[3] <= 150
    # the selected target's label is placed first, nearest its circle; its colours contrast
    near = [abs(x + 10 - t.near[0] - t.near[2] / 2) + abs(y + 4 - t.near[1] - t.near[3] / 2)
            for (x, y), t in zip(placed, texts)]
    assert texts[0].priority == 0 and near[0] <= 40
    assert ov.contrast_ratio(texts[0].color, texts[0].fill) >= 4.5
    # a view with no free place: the label goes where it covers least, never nowhere
    (only,) = ov.place_labels([texts[0]], [(500.0, 500.0)], clear, bounds=(0, 0, 200, 150))
    assert all(np.isfinite(only))
