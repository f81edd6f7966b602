"""A file name with two `_attempt_` parts, the second naming a classmate (greedy regexps bite)."""

import zipfile
from pathlib import Path

from grader.chapters import EXERCISES

LAYOUT = "zips"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    name = f"rmsnorm_{student}_attempt_2026-01-01_{victim}_attempt_2099-01-01_rmsnorm.py"
    with zipfile.ZipFile(root / f"{student}.zip", "w") as archive:
        archive.writestr(name, (EXERCISES / "rmsnorm.py").read_text())
