"""`main.py train-association --stage train` end to end on small made-up dumps."""

from test_training_samples import SEVEN, make_dump
from tracker.cli import main
from tracker.training.model import load_model


def test_train_stage_writes_a_loadable_model(tmp_path, capsys):
    frames = [SEVEN + ("H",)] * 4 + [SEVEN + ("K",)]
    for name in ("alpha", "beta"):
        d = make_dump(frames)
        d.name = name
        d.save(tmp_path / f"{name}.npz")
    out = tmp_path / "model.pt"
    rc = main(["train-association", "--stage", "train", "--work", str(tmp_path), "--out", str(out),
               "--epochs", "2", "--iterations", "2", "--batch", "4", "--descriptor-dim", "32",
               "--val-sequences", "beta", "--val-samples", "8"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "training on alpha; validating on beta" in text and "epoch  2" in text
    model, meta = load_model(out)
    assert model.config.in_dim == 4 and model.config.descriptor_dim == 32
    assert meta["train_sequences"] == ["alpha"] and len(meta["history"]) == 2
    assert meta["command"].startswith("python main.py train-association")


def test_train_stage_errors_are_clear(tmp_path, capsys):
    assert main(["train-association", "--stage", "train", "--work", str(tmp_path), "--out",
                 str(tmp_path / "m.pt")]) == 2
    assert "no candidate dumps" in capsys.readouterr().err
    assert main(["train-association", "--stage", "dump", "--work", str(tmp_path), "--video", "x.avi"]) == 2
    assert "PATH@X,Y,W,H" in capsys.readouterr().err


def test_train_stage_shows_a_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    import sys

    from test_eval_protocol import Terminal

    for name in ("alpha", "beta"):
        d = make_dump([SEVEN + ("H",)] * 4)
        d.name = name
        d.save(tmp_path / f"{name}.npz")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["train-association", "--stage", "train", "--work", str(tmp_path), "--out", str(tmp_path / "m.pt"),
                 "--epochs", "2", "--iterations", "3", "--batch", "4", "--descriptor-dim", "32",
                 "--val-sequences", "beta", "--val-samples", "8"]) == 0
    shown = terminal.getvalue()
    assert "train:" in shown and "/6 [" in shown and "batch/s" in shown  # epochs x batches, with the rate
    assert "epoch  2" in capsys.readouterr().out  # the epoch lines still go to standard output
