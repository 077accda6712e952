"""Evaluation a researcher can trust: the printed table is what the written files score, OTB start/end
frames from cfg.json, GOT-10k/LaSOT absent frames, pytracking's convention, published results, plots."""
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from main import main
from tracker.engine import Engine
from tracker.errors import InputError
from tracker.evaluation.metrics import evaluate_sequence
from tracker.evaluation.plots import curves, legend_entries, write_plots
from tracker.evaluation.runner import evaluate_engines, evaluation_range, format_table
from tracker.formats.pytracking import read_published_result
from tracker.progress import progress_bar
from tracker.result import FrameResult
from tracker.sources import open_source


def make_otb(root: Path, name: str, boxes, first_file: int = 1, files: int | None = None, cfg: dict | None = None,
             attrs: str | None = None) -> Path:
    """An OTB-layout sequence folder: img/NNNN.jpg from `first_file`, groundtruth_rect.txt, optional cfg.json."""
    folder = root / name
    (folder / "img").mkdir(parents=True)
    boxes = np.asarray(boxes, float)
    files = len(boxes) if files is None else files
    for k in range(files):
        image = np.full((48, 64, 3), 40 + 3 * k, np.uint8)
        cv2.imwrite(str(folder / "img" / f"{first_file + k:04d}.jpg"), image)
    (folder / "groundtruth_rect.txt").write_text("".join(",".join(f"{v:g}" for v in b) + "\n" for b in boxes))
    if cfg is not None:
        (folder / "cfg.json").write_text(json.dumps(cfg))
    if attrs is not None:
        (folder / "attrs.txt").write_text(attrs)
    return folder


class SubPixelEngine(Engine):
    """Moves the box by a sub-pixel step per frame, so truncating it would change the score."""

    def __init__(self, step=(0.37, 0.21), grow=0.13):
        super().__init__("cpu")
        self.step, self.grow = step, grow

    def initialize(self, frame, box, frame_index=0):
        self._frame_index = frame_index
        self.box = np.asarray(box, float)
        return FrameResult(frame_index, tuple(self.box))

    def track(self, frame, frame_index=None):
        i = self._next_index(frame_index)
        self.box = self.box + [self.step[0], self.step[1], self.grow, -self.grow]
        return FrameResult(i, tuple(float(v) for v in self.box), presence=0.8)


def gt_rows(n, x0=10.0):
    return [[x0 + 0.5 * k, 8 + 0.2 * k, 20 + 0.1 * k, 16] for k in range(n)]


def table_rows(text: str) -> dict:
    return {(ln.split()[0], ln.split()[1]): ln.split()[2:] for ln in text.splitlines()
            if ln.strip() and not ln.startswith(("#", "-", "engine "))}


def test_printed_table_is_what_the_written_files_score(tmp_path):
    seqs = [make_otb(tmp_path / "data", "A", gt_rows(15)), make_otb(tmp_path / "data", "B", gt_rows(11, 5.0))]
    engines = {"sub": SubPixelEngine, "slow": lambda: SubPixelEngine((0.9, 0.05), 0.4)}
    evaluations = evaluate_engines(engines, seqs, results_root=tmp_path / "res")
    printed = format_table(evaluations, ("auc", "op50", "precision", "norm_precision"))
    # read the files as pytracking's loader does (numpy, tab delimiter) and score them again
    rescored = []
    for ev in evaluations:
        path = tmp_path / "res" / ev.engine / "default" / f"{ev.sequence}.txt"
        boxes = np.loadtxt(path, delimiter="\t")
        assert not np.allclose(boxes[1:], np.trunc(boxes[1:]))  # real sub-pixel boxes were written
        with open_source(tmp_path / "data" / ev.sequence) as source:
            m = evaluate_sequence(boxes, source.ground_truth.boxes)
        assert m.success_curve.tolist() == ev.metrics.success_curve.tolist()
        assert m.norm_precision_curve.tolist() == ev.metrics.norm_precision_curve.tolist()
        rescored.append(type(ev)(ev.run, m))
    assert format_table(rescored, ("auc", "op50", "precision", "norm_precision")) == printed
    # the engine's unrounded floats would not all score the same: the files are what counts
    assert "mean" in printed


def test_eval_command_table_equals_the_table_of_its_own_result_files(otb, tmp_path, capsys):
    args = [str(otb / "Crossing"), str(otb / "Football1"), "--max-frames", "25"]
    assert main(["eval", *args, "--engines", "csrt,mil", "--results", str(tmp_path / "r")]) == 0
    printed = table_rows(capsys.readouterr().out)
    assert main(["eval", *args, "--results-from", f"csrt={tmp_path / 'r/csrt/default'}",
                 "--results-from", f"mil={tmp_path / 'r/mil/default'}"]) == 0
    again = table_rows(capsys.readouterr().out)
    assert set(again) == set(printed)
    for key in printed:  # frames, AUC, Prec, NPrec identical; FPS comes from the %f time files
        assert again[key][:4] == printed[key][:4]


def test_start_frame_after_one_is_evaluated_from_there(tmp_path, capsys):
    # 12 images 0001..0012; annotated (and evaluated) from 0004 to 0012, like OTB's David from 300
    gt = gt_rows(9)
    folder = make_otb(tmp_path, "Late", gt, files=12, cfg={"startFrame": 4, "endFrame": 12}, attrs="SV, OCC")
    with open_source(folder) as source:
        assert evaluation_range(source) == (3, 12)
        assert source.attributes == ("SV", "OCC")
        assert np.isnan(source.ground_truth.boxes[:3]).all()
    [ev] = evaluate_engines({"sub": SubPixelEngine}, [folder], results_root=tmp_path / "res")
    assert ev.run.start == 3 and ev.run.num_frames == 9 and ev.metrics.num_frames == 9
    lines = (tmp_path / "res/sub/default/Late.txt").read_text().splitlines()
    assert len(lines) == 9 and lines[0].split("\t") == [f"{v:g}" for v in gt[0]]
    # and from the command line, with a real engine
    assert main(["eval", str(folder), "--engines", "csrt"]) == 0
    assert table_rows(capsys.readouterr().out)[("csrt", "Late")][0] == "9"


def test_tiger1_starts_five_frames_in_as_pytracking_has_it(tmp_path):
    gt = gt_rows(12)
    folder = make_otb(tmp_path, "Tiger1", gt, cfg={"startFrame": 1, "endFrame": 12})
    with open_source(folder) as source:
        assert evaluation_range(source) == (5, 12)
    [ev] = evaluate_engines({"sub": SubPixelEngine}, [folder], results_root=tmp_path / "res")
    assert ev.run.start == 5 and ev.metrics.num_frames == 7
    lines = (tmp_path / "res/sub/default/Tiger1.txt").read_text().splitlines()
    assert len(lines) == 7 and lines[0].split("\t") == [f"{v:g}" for v in gt[5]]
    other = make_otb(tmp_path, "Tiger2", gt)
    with open_source(other) as source:
        assert evaluation_range(source) == (0, 12)


def test_end_frame_limits_the_evaluated_frames(tmp_path):
    folder = make_otb(tmp_path, "Short", gt_rows(6), files=10, cfg={"startFrame": 1, "endFrame": 6})
    with open_source(folder) as source:
        assert evaluation_range(source) == (0, 6)
        assert evaluation_range(source, max_frames=4) == (0, 4)


@pytest.mark.parametrize("cfg, rows, files, message", [
    ({"startFrame": 3, "endFrame": 40}, 5, 8, "endFrame 40 matches no frame file"),
    ({"startFrame": 20}, 5, 8, "startFrame 20 matches no frame file"),
    ({"startFrame": 5, "endFrame": 2}, 5, 8, "endFrame 2 is before startFrame 5"),
    ({"startFrame": 1, "endFrame": 4}, 6, 8, "6 annotation lines, but .*cfg.json gives 4 frames"),
    ({"endFrame": 4}, 4, 8, "cannot read startFrame"),
])
def test_cfg_json_that_disagrees_with_the_frames_is_named(tmp_path, cfg, rows, files, message):
    folder = make_otb(tmp_path, "Bad", gt_rows(rows), files=files, cfg=cfg)
    with pytest.raises(InputError, match=message) as info:
        open_source(folder)
    assert "Bad" in str(info.value)


def test_results_from_errors_name_the_file(tmp_path, capsys):
    folder = make_otb(tmp_path / "data", "A", gt_rows(6))
    published = tmp_path / "pub"
    published.mkdir()
    assert main(["eval", str(folder), "--results-from", f"pub={published}"]) == 2
    assert f"{published / 'A.txt'}: no result for sequence A" in capsys.readouterr().err
    (published / "A.txt").write_text("10\t8\t20\t16\n" * 4)
    with pytest.raises(InputError, match=r"A\.txt: 4 boxes for 6 frames"):
        read_published_result(published, "A", 6)
    (published / "A.txt").write_text("10\t8\t20\t16\n" * 3 + "NaN\tNaN\tNaN\tNaN\n" + "10\t8\t20\t16\n" * 3)
    with pytest.raises(InputError, match=r"A\.txt: box 4 \(of 6\) is NaN"):
        read_published_result(published, "A", 6)
    assert main(["eval", str(folder), "--results-from", "nodir"]) == 2
    assert "NAME=DIR" in capsys.readouterr().err


def test_a_bad_published_result_fails_before_any_tracking(tmp_path, capsys):
    folder = make_otb(tmp_path / "data", "A", gt_rows(6))
    published = tmp_path / "pub"
    published.mkdir()
    (published / "A.txt").write_text("10\t8\t20\t16\n" * 4)
    assert main(["eval", str(folder), "--engines", "csrt", "--results", str(tmp_path / "res"),
                 "--results-from", f"pub={published}"]) == 2
    err = capsys.readouterr().err
    assert "A.txt: 4 boxes for 6 frames" in err and "csrt on A" not in err
    assert not (tmp_path / "res").exists()


def test_published_results_rank_beside_engines(tmp_path, capsys):
    gt = gt_rows(8)
    folder = make_otb(tmp_path / "data", "A", gt)
    perfect = tmp_path / "perfect"
    perfect.mkdir()
    (perfect / "A.txt").write_text("".join("\t".join(f"{v:g}" for v in b) + "\n" for b in gt + gt[:2]))  # longer: cut
    assert main(["eval", str(folder), "--engines", "csrt", "--results-from", f"oracle={perfect}"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows[("oracle", "A")][:2] == ["8", "95.2"]  # the protocol's best AUC, 100 * 20 / 21
    assert rows[("oracle", "A")][-1] == "nan"  # no _time.txt: speed unknown


def test_got10k_leaves_first_and_absent_frames_out(tmp_path):
    folder = tmp_path / "GOT-10k_Val_000001"
    folder.mkdir()
    gt = gt_rows(6)
    for k in range(6):
        cv2.imwrite(str(folder / f"{k + 1:08d}.jpg"), np.full((48, 64, 3), 50, np.uint8))
    (folder / "groundtruth.txt").write_text("".join(",".join(f"{v:g}" for v in b) + "\n" for b in gt))
    (folder / "absence.label").write_text("0\n0\n1\n1\n0\n0\n")
    [ev] = evaluate_engines({"sub": SubPixelEngine}, [folder])
    assert ev.metrics.num_frames == 3  # frames 1, 4, 5: not the initial frame, not the two absent ones
    assert ev.run.num_frames == 6


def test_lasot_absent_frames_fail_under_both_conventions():
    gt = np.array(gt_rows(4))
    absent = [False, True, False, False]
    bad = gt.copy()
    bad[2] = [0, 8, 20, 16]  # x = 0: invalid but not absent
    for convention, nprec in (("project", 50.0), ("pytracking", 75.0)):
        m = evaluate_sequence(gt.copy(), bad, absent, convention=convention)
        assert m.norm_precision == nprec  # the absent frame fails in both; the x = 0 one only in "project"
        assert m.precision == 50.0 and m.success_curve[0] == 0.5


def test_table_header_says_the_convention(tmp_path, capsys):
    folder = make_otb(tmp_path, "A", gt_rows(5))
    assert main(["eval", str(folder), "--engines", "csrt", "--convention", "pytracking"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("# NPrec convention: pytracking")


def test_plots_and_per_sequence_table(tmp_path):
    seqs = [make_otb(tmp_path / "data", "A", gt_rows(12), attrs="SV, OCC"),
            make_otb(tmp_path / "data", "B", gt_rows(10), attrs="OCC")]
    evaluations = evaluate_engines({"good": lambda: SubPixelEngine((0.4, 0.2), 0.1),
                                    "poor": lambda: SubPixelEngine((2.5, 1.0), 0.8)}, seqs)
    labels = [label for label, _ in legend_entries(curves(evaluations, "success"))]
    assert labels[0].startswith("good [") and labels[1].startswith("poor [")  # best AUC first
    good_auc = np.mean([e.metrics.auc for e in evaluations if e.engine == "good"])
    assert labels[0] == f"good [{good_auc:.1f}]"
    written = write_plots(tmp_path / "plots", evaluations, {"A": ("SV", "OCC"), "B": ("OCC",)})
    names = sorted(p.name for p in written)
    for kind in ("success", "precision", "norm_precision", "success_plot_SV", "success_plot_OCC"):
        stem = kind if kind.startswith("success_plot_") else f"{kind}_plot"
        assert f"{stem}.png" in names and f"{stem}.pdf" in names
    assert (tmp_path / "plots/success_plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "plots/success_plot.pdf").read_bytes()[:5] == b"%PDF-"
    table = (tmp_path / "plots/per_sequence.txt").read_text()
    assert table_rows(table)[("good", "A")][0] == "12"
    # the SV plot averages only sequence A
    sv = curves(evaluations, "success", {"A"})
    assert sv["good"].score == pytest.approx(next(e.metrics.auc for e in evaluations if e.engine == "good"
                                                  and e.sequence == "A"))


def test_eval_plots_from_the_command_line(otb, tmp_path):
    assert main(["eval", str(otb / "Crossing"), str(otb / "Couple"), "--engines", "csrt", "--max-frames", "8",
                 "--plots", str(tmp_path / "p")]) == 0
    names = {p.name for p in (tmp_path / "p").iterdir()}
    assert {"success_plot.png", "precision_plot.pdf", "norm_precision_plot.png", "per_sequence.txt"} <= names
    assert "success_plot_SV.png" in names  # OTB attributes from attrs.txt / cfg.json


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_rate_on_a_terminal_and_is_quiet_otherwise():
    quiet, loud = io.StringIO(), Terminal()
    for stream in (quiet, loud):
        with progress_bar(50, "eval", stream=stream, mininterval=0, miniters=1) as bar:
            for _ in range(50):
                bar.update(1)
    assert quiet.getvalue() == ""
    assert "frame/s" in loud.getvalue() and "50/50" in loud.getvalue()


def test_sre_and_tre_start_where_the_sequence_is_evaluated(tmp_path):
    from tracker.evaluation.protocols import evaluate_protocol_source

    gt = gt_rows(9)
    folder = make_otb(tmp_path, "Late", gt, files=12, cfg={"startFrame": 4, "endFrame": 12})
    with open_source(folder) as source:
        sre = evaluate_protocol_source("sub", SubPixelEngine, source, "sre")
        tre = evaluate_protocol_source("sub", SubPixelEngine, source, "tre")
    assert len(sre.runs) == 12
    assert all(r.run.start == 3 and r.run.num_frames == 9 for r in sre.runs)
    assert all(r.metrics.num_frames == 9 for r in sre.runs)
    assert min(r.start.frame for r in tre.runs) == 3 and max(r.start.frame for r in tre.runs) < 12
    for r in tre.runs:  # each TRE run starts from the ground truth of its own frame
        assert r.start.box == tuple(gt[r.start.frame - 3])
        assert r.run.num_frames == 12 - r.start.frame
