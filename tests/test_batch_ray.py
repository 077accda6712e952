"""Batch evaluation and tracking: Ray (a local cluster of 2 workers) gives the serial run's boxes and table;
reruns skip complete result files; a failed sequence never loses the others."""
from __future__ import annotations

import numpy as np
import pytest

from tracker.batch import evaluate_batch
from tracker.cli import main as cli_main
from tracker.evaluation.runner import format_table


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The runs here set torch's thread count (tracker.threads); later tests get it back."""
    import torch

    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


ENGINES = ["kcf", "keeptrack-lite"]


def _sequences(otb):
    seqs = sorted(p for p in otb.iterdir() if p.is_dir())[:4]
    assert len(seqs) == 4
    return seqs


@pytest.mark.slow
def test_ray_gives_the_serial_table_and_files_and_reruns_skip(otb, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e .[cluster])")
    seqs = _sequences(otb)
    logs = []
    serial = evaluate_batch(ENGINES, seqs, tmp_path / "serial", max_frames=6, threads=1, log=logs.append)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(__import__("tracker.paths").paths.REPO_ROOT)}})
    try:
        parallel = evaluate_batch(ENGINES, seqs, tmp_path / "ray", max_frames=6, threads=1, use_ray=True,
                                  log=logs.append)
    finally:
        ray.shutdown()
    assert [(e.engine, e.sequence) for e in serial] == [(e.engine, e.sequence) for e in parallel]
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a.run.boxes, b.run.boxes)
    strip = lambda t: [line.rsplit(None, 1)[0] for line in t.splitlines() if line.strip()]  # noqa: E731 - FPS differs
    assert strip(format_table(serial)) == strip(format_table(parallel))
    for name in ENGINES:
        for s in seqs:
            a = (tmp_path / "serial" / name / "default" / f"{s.name}.txt").read_text()
            assert a == (tmp_path / "ray" / name / "default" / f"{s.name}.txt").read_text()
    logs.clear()
    again = evaluate_batch(ENGINES, seqs, tmp_path / "serial", max_frames=6, threads=1, log=logs.append)
    assert any("skipped 8" in line for line in logs)
    # Skipped runs are scored from their files, as published results are (the files hold the scored boxes).
    assert [(e.engine, e.sequence) for e in again] == [(e.engine, e.sequence) for e in serial]
    assert all(e.metrics is not None and e.run.num_frames == 6 for e in again)


def test_batch_track_writes_each_source_skips_complete_ones_and_reports_a_bad_one(otb, tmp_path, capsys):
    seqs = _sequences(otb)[:2]
    listing = tmp_path / "list.txt"
    listing.write_text(f"{seqs[0]}\n{seqs[1]} 10,10,30,30\n{tmp_path / 'missing'}\n")
    out = tmp_path / "out"
    out.mkdir()
    rc = cli_main(["track", "--batch", str(listing), "--out", str(out), "--engine", "kcf", "--frames", "5"])
    err = capsys.readouterr().err
    assert rc == 1 and "missing" in err and "FAILED" in err
    assert len((out / f"{seqs[0].name}.txt").read_text().splitlines()) == 5
    assert (out / f"{seqs[1].name}.txt").read_text().splitlines()[0] == "10\t10\t30\t30"
    rc = cli_main(["track", "--batch", str(listing), "--out", str(out), "--engine", "kcf", "--frames", "5"])
    assert "skipped 2" in capsys.readouterr().err
