"""Hostile and broken files (tests/fuzz_corpus.py): every reader gives a clear error naming the file, in bounded time
and memory, without a signal; the command line exits with status 2; nothing is written outside the chosen output;
multi-file writes are all or nothing; a save never writes what its own reader refuses.

The readers run in subprocesses under an address-space limit (RLIMIT_AS) and a timeout, many cases per process."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fuzz_corpus

REPO = Path(__file__).resolve().parent.parent
ADDRESS_SPACE = 3 << 30  # torch alone maps ~1 GB of address space
CASE_SECONDS = 10.0  # per case, on a busy 2-core machine; the real figures are well under a second


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _run(args, timeout=120, cwd=None, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limited, cwd=cwd or REPO, env=env, **kwargs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    cases = fuzz_corpus.all_cases(folder / "files")
    listing = folder / "cases.json"
    listing.write_text(json.dumps(cases))
    proc = _run([REPO / "tests" / "fuzz_runner.py", listing], timeout=240)
    results, started = {}, []
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        if "start" in record:
            started.append(record["start"])
        else:
            results[record["id"]] = record
    return cases, results, started, proc


def test_corpus_is_large_and_every_case_finished(corpus):
    cases, results, started, proc = corpus
    assert len(cases) >= 100
    assert len({c[0] for c in cases}) == len(cases)
    unfinished = [s for s in started if s not in results]
    assert proc.returncode == 0, (f"the runner died (status {proc.returncode}) in case {unfinished}:\n"
                                  f"{proc.stderr[-3000:]}")
    assert not unfinished and len(results) == len(cases)


@pytest.mark.parametrize("reader", ["checkpoint", "annotations", "recovery", "image", "video"])
def test_every_hostile_file_gets_a_clear_error(corpus, reader):
    cases, results, _, _ = corpus
    failures = []
    mine = [c for c in cases if c[1] == reader]
    assert mine
    for case_id, _, path, _, expect in mine:
        r = results.get(case_id)
        if r is None:
            failures.append(f"{case_id}: no result")
            continue
        if r["seconds"] > CASE_SECONDS:
            failures.append(f"{case_id}: took {r['seconds']} s")
        if r["max_rss_mb"] > 2000:
            failures.append(f"{case_id}: memory grew to {r['max_rss_mb']} MB")
        if expect == "error":
            if r["outcome"] != "error":
                failures.append(f"{case_id}: {r['outcome']} {r.get('type', '')}: {r['message'][:300]}")
            elif Path(path).name not in r["message"]:
                failures.append(f"{case_id}: the message does not name {Path(path).name}: {r['message'][:300]}")
        elif expect == "not-fit":
            if r["outcome"] != "report" or r["fits"] or "int64" not in r["message"]:
                failures.append(f"{case_id}: expected a report refusing the int64 weights, got {r}")
        elif expect.startswith("recovered:"):
            if r["outcome"] != "recovered" or r["count"] != int(expect.split(":")[1]):
                failures.append(f"{case_id}: expected {expect}, got {r}")
    assert not failures, "\n".join(failures)


# ---- the command line: exit status 2, the file named, no traceback, nothing written ----------------------------------
def _research_file(path: Path, name, frames: int = 3, box=(1, 2, 3, 4)) -> Path:
    header = {"format": "keeptrack-research", "version": 1, "name": name, "source": None, "num_frames": frames,
              "image_size": None}
    rec = {"frame": 0, "annotation": {"box": list(box), "provenance": "manual", "engine": None, "presence": None},
           "result": None}
    path.write_text(json.dumps(header) + "\n" + json.dumps(rec) + "\n")
    return path


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_batch_convert_keeps_every_output_inside_out(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    names = ["../../escaped", "/tmp/absolute_escape", "a\nseqLength=1\n[x]", "..", "", "same", "same"]
    inputs = [_research_file(work / f"in{k}.jsonl", name) for k, name in enumerate(names)]
    before = _tree(tmp_path)
    out = work / "OUT"
    proc = _run(["main.py", "convert", *inputs, "--to", "mot", out])
    assert proc.returncode == 0, proc.stderr
    written = _tree(tmp_path) - before
    assert written and all(w.startswith("work/OUT") for w in written), written
    assert not Path("/tmp/absolute_escape").exists()
    folders = sorted(p.name for p in out.iterdir())
    assert len(folders) == len(names)  # two inputs named "same" do not overwrite each other
    for folder in out.iterdir():
        lines = (folder / "seqinfo.ini").read_text().splitlines()
        sequence = lines[:lines.index("")] if "" in lines else lines
        keys = [line.split("=")[0] for line in sequence[1:]]
        assert lines[0] == "[Sequence]" and keys == ["name", "frameRate", "seqLength"], lines
        assert lines[len(sequence):] == ["", "[Labels]", "1 = object"], lines


@pytest.mark.parametrize("content, fmt, extra", [
    ("30000000,1,1,1,5,5,1,1,1\n", "mot", []),
    ("1,1,1,1,5,5,1,1,1\n", "mot", ["--frames", str(10**12)]),
    ('{"images": [{"id": 1, "frame_id": 0}], "annotations": [{"image_id": 1, "bbox": "1234"}]}', "coco-vid", []),
    ('{"images": [{"id": 1, "frame_id": -1}, {"id": 2, "frame_id": 1}], "annotations": []}', "coco-vid", []),
    ("research-3-number-box", "research", []),
    ('{"format": "keeptrack-studio-project", "version": 1, "num_frames": 1000000000000, "frames": []}', "project",
     []),
    ("1,2,3\n", "otb", []),
])
def test_convert_refuses_bad_input_with_status_2(tmp_path, content, fmt, extra):
    suffix = {"mot": ".txt", "coco-vid": ".json", "research": ".jsonl", "project": ".ktproj", "otb": ".txt"}[fmt]
    src = tmp_path / ("gt.txt" if fmt == "mot" else f"input{suffix}")
    if content == "research-3-number-box":
        _research_file(src, "s", box=(1, 2, 3))
        src.write_text(src.read_text().replace("[1, 2, 3]", "[1, 2, 3]"))
    else:
        src.write_text(content)
    out = tmp_path / "out"
    proc = _run(["main.py", "convert", src, "--from", fmt, *extra, "--to", "lasot", out], timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert src.name in proc.stderr or "--frames" in proc.stderr
    assert not out.exists()


def test_check_weights_survives_every_hostile_checkpoint(tmp_path):
    cases = fuzz_corpus.checkpoint_cases(tmp_path / "ckpt")
    files = [c[2] for c in cases]
    proc = _run(["main.py", "check-weights", *files], timeout=180)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])  # 2: some file refused; no signal
    assert "Traceback" not in proc.stderr
    for f in files:
        assert Path(f).name in proc.stdout


@pytest.fixture(scope="module")
def small_sequence(tmp_path_factory):
    import cv2

    folder = tmp_path_factory.mktemp("seq")
    for k in range(2):
        cv2.imwrite(str(folder / f"{k + 1:08d}.png"), np.full((48, 64, 3), 40 * k, np.uint8))
    return folder


@pytest.mark.parametrize("box, message", [
    ("0,0,1e15,1e15", "far larger than the 64x48 image"),
    ("1e300,0,5,5", "outside the 64x48 image"),
    ("nan,0,5,5", "non-finite"),
    ("0,0,-5,5", "empty"),
    ("0,0,5", "four numbers"),
])
def test_track_checks_the_box_against_the_frame(small_sequence, box, message):
    proc = _run(["main.py", "track", small_sequence, "--box", box], timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_track_refuses_hostile_base_weights(small_sequence, tmp_path):
    cases = {c[0]: c[2] for c in fuzz_corpus.checkpoint_cases(tmp_path / "ckpt")}
    for name in ("ckpt-numpy-object-scalar-pointer", "ckpt-stride0-expand-1e18", "ckpt-memo-bomb"):
        proc = _run(["main.py", "track", small_sequence, "--engine", "keeptrack", "--box", "5,5,20,20",
                     "--base-weights", cases[name], "--association-weights", cases[name]], timeout=90)
        assert proc.returncode == 2, (name, proc.returncode, proc.stderr[-2000:])
        assert Path(cases[name]).name in proc.stderr and "Traceback" not in proc.stderr


# ---- all-or-nothing writes and saves that must read back ---------------------------------------------------------------
def _doc(boxes):
    from tracker.annotation.document import AnnotationDocument

    return AnnotationDocument.from_arrays(np.array(boxes, dtype=float), name="seq")


@pytest.mark.parametrize("fmt", ["lasot", "got10k", "mot"])
def test_multi_file_export_is_all_or_nothing(tmp_path, monkeypatch, fmt):
    from tracker.errors import InputError
    from tracker.formats.registry import write_annotations

    target = tmp_path / "seq"
    write_annotations(_doc([[1, 2, 3, 4], [5, 6, 7, 8]]), target, fmt)
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    real_fsync, real_replace = os.fsync, os.replace
    for failing in ("fsync", "replace"):
        for n in range(1, 4):
            calls = {"n": 0}

            def fail_nth(*args, _real={"fsync": real_fsync, "replace": real_replace}[failing], _n=n):
                calls["n"] += 1
                if calls["n"] == _n:
                    raise OSError(28, "No space left on device")
                return _real(*args)

            monkeypatch.setattr(os, failing, fail_nth)
            try:
                write_annotations(_doc([[9, 9, 9, 9]] * 3), target, fmt)
                failed = False
            except InputError:
                failed = True
            monkeypatch.setattr(os, failing, {"fsync": real_fsync, "replace": real_replace}[failing])
            now = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
            if failed:
                assert now == before, f"{fmt}: a failed {failing} #{n} changed the folder"
            else:  # the failure hit nothing that matters (e.g. the folder fsync): the new files are all there
                write_annotations(_doc([[1, 2, 3, 4], [5, 6, 7, 8]]), target, fmt)
    leftovers = [p.name for p in target.rglob(".*")]
    assert not leftovers


def test_project_save_never_writes_what_it_cannot_reopen(tmp_path):
    from tracker.annotation.project import load_project, save_project
    from tracker.errors import InputError

    path = tmp_path / "p.ktproj"
    save_project(path, _doc([[1, 2, 3, 4]]))
    good = path.read_bytes()
    with pytest.raises(InputError, match="would not open again"):
        save_project(path, _doc([[1, 2, 3, 4]]), settings={"retrack": {"no_such_option": 1}})
    with pytest.raises(InputError, match="JSON cannot carry"):
        save_project(path, _doc([[1, 2, 3, 4]]), settings={"x": float("nan")})
    assert path.read_bytes() == good
    assert load_project(path).document.boxes()[0].tolist() == [1, 2, 3, 4]


def test_bad_research_import_leaves_the_project_intact(tmp_path):
    """The reported loss: a 3-number box imported silently, then Save replaced the good project."""
    from tracker.annotation.project import load_project, save_project
    from tracker.errors import InputError
    from tracker.formats.registry import read_annotations

    project = tmp_path / "p.ktproj"
    save_project(project, _doc([[1, 2, 3, 4], [5, 6, 7, 8]]))
    good = project.read_bytes()
    bad = _research_file(tmp_path / "bad.jsonl", "s", box=(1, 2, 3))
    with pytest.raises(InputError, match=r"bad\.jsonl, line 2"):
        read_annotations(bad)
    assert project.read_bytes() == good and len(load_project(project).document) == 2
