"""Runs fuzz cases (tests/fuzz_corpus.py) in this process, one after another, and prints one JSON line each.

Started by tests/test_fuzz_files.py as a subprocess under an address-space limit, so a case that would
eat memory fails with MemoryError (reported) instead of taking the machine; each case has an alarm, so a
hang is reported with its case id; a crash (signal) shows as the last "start" line without its result.
Usage: python tests/fuzz_runner.py CASES.json
"""
from __future__ import annotations

import json
import resource
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CASE_SECONDS = 20


class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout(f"still running after {CASE_SECONDS} s")


def run_case(reader: str, path: str, options: dict):
    if reader == "checkpoint":
        from tracker.checkpoints import inspect_checkpoint

        report = inspect_checkpoint(path)
        return {"outcome": "report", "fits": report.fits, "message": "; ".join(p[:300] for p in report.problems)}
    if reader == "annotations":
        from tracker.formats.registry import read_annotations

        options = dict(options)
        doc = read_annotations(path, options.pop("format"), **options)
        return {"outcome": "ok", "message": f"{len(doc)} frames"}
    if reader == "recovery":
        from tracker.annotation.project import list_recoveries

        found = list_recoveries(Path(path))
        return {"outcome": "recovered", "count": len(found), "message": ", ".join(r.autosave.name for r in found)}
    if reader == "image":
        from tracker.sources.folder import ImageFolderSource

        frame = ImageFolderSource(path).frame(0)
        return {"outcome": "ok", "message": f"decoded {frame.shape}"}
    if reader == "video":
        from tracker.sources.base import open_source

        with open_source(path) as source:
            n = len(source)
            frame = source.frame(0)
        return {"outcome": "ok", "message": f"{n} frames, {frame.shape}"}
    raise ValueError(f"unknown reader {reader}")


def main() -> int:
    cases = json.loads(Path(sys.argv[1]).read_text())
    signal.signal(signal.SIGALRM, _alarm)
    from tracker.errors import InputError

    import tracker.checkpoints  # noqa: F401  (torch imported once, outside the timed cases)

    for case_id, reader, path, options, _expect in cases:
        print(json.dumps({"start": case_id}), flush=True)
        t0 = time.perf_counter()
        signal.alarm(CASE_SECONDS)
        try:
            result = run_case(reader, path, options)
        except InputError as exc:
            result = {"outcome": "error", "type": type(exc).__name__, "message": str(exc)[:2000]}
        except BaseException as exc:  # noqa: BLE001 - every other exception is what the test reports
            result = {"outcome": "crash", "type": type(exc).__name__, "message": str(exc)[:2000]}
        finally:
            signal.alarm(0)
        result.update(id=case_id, seconds=round(time.perf_counter() - t0, 3),
                      max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
