"""Command-line entry: subcommands without the GUI. Each lives in its own module, imported on use."""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import InputError

# name -> (module, help). Each module provides add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "track": ("tracker.commands.track", "track one video, folder or sequence from a box; write the boxes"),
    "eval": ("tracker.commands.evaluate", "run engines over sequence folders and print the metrics table"),
    "check-weights": ("tracker.commands.check_weights", "say what checkpoint files are and whether they fit"),
    "convert": ("tracker.commands.convert", "convert annotations between formats"),
    "train-association": ("tracker.commands.train_association", "train the candidate association network"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="main.py", description="KeepTrack Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if argv and argv[0] == name:  # import only the module that runs
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(p)
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].run(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
