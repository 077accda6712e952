"""Where exports go, and the question before one replaces files.

An export never replaces a file silently: the file thread finds every file the write would replace
(`tracker.formats.registry.files_replaced_by`: side files too, e.g. a LaSOT export into a sequence folder
replaces its groundtruth.txt), and `ask_replace` lists them and asks through `app.dialogs.ask`, on the GUI
thread, before anything is written. The export chooser opens in the folder of the user's last export (QSettings
"export/last_folder"), never inside the footage's data folder.
"""
from __future__ import annotations

from pathlib import Path

from . import dialogs

LAST_FOLDER_KEY = "export/last_folder"
MAX_LISTED = 6


def start_folder(settings) -> str:
    """The last export's folder where it still exists, else the home folder."""
    last = str(settings.value(LAST_FOLDER_KEY, "") or "")
    return last if last and Path(last).is_dir() else str(Path.home())


def remember(settings, chosen: Path) -> None:
    """Remember the folder exported into: the folder chosen, or the folder of the file chosen."""
    chosen = Path(chosen)
    settings.setValue(LAST_FOLDER_KEY, str((chosen if chosen.is_dir() else chosen.parent).resolve()))


def ask_replace(parent, files: list[Path]) -> bool:
    """True when nothing would be replaced, or the user agrees to replace `files`."""
    if not files:
        return True
    listed = "\n".join(f"  {f}" for f in files[:MAX_LISTED])
    more = f"\n  ... and {len(files) - MAX_LISTED} more" if len(files) > MAX_LISTED else ""
    text = (f"{'This file exists' if len(files) == 1 else f'These {len(files)} files exist'} and would be "
            f"replaced:\n{listed}{more}\n\nReplace {'it' if len(files) == 1 else 'them'}?")
    return dialogs.ask(parent, text, ("cancel", "overwrite")) == "overwrite"
