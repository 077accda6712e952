"""LaSOT per-attribute success plots: the toolkit's att files (14 comma-separated flags per sequence, in
its order) are read, and each attribute's plot averages the sequences that carry it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_eval_protocol import SubPixelEngine, gt_rows

from main import main
from tracker.commands.evaluate import _attributes
from tracker.errors import InputError
from tracker.evaluation.attributes import LASOT_ATTRIBUTES, lasot_attributes, read_lasot_attributes
from tracker.evaluation.plots import curves
from tracker.evaluation.runner import evaluate_engines


def make_lasot(root, name, boxes):
    folder = root / name
    (folder / "img").mkdir(parents=True)
    for k in range(len(boxes)):
        cv2.imwrite(str(folder / "img" / f"{k + 1:08d}.jpg"), np.full((48, 64, 3), 40 + 5 * k, np.uint8))
    (folder / "groundtruth.txt").write_text("".join(",".join(f"{v:g}" for v in b) + "\n" for b in boxes))
    zeros = ",".join("0" * len(boxes)) + "\n"
    (folder / "full_occlusion.txt").write_text(zeros)
    (folder / "out_of_view.txt").write_text(zeros)
    return folder


def att_line(*codes):
    return ",".join("1" if code in codes else "0" for code, _ in LASOT_ATTRIBUTES) + "\n"


def test_att_files_are_read_in_the_toolkits_order(tmp_path):
    (tmp_path / "a.txt").write_text("0,1,0,0,0,1,0,0,1,0,0,0,1,0\n")  # LaSOT's airplane-1
    assert read_lasot_attributes(tmp_path / "a.txt") == ("POC", "ROT", "SV", "LR")
    (tmp_path / "short.txt").write_text("0,1,0\n")
    with pytest.raises(InputError, match=r"short\.txt: 3 flags; a LaSOT attribute file has 14"):
        read_lasot_attributes(tmp_path / "short.txt")
    (tmp_path / "bad.txt").write_text("0,1,0,0,0,1,0,0,2,0,0,0,1,0\n")
    with pytest.raises(InputError, match=r"bad\.txt, line 1, item 9: '2' is not a label in 0..1"):
        read_lasot_attributes(tmp_path / "bad.txt")
    with pytest.raises(InputError, match=r"cat-9\.txt: no attribute file for sequence cat-9"):
        lasot_attributes(tmp_path, ["cat-9"])


def test_lasot_per_attribute_plots_average_the_sequences_that_carry_them(tmp_path, capsys):
    seqs = [make_lasot(tmp_path / "data", "cat-1", gt_rows(10)), make_lasot(tmp_path / "data", "cat-2", gt_rows(8))]
    att = tmp_path / "att"
    att.mkdir()
    (att / "cat-1.txt").write_text(att_line("IV", "POC"))
    (att / "cat-2.txt").write_text(att_line("POC"))
    found = _attributes([str(s) for s in seqs], str(att))
    assert found == {"cat-1": ("IV", "POC"), "cat-2": ("POC",)}
    evaluations = evaluate_engines({"sub": SubPixelEngine}, seqs)
    iv = curves(evaluations, "success", {s for s, codes in found.items() if "IV" in codes})
    assert iv["sub"].score == next(e.metrics.auc for e in evaluations if e.sequence == "cat-1")
    assert main(["eval", *map(str, seqs), "--engines", "csrt", "--plots", str(tmp_path / "p"),
                 "--attributes", str(att)]) == 0
    names = {p.name for p in (tmp_path / "p").iterdir()}
    assert {"success_plot_IV.png", "success_plot_POC.pdf"} <= names and "success_plot_SV.png" not in names
    (att / "cat-2.txt").write_text("1,0\n")
    assert main(["eval", *map(str, seqs), "--engines", "csrt", "--plots", str(tmp_path / "q"),
                 "--attributes", str(att)]) == 2
    assert "cat-2.txt: 2 flags" in capsys.readouterr().err and not (tmp_path / "q").exists()
