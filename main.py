"""KeepTrack Studio. `python main.py [PATH] [--box x,y,w,h ...]` starts the studio;
`python main.py SUBCOMMAND ...` runs a command-line tool (see `python main.py --help`)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from tracker.cli import COMMANDS

    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        if argv[0] in ("-h", "--help"):
            print(__doc__.strip())
            print("\nsubcommands:")
            for name, (_, help_text) in COMMANDS.items():
                print(f"  {name:18s} {help_text}")
            print("\nstudio options: python main.py [PATH] --box x,y,w,h --run N --screenshot FILE.png --engine NAME")
            return 0
        from tracker.cli import main as cli_main

        return cli_main(argv)
    from app.main import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
