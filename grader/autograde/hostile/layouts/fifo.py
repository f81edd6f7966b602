"""A chapter "file" that is a named pipe: opening it for reading would block the run forever."""

import os
from pathlib import Path

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / student).mkdir()
    os.mkfifo(root / student / "rmsnorm.py")
