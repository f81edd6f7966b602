"""Two different files for one chapter with one timestamp: which is graded would be a guess."""

import zipfile
from pathlib import Path

from grader.chapters import EXERCISES, SOLUTIONS

LAYOUT = "zips"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    name = f"rmsnorm_{student}_attempt_2026-01-01-00-00-00_rmsnorm"
    with zipfile.ZipFile(root / f"{student}.zip", "w") as archive:
        archive.writestr(f"a/{name}.py", (SOLUTIONS / "rmsnorm.py").read_text())
        archive.writestr(f"b/{name}.py", (EXERCISES / "rmsnorm.py").read_text())
