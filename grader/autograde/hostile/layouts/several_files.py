"""An old full solution and a newer stub for one chapter: nbgrader's rule grades the latest."""

import os
from pathlib import Path

from grader.chapters import EXERCISES, SOLUTIONS

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / student / "rmsnorm").mkdir(parents=True)
    old = root / student / "rmsnorm" / "rmsnorm.py"
    old.write_text((SOLUTIONS / "rmsnorm.py").read_text())
    os.utime(old, (1_000_000_000, 1_000_000_000))
    (root / student / "rmsnorm.py").write_text((EXERCISES / "rmsnorm.py").read_text())
