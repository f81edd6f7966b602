"""A chapter file that is a hard link to a copy of the solution outside the submissions."""

import os
from pathlib import Path

from grader.chapters import SOLUTIONS

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    outside = root.parent / f"outside-{student}.py"
    outside.write_text((SOLUTIONS / "rmsnorm.py").read_text())
    (root / student).mkdir()
    os.link(outside, root / student / "rmsnorm.py")
